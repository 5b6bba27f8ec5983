"""Assign people to slots: an exact min-cost-flow core, a CP-SAT witness and a greedy baseline.

Objectives, lexicographic:

1. **fill** — as many required slots as possible; then **keep** — as many current holders as
   possible (a holder who is still eligible and within capacity keeps the slot). Keeping sits
   right below filling because the issue asks that a re-run "keeps every assignment that is still
   valid"; on a first run there is nothing to keep and the order is fill → travel → balance.
2. **travel** — the sum of network travel seconds from each holder's base to the slot's place.
3. **balance** — the highest load / capacity ratio (per mille) over every person and pool,
   allowing the travel total to grow by at most ``travel_tolerance`` (default 5 %) over the
   stage-2 optimum; ties are broken by travel again.

Every constraint is a network constraint — a slot takes one person, a person's pool has a
capacity, and one person holds at most one seat of a team (a node of capacity 1 between the
team's slots and that person) — so stages 1–2 are one **min-cost max-flow** (``solve``), exact
and polynomial: keeping costs ``M`` less per seat, ``M`` larger than any component's total
travel. Stage 3 bisects each component's worst ratio: capacities cut to ``⌊r·cap⌋`` stay feasible
while the flow still fills and keeps as much within the travel tolerance; every component is
bisected at once on the same network, so a county or province takes about ten flow solves.
``solve_cpsat`` states the same model for CP-SAT (a second path the tests compare with, and the
fallback for a team whose seats draw on different pools, which a flow cannot say);
``solve_greedy`` is the naive baseline ``bench/bench_assignment.py`` measures against.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

#: Balance is measured in per mille of capacity.
RATIO_SCALE = 1000


@dataclass(frozen=True)
class Problem:
    """A slot-filling problem in numbers.

    Attributes
    ----------
    pair_slot, pair_person, pair_cost
        The eligible (slot, person) pairs and their integer cost (travel seconds).
    capacity
        ``(n_people, n_pools)`` capacities; slot ``s`` consumes one unit of pool
        ``slot_pool[s]`` of its holder (``-1``: consumes nothing).
    slot_team
        Team number per slot (``-1``: none); one person holds at most one slot of a team.
    current
        The current holder per slot (``-1``: none), for stability.
    """

    n_slots: int
    n_people: int
    pair_slot: np.ndarray
    pair_person: np.ndarray
    pair_cost: np.ndarray
    capacity: np.ndarray
    slot_pool: np.ndarray
    slot_team: np.ndarray
    current: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.pair_slot)
        if len(self.pair_person) != n or len(self.pair_cost) != n:
            raise ValueError("pair_slot, pair_person and pair_cost must have equal lengths")
        for name in ("slot_pool", "slot_team", "current"):
            if len(getattr(self, name)) != self.n_slots:
                raise ValueError(f"{name} must have n_slots={self.n_slots} entries")
        if self.capacity.ndim != 2 or self.capacity.shape[0] != self.n_people:
            raise ValueError("capacity must have shape (n_people, n_pools)")
        if n and (self.pair_slot.min() < 0 or self.pair_slot.max() >= self.n_slots):
            raise ValueError("pair_slot out of range")
        if n and (self.pair_person.min() < 0 or self.pair_person.max() >= self.n_people):
            raise ValueError("pair_person out of range")
        if n and self.pair_cost.min() < 0:
            raise ValueError("pair_cost must be non-negative")
        if (self.slot_pool >= self.capacity.shape[1]).any():
            raise ValueError("slot_pool refers to a pool beyond capacity's columns")


@dataclass
class Solution:
    """The assignment and how good it is."""

    person: np.ndarray
    filled: int
    kept: int
    #: travel of the returned assignment (after balancing)
    travel: int
    #: the stage-2 travel minimum found and its proven lower bound
    travel_best: int
    travel_bound: float
    max_load_permille: int
    optimal: bool
    components: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """Relative optimality gap of the travel stage: (best − bound) / best, 0 = proven."""
        if self.travel_best <= 0:
            return 0.0
        return max(0.0, (self.travel_best - self.travel_bound) / self.travel_best)


def from_cost_matrix(
    cost: np.ndarray,
    capacity: np.ndarray,
    *,
    slot_pool: np.ndarray | None = None,
    slot_team: np.ndarray | None = None,
    current: np.ndarray | None = None,
) -> Problem:
    """Build a :class:`Problem` from a dense ``(n_slots, n_people)`` cost matrix.

    ``inf`` or ``nan`` marks an ineligible pair. ``capacity`` is ``(n_people,)`` (one pool) or
    ``(n_people, n_pools)``.

    Examples
    --------
    >>> p = from_cost_matrix(np.array([[1.0, 5.0], [2.0, np.inf]]), np.array([1, 1]))
    >>> solve(p).person.tolist()
    [1, 0]
    """
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError("cost must be a 2-D (n_slots, n_people) matrix")
    n_slots, n_people = cost.shape
    cap = np.asarray(capacity, dtype=np.int64)
    if cap.ndim == 1:
        cap = cap[:, None]
    ok = np.isfinite(cost)
    s, p = np.nonzero(ok)
    return Problem(
        n_slots=n_slots,
        n_people=n_people,
        pair_slot=s,
        pair_person=p,
        pair_cost=np.rint(cost[s, p]).astype(np.int64),
        capacity=cap,
        slot_pool=np.zeros(n_slots, np.int64) if slot_pool is None else np.asarray(slot_pool),
        slot_team=np.full(n_slots, -1) if slot_team is None else np.asarray(slot_team),
        current=np.full(n_slots, -1) if current is None else np.asarray(current),
    )


def components(problem: Problem) -> tuple[int, np.ndarray]:
    """Label each slot with its independent component."""
    n_pools = problem.capacity.shape[1]
    pool = problem.slot_pool[problem.pair_slot]
    consumes = pool >= 0
    rows = [problem.pair_slot[consumes]]
    cols = [problem.n_slots + problem.pair_person[consumes] * n_pools + pool[consumes]]
    team = problem.slot_team
    order = np.argsort(team, kind="stable")
    t = team[order]
    same = (t[1:] == t[:-1]) & (t[1:] >= 0)
    rows.append(order[1:][same])
    cols.append(order[:-1][same])
    n = problem.n_slots + problem.n_people * n_pools
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    slot_labels = labels[: problem.n_slots]
    _, dense = np.unique(slot_labels, return_inverse=True)
    return int(dense.max() + 1) if problem.n_slots else 0, dense


class MixedTeamPools(ValueError):
    """A person may take seats of one team that draw on different pools: not a flow network."""


def solve(problem: Problem, *, travel_tolerance: float = 0.05) -> Solution:
    """Fill, keep, minimise travel, then balance — exactly, as min-cost flows.

    Parameters
    ----------
    problem
        The numeric problem.
    travel_tolerance
        How much each component's travel may grow (fraction) to lower its worst load ratio;
        0 still balances, but only among the assignments of least travel.

    Returns
    -------
    Solution
        ``optimal`` is always true and ``gap`` 0: fill, keep and travel are proven optima of
        the flow, and the bisection finds the least worst ratio exactly. A problem whose teams
        mix pools for one person (see :class:`MixedTeamPools`) is handed to
        :func:`solve_cpsat`.

    Examples
    --------
    >>> p = from_cost_matrix(np.array([[10.0, 11.0]] * 4), np.array([4, 4]))
    >>> sol = solve(p)
    >>> sorted(sol.person.tolist()), sol.travel, sol.max_load_permille
    ([0, 0, 1, 1], 42, 500)
    """
    if travel_tolerance < 0:
        raise ValueError("travel_tolerance must be >= 0")
    t0 = time.perf_counter()
    n_comp, label = components(problem)
    person = np.full(problem.n_slots, -1, dtype=np.int64)
    travel = travel_best = 0
    worst = 0
    rounds = 0
    # Whole components in chunks of about CHUNK_PAIRS pairs: a province is a million slots in
    # tens of thousands of components, and many small networks solve faster than one big one
    # (and each chunk's ratio search stops as soon as its own components are settled).
    pair_label = label[problem.pair_slot]
    order = np.argsort(pair_label, kind="stable")
    per_comp = np.bincount(pair_label, minlength=n_comp)
    chunk = (np.cumsum(per_comp) - per_comp) // CHUNK_PAIRS  # by each component's first pair
    pair_chunk = chunk[pair_label[order]]
    parts = np.split(order, np.flatnonzero(np.diff(pair_chunk)) + 1)
    for part in parts:
        if len(part) == 0:
            continue
        sub, slots, people = _restrict(problem, part)
        try:
            result = _solve_flow(sub, travel_tolerance)
        except MixedTeamPools:
            return solve_cpsat(problem, travel_tolerance=travel_tolerance)
        held = result.person >= 0
        person[slots[held]] = people[result.person[held]]
        travel += result.travel
        travel_best += result.travel_best
        worst = max(worst, result.worst)
        rounds = max(rounds, result.rounds)
    filled = person >= 0
    return Solution(
        person=person,
        filled=int(filled.sum()),
        kept=int(((person == problem.current) & filled).sum()),
        travel=travel,
        travel_best=travel_best,
        travel_bound=float(travel_best),
        max_load_permille=worst,
        optimal=True,
        components=n_comp,
        seconds={
            "solve": time.perf_counter() - t0,
            "flow_solves": float(rounds + 1),
            "chunks": float(len(parts)),
        },
    )


#: Pairs per flow network when a large problem is solved in chunks of whole components.
CHUNK_PAIRS = 4_000


@dataclass
class _FlowResult:
    person: np.ndarray
    travel: int
    travel_best: int
    worst: int
    rounds: int


def _solve_flow(problem: Problem, travel_tolerance: float) -> _FlowResult:
    """Stages 1–2 as one flow, then the bisection of every component's worst ratio."""
    n_comp, label = components(problem)
    net = _FlowNetwork(problem, label, n_comp)
    chosen = net.solve(net.pool_cap)
    filled, kept, travel = net.per_component(chosen)
    limit = np.floor(travel * (1.0 + travel_tolerance) + 1e-9).astype(np.int64)
    hi = net.worst(chosen)
    lo = np.minimum(net.ratio_floor(filled), hi)
    best = chosen.copy()
    rounds = 0
    step = np.zeros(n_comp, dtype=np.int64)
    # Search every component's least feasible worst ratio at once: components are independent,
    # so one solve answers "feasible at r?" for all of them (only those still searching are in
    # the network). Feasible = fills and keeps as many and travels within the tolerance; more
    # capacity never hurts, so feasibility is monotone in r and any probe order converges.
    # Measured on a county, half the components cannot improve at all and most of the rest end
    # within a few per mille of the lower bound: so probe hi − 1 first, then gallop up from lo
    # (lo, lo + 1, lo + 3, …), never past the bisection point.
    while (lo < hi).any():
        searching = lo < hi
        mid = hi - 1 if rounds == 0 else np.minimum(lo + step, (lo + hi) // 2)
        mid = np.where(searching, mid, hi)
        rounds += 1
        trial = net.solve(mid[net.pool_label] * net.pool_cap // RATIO_SCALE, searching)
        f, k, t = net.per_component(trial)
        ok = searching & (f == filled) & (k == kept) & (t <= limit)
        failed = searching & ~ok
        lo = np.where(failed, mid + 1, lo)
        hi = np.where(ok, mid, hi)
        if rounds > 1:
            step = np.where(failed, 2 * step + 1, step)
        take = ok[net.pair_label]
        best[take] = trial[take]
    person = np.full(problem.n_slots, -1, dtype=np.int64)
    person[problem.pair_slot[best]] = problem.pair_person[best]
    return _FlowResult(
        person,
        int(problem.pair_cost[best].sum()),
        int(travel.sum()),
        int(hi.max()) if n_comp else 0,
        rounds,
    )


def _restrict(problem: Problem, pairs: np.ndarray) -> tuple[Problem, np.ndarray, np.ndarray]:
    """The sub-problem of some pairs (whole components), renumbered; and its slots and people."""
    slots, ps = np.unique(problem.pair_slot[pairs], return_inverse=True)
    people, pp = np.unique(problem.pair_person[pairs], return_inverse=True)
    person_pos = np.full(problem.n_people, -1, dtype=np.int64)
    person_pos[people] = np.arange(len(people))
    current = problem.current[slots]
    current = np.where(current >= 0, person_pos[np.maximum(current, 0)], -1)
    _, team = np.unique(problem.slot_team[slots], return_inverse=True)
    team = np.where(problem.slot_team[slots] >= 0, team, -1)
    sub = Problem(
        n_slots=len(slots),
        n_people=len(people),
        pair_slot=ps.astype(np.int64),
        pair_person=pp.astype(np.int64),
        pair_cost=problem.pair_cost[pairs],
        capacity=problem.capacity[people],
        slot_pool=problem.slot_pool[slots],
        slot_team=team.astype(np.int64),
        current=current,
    )
    return sub, slots, people


class _FlowNetwork:
    """source → slot → [team seat of a person] → person's pool → sink, all as numpy arrays.

    Node numbers: 0 source, 1 sink, then slots, pools ``(person, pool)`` and team seats
    ``(team, person)``; a seat node exists only where a person may take two or more seats of a
    team, elsewhere "at most one seat per team" holds by itself.
    """

    def __init__(self, problem: Problem, label: np.ndarray, n_comp: int) -> None:
        self.problem = problem
        self.n_comp = n_comp
        ps, pp = problem.pair_slot, problem.pair_person
        cost = problem.pair_cost.astype(np.int64)
        n_slots = problem.n_slots
        n_pools = problem.capacity.shape[1]
        pool = problem.slot_pool[ps]
        team = problem.slot_team[ps]
        self.pair_label = label[ps] if len(ps) else np.zeros(0, np.int64)

        # Pools: one node per (person, pool) some pair consumes.
        consumes = pool >= 0
        pool_key, pair_pool = np.unique(
            pp[consumes] * n_pools + pool[consumes], return_inverse=True
        )
        self.pair_pool = np.full(len(ps), -1, dtype=np.int64)
        self.pair_pool[consumes] = pair_pool
        n_pool = len(pool_key)
        self.pool_cap = problem.capacity.reshape(-1)[pool_key].astype(np.int64)
        self.pool_label = np.zeros(n_pool, dtype=np.int64)
        self.pool_label[pair_pool] = self.pair_label[consumes]
        first_pool = 2 + n_slots
        target = np.where(consumes, first_pool + self.pair_pool, 1)  # pool node, or the sink

        # Team seats where a person could otherwise take two seats of one team.
        in_team = team >= 0
        seat_key, seat_of, seat_n = np.unique(
            team[in_team] * problem.n_people + pp[in_team], return_inverse=True, return_counts=True
        )
        shared = np.zeros(len(ps), dtype=bool)
        shared[in_team] = seat_n[seat_of] >= 2
        seat_ids, seat_dense = np.unique(seat_of[seat_n[seat_of] >= 2], return_inverse=True)
        n_seat = len(seat_ids)
        seat_target = np.full(n_seat, -1, dtype=np.int64)
        np.maximum.at(seat_target, seat_dense, target[shared])
        lowest = np.full(n_seat, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(lowest, seat_dense, target[shared])
        if (lowest != seat_target).any():
            raise MixedTeamPools("one person's seats in a team draw on different pools")
        first_seat = first_pool + n_pool
        head = target.copy()
        head[shared] = first_seat + seat_dense

        # Keeping a seat is worth more than any component's whole travel: M per component.
        slot_max = np.zeros(n_slots, dtype=np.int64)
        np.maximum.at(slot_max, ps, cost)
        slot_label = np.zeros(n_slots, dtype=np.int64)
        slot_label[ps] = self.pair_label
        has_pairs = np.zeros(n_slots, dtype=bool)
        has_pairs[ps] = True
        big = (
            np.bincount(
                slot_label[has_pairs], weights=slot_max[has_pairs], minlength=n_comp
            ).astype(np.int64)
            + 1
        )
        has_current = (
            np.bincount(self.pair_label, weights=problem.current[ps] >= 0, minlength=n_comp) > 0
        )
        big = np.where(has_current, big, 0)
        self.keep = pp == problem.current[ps]
        arc_cost = cost + big[self.pair_label] * (~self.keep)

        slots_used = np.flatnonzero(has_pairs)
        tails = [
            np.zeros(len(slots_used), np.int64),
            2 + ps,
            first_seat + np.arange(n_seat),
            first_pool + np.arange(n_pool),
        ]
        heads = [2 + slots_used, head, seat_target, np.ones(n_pool, np.int64)]
        caps = [
            np.ones(len(slots_used), np.int64),
            np.ones(len(ps), np.int64),
            np.ones(n_seat, np.int64),
            self.pool_cap,
        ]
        costs = [
            np.zeros(len(slots_used), np.int64),
            arc_cost,
            np.zeros(n_seat, np.int64),
            np.zeros(n_pool, np.int64),
        ]
        labels = [
            slot_label[slots_used],
            self.pair_label,
            np.zeros(n_seat, np.int64),
            self.pool_label,
        ]
        seat_label = np.zeros(n_seat, dtype=np.int64)
        seat_label[seat_dense] = self.pair_label[shared]
        labels[2] = seat_label
        self.arc_label = np.concatenate(labels)
        # Most a component can fill without drawing on a pool: its pool-free slots.
        free = has_pairs & (problem.slot_pool < 0)
        self.free_slots = np.bincount(slot_label[free], minlength=n_comp)
        self.cap_total = np.bincount(
            self.pool_label, weights=self.pool_cap, minlength=n_comp
        ).astype(np.int64)
        self.tails = np.concatenate(tails)
        self.heads = np.concatenate(heads)
        self.caps = np.concatenate(caps)
        self.costs = np.concatenate(costs)
        self.supply = len(slots_used)
        self.n_nodes = first_seat + n_seat
        self.pair_arcs = len(slots_used) + np.arange(len(ps))
        self.pool_arcs = len(self.tails) - n_pool + np.arange(n_pool)
        self.cost = cost

    def solve(self, pool_caps: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Min-cost max-flow with these pool capacities: which pairs are chosen.

        ``active`` (a flag per component) leaves the other components out of the network;
        their pairs come back unchosen.
        """
        caps = self.caps.copy()
        caps[self.pool_arcs] = pool_caps
        keep = np.ones(len(caps), dtype=bool) if active is None else active[self.arc_label]
        supply = int(((self.tails == 0) & keep).sum())
        chosen = np.zeros(len(self.pair_arcs), dtype=bool)
        if supply == 0:
            return chosen
        arcs = np.flatnonzero(keep)
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(
            self.tails[arcs], self.heads[arcs], caps[arcs], self.costs[arcs]
        )
        flow.set_node_supply(0, supply)
        flow.set_node_supply(1, -supply)
        status = flow.solve_max_flow_with_min_cost()
        if status != flow.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        # new arc numbers are positions in ``arcs``; pair arcs are one contiguous range
        pair_keep = keep[self.pair_arcs]
        first = np.searchsorted(arcs, self.pair_arcs[pair_keep])
        chosen[pair_keep] = np.asarray(flow.flows(first)) > 0
        return chosen

    def ratio_floor(self, filled: np.ndarray) -> np.ndarray:
        """A lower bound on each component's worst ratio when it fills ``filled`` slots.

        Every filled slot beyond the pool-free ones uses a unit of some pool, and at ratio r no
        more than r·Σcap units exist, so r ≥ (filled − free) / Σcap.
        """
        need = np.maximum(filled - self.free_slots, 0) * RATIO_SCALE
        with np.errstate(divide="ignore", invalid="ignore"):
            floor = np.where(self.cap_total > 0, -(-need // np.maximum(self.cap_total, 1)), 0)
        return floor.astype(np.int64)

    def per_component(self, chosen: np.ndarray) -> tuple[np.ndarray, ...]:
        """Filled, kept and travel of an assignment, per component."""
        lab = self.pair_label[chosen]
        return (
            np.bincount(lab, minlength=self.n_comp),
            np.bincount(lab, weights=self.keep[chosen], minlength=self.n_comp).astype(int),
            np.bincount(lab, weights=self.cost[chosen], minlength=self.n_comp).astype(np.int64),
        )

    def worst(self, chosen: np.ndarray) -> np.ndarray:
        """The highest load / capacity per mille (rounded up), per component."""
        use = chosen & (self.pair_pool >= 0)
        load = np.bincount(self.pair_pool[use], minlength=len(self.pool_cap))
        has = self.pool_cap > 0
        ratio = np.zeros(len(self.pool_cap), dtype=np.int64)
        ratio[has] = -(-RATIO_SCALE * load[has] // self.pool_cap[has])
        out = np.zeros(self.n_comp, dtype=np.int64)
        np.maximum.at(out, self.pool_label, ratio)
        return out


def solve_cpsat(
    problem: Problem,
    *,
    travel_tolerance: float = 0.05,
    time_limit_s: float = 10.0,
    workers: int = 8,
    gap_limit: float = 0.0,
) -> Solution:
    """Fill, keep, minimise travel, then balance with CP-SAT, one component at a time.

    The same objectives as :func:`solve`, stated as a CP-SAT model; stages stopped by the time
    limit report their gap.

    Parameters
    ----------
    problem
        The numeric problem.
    travel_tolerance
        How much the travel total may grow (fraction) to improve the balance; 0 disables
        trading travel for balance (balance then only breaks exact ties).
    time_limit_s
        Per stage and component; a stage stopped by the limit reports its gap.
    workers
        CP-SAT search workers.
    gap_limit
        Stop the travel stage once proven within this relative gap (0 = prove optimality).
    """
    if travel_tolerance < 0:
        raise ValueError("travel_tolerance must be >= 0")
    t0 = time.perf_counter()
    n_comp, label = components(problem)
    person = np.full(problem.n_slots, -1, dtype=np.int64)
    travel = 0
    travel_best = 0
    bound = 0.0
    worst = 0
    optimal = True
    pair_label = label[problem.pair_slot] if problem.n_slots else label
    order = np.argsort(pair_label, kind="stable")
    starts = np.searchsorted(pair_label[order], np.arange(n_comp + 1))
    t_split = time.perf_counter() - t0
    for k in range(n_comp):
        idx = order[starts[k] : starts[k + 1]]
        if len(idx) == 0:
            continue
        res = _solve_component(problem, idx, travel_tolerance, time_limit_s, workers, gap_limit)
        chosen = idx[res.chosen]
        person[problem.pair_slot[chosen]] = problem.pair_person[chosen]
        travel += res.travel
        travel_best += res.best
        bound += res.bound
        worst = max(worst, res.worst)
        optimal &= res.optimal
    filled = int((person >= 0).sum())
    kept = int(((person == problem.current) & (person >= 0)).sum())
    return Solution(
        person=person,
        filled=filled,
        kept=kept,
        travel=travel,
        travel_best=travel_best,
        travel_bound=bound,
        max_load_permille=worst,
        optimal=optimal,
        components=n_comp,
        seconds={"split": t_split, "solve": time.perf_counter() - t0 - t_split},
    )


@dataclass
class _Result:
    chosen: np.ndarray
    travel: int
    best: int
    bound: float
    worst: int
    optimal: bool


def _solve_component(
    problem: Problem,
    idx: np.ndarray,
    tolerance: float,
    limit: float,
    workers: int,
    gap_limit: float = 0.0,
) -> _Result:
    slots = problem.pair_slot[idx]
    people = problem.pair_person[idx]
    costs = problem.pair_cost[idx].astype(np.int64)
    pools = problem.slot_pool[slots]
    n = len(idx)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(n)]
    frame = pd.DataFrame(
        {
            "i": np.arange(n),
            "slot": slots,
            "person": people,
            "pool": pools,
            "team": problem.slot_team[slots],
        }
    )
    for members in frame.groupby("slot")["i"].indices.values():
        if len(members) > 1:
            model.add_at_most_one(x[j] for j in frame["i"].to_numpy()[members])
    loads: list[tuple[cp_model.LinearExpr, int]] = []
    used = frame[frame["pool"] >= 0]
    for (p, pool), rows in used.groupby(["person", "pool"])["i"]:
        cap = int(problem.capacity[p, pool])
        load = sum(x[j] for j in rows)
        if len(rows) > cap:
            model.add(load <= cap)
        loads.append((load, cap))
    teams = frame[frame["team"] >= 0]
    for _, rows in teams.groupby(["team", "person"])["i"]:
        if len(rows) > 1:
            model.add_at_most_one(x[j] for j in rows)
    keep = problem.current[slots] == people
    n_keep = int(keep.sum())
    fill_keep = sum(x) * (n_keep + 1) + sum(x[j] for j in np.nonzero(keep)[0])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = workers
    # Stage 1: fill, then keep.
    model.maximize(fill_keep)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"CP-SAT found no assignment (status {solver.status_name(status)})")
    optimal = status == cp_model.OPTIMAL
    stage1 = np.array([solver.boolean_value(v) for v in x])
    model.add(fill_keep >= int(round(solver.objective_value)))
    _hint(model, x, stage1)
    # Stage 2: travel.
    travel = cp_model.LinearExpr.weighted_sum(x, [int(c) for c in costs])
    model.minimize(travel)
    solver.parameters.relative_gap_limit = gap_limit
    status = solver.solve(model)
    solver.parameters.relative_gap_limit = 0.0
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        best = int(round(solver.objective_value))
        values = np.array([solver.boolean_value(v) for v in x])
        # integer costs: the bound rounds up to the next integer
        bound = float(math.ceil(solver.best_objective_bound - 1e-6))
    else:  # out of time before improving on stage 1: keep its assignment, bound unknown
        values = stage1
        best = int(costs[stage1.astype(bool)].sum())
        bound = 0.0
    optimal &= bound >= best
    stage2_worst = _worst(problem, used, values)
    # Stage 3: the lowest worst load ratio within the travel tolerance, then travel again.
    if loads:
        _hint(model, x, values)
        model.add(travel <= int(math.floor(best * (1.0 + tolerance))))
        worst = model.new_int_var(0, RATIO_SCALE, "worst")
        for load, cap in loads:
            model.add(RATIO_SCALE * load <= worst * cap)
        model.minimize(worst)
        status = solver.solve(model)
        improves = status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (
            int(round(solver.objective_value)) < stage2_worst
        )
        if improves:
            _hint(model, x, np.array([solver.boolean_value(v) for v in x]))
            best_worst = int(round(solver.objective_value))
            # Stated per person (not through ``worst``): a far tighter LP for the last stage.
            for load, cap in loads:
                model.add(load <= best_worst * cap // RATIO_SCALE)
            model.minimize(travel)
            status = solver.solve(model)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                values = np.array([solver.boolean_value(v) for v in x])
    chosen = np.nonzero(values)[0]
    used_travel = int(costs[chosen].sum())
    return _Result(
        chosen, used_travel, best, min(bound, best), _worst(problem, used, values), optimal
    )


def _worst(problem: Problem, used: pd.DataFrame, values: np.ndarray) -> int:
    """The highest load / capacity (per mille, rounded up) of an assignment."""
    worst = 0
    for (p, pool), rows in used.groupby(["person", "pool"])["i"]:
        cap = int(problem.capacity[p, pool])
        if cap > 0:
            load = int(values[rows.to_numpy()].sum())
            worst = max(worst, -(-RATIO_SCALE * load // cap))
    return worst


def _hint(model: cp_model.CpModel, x: list[cp_model.IntVar], values: np.ndarray) -> None:
    model.clear_hints()  # type: ignore[no-untyped-call]  # missing from ortools' stubs
    for v, value in zip(x, values.tolist(), strict=True):
        model.add_hint(v, bool(value))


def solve_greedy(problem: Problem) -> Solution:
    """The naive baseline: slots in order, each to its cheapest eligible person with room left."""
    t0 = time.perf_counter()
    order = np.lexsort((problem.pair_cost, problem.pair_slot))
    remaining = problem.capacity.astype(np.int64).copy()
    person = np.full(problem.n_slots, -1, dtype=np.int64)
    in_team: set[tuple[int, int]] = set()
    travel = 0
    ps, pp, pc = problem.pair_slot[order], problem.pair_person[order], problem.pair_cost[order]
    for s, p, c in zip(ps.tolist(), pp.tolist(), pc.tolist(), strict=True):
        if person[s] >= 0:
            continue
        pool = int(problem.slot_pool[s])
        team = int(problem.slot_team[s])
        if pool >= 0 and remaining[p, pool] <= 0:
            continue
        if team >= 0 and (team, p) in in_team:
            continue
        person[s] = p
        travel += c
        if pool >= 0:
            remaining[p, pool] -= 1
        if team >= 0:
            in_team.add((team, p))
    used = problem.capacity - remaining
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(
            problem.capacity > 0, -(-RATIO_SCALE * used // np.maximum(problem.capacity, 1)), 0
        )
    return Solution(
        person=person,
        filled=int((person >= 0).sum()),
        kept=int(((person == problem.current) & (person >= 0)).sum()),
        travel=int(travel),
        travel_best=int(travel),
        travel_bound=float("nan"),
        max_load_permille=int(ratio.max()) if ratio.size else 0,
        optimal=False,
        components=0,
        seconds={"solve": time.perf_counter() - t0},
    )


# --- DataFrame adapter ------------------------------------------------------------------------


def from_frames(
    slots: pd.DataFrame,
    staff: pd.DataFrame,
    pairs: pd.DataFrame,
    current: pd.DataFrame | None = None,
) -> Problem:
    """Build a :class:`Problem` from the rule tables (``gis.analysis.assignment_rules``).

    Parameters
    ----------
    slots
        ``required_slots`` output (columns ``team``, ``pool``), indexed by slot label.
    staff
        Columns ``id``, ``capacity_units``, ``capacity_teams``; row order = person index.
    pairs
        Columns ``slot``, ``staff_id``, ``cost`` (integer seconds).
    current
        Columns ``slot``, ``staff_id``: the holder of each slot before this run.
    """
    for col in ("slot", "staff_id", "cost"):
        if col not in pairs.columns:
            raise ValueError(f"pairs lacks column {col!r}")
    slot_pos = pd.Series(np.arange(len(slots)), index=slots.index)
    person_pos = pd.Series(np.arange(len(staff)), index=staff["id"].to_numpy())
    unknown = ~pairs["staff_id"].isin(person_pos.index)
    if unknown.any():
        raise ValueError(f"pairs name staff ids not in staff: {pairs.loc[unknown, 'staff_id'][:5]}")
    team_codes, _ = pd.factorize(slots["team"].where(slots["team"] != "", None))
    cur = np.full(len(slots), -1, dtype=np.int64)
    if current is not None and len(current):
        known = current[current["staff_id"].isin(person_pos.index)]
        cur[slot_pos[known["slot"]].to_numpy()] = person_pos[known["staff_id"]].to_numpy()
    capacity = staff[["capacity_units", "capacity_teams"]].fillna(0).to_numpy(np.int64)
    return Problem(
        n_slots=len(slots),
        n_people=len(staff),
        pair_slot=slot_pos[pairs["slot"]].to_numpy(np.int64),
        pair_person=person_pos[pairs["staff_id"]].to_numpy(np.int64),
        pair_cost=pairs["cost"].to_numpy(np.int64),
        capacity=capacity,
        slot_pool=slots["pool"].to_numpy(np.int64),
        slot_team=np.asarray(team_codes, np.int64),
        current=cur,
    )


def to_frame(slots: pd.DataFrame, staff: pd.DataFrame, solution: Solution) -> pd.DataFrame:
    """``slots`` with the chosen ``staff_id`` (``<NA>`` where unfilled)."""
    ids = staff["id"].to_numpy()
    holder = pd.array(
        np.where(solution.person >= 0, ids[np.maximum(solution.person, 0)], 0), dtype="Int64"
    )
    holder[solution.person < 0] = pd.NA
    return slots.assign(staff_id=holder)

"""Assign people to slots: a pure numeric CP-SAT core plus a thin DataFrame adapter.

Objectives, lexicographic, each stage solved with the previous ones fixed:

1. **fill** — as many required slots as possible; then **keep** — as many current holders as
   possible (a holder who is still eligible and within capacity keeps the slot). Keeping sits
   right below filling because the issue asks that a re-run "keeps every assignment that is still
   valid"; on a first run there is nothing to keep and the order is fill → travel → balance.
2. **travel** — the sum of network travel seconds from each holder's base to the slot's place.
3. **balance** — the highest load / capacity ratio (per mille) over every person and pool,
   allowing the travel total to grow by at most ``travel_tolerance`` (default 5 %) over the
   stage-2 optimum; ties are broken by travel again.

The problem splits into independent components (slots linked through shared people's capacity
pools or through a team); each is solved on its own, which keeps a county's 50k units fast.
The reported gap is (travel − best bound) / travel, summed over components.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
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


def from_cost_matrix(cost: np.ndarray, capacity: np.ndarray, *, slot_pool: np.ndarray | None = None,
                     slot_team: np.ndarray | None = None,
                     current: np.ndarray | None = None) -> Problem:
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
        n_slots=n_slots, n_people=n_people, pair_slot=s, pair_person=p,
        pair_cost=np.rint(cost[s, p]).astype(np.int64), capacity=cap,
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


def solve(problem: Problem, *, travel_tolerance: float = 0.05, time_limit_s: float = 10.0,
          workers: int = 8, gap_limit: float = 0.0) -> Solution:
    """Fill, keep, minimise travel, then balance — see the module docstring.

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
        idx = order[starts[k]:starts[k + 1]]
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
        person=person, filled=filled, kept=kept, travel=travel, travel_best=travel_best,
        travel_bound=bound,
        max_load_permille=worst, optimal=optimal, components=n_comp,
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


def _solve_component(problem: Problem, idx: np.ndarray, tolerance: float, limit: float,
                     workers: int, gap_limit: float = 0.0) -> _Result:
    slots = problem.pair_slot[idx]
    people = problem.pair_person[idx]
    costs = problem.pair_cost[idx].astype(np.int64)
    pools = problem.slot_pool[slots]
    n = len(idx)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(n)]
    frame = pd.DataFrame({"i": np.arange(n), "slot": slots, "person": people, "pool": pools,
                          "team": problem.slot_team[slots]})
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
            int(round(solver.objective_value)) < stage2_worst)
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
    return _Result(chosen, used_travel, best, min(bound, best), _worst(problem, used, values),
                   optimal)


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
    model.clear_hints()
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
        ratio = np.where(problem.capacity > 0, -(-RATIO_SCALE * used // np.maximum(
            problem.capacity, 1)), 0)
    return Solution(
        person=person, filled=int((person >= 0).sum()),
        kept=int(((person == problem.current) & (person >= 0)).sum()), travel=int(travel),
        travel_best=int(travel), travel_bound=float("nan"),
        max_load_permille=int(ratio.max()) if ratio.size else 0,
        optimal=False, components=0, seconds={"solve": time.perf_counter() - t0},
    )


# --- DataFrame adapter ------------------------------------------------------------------------


def from_frames(slots: pd.DataFrame, staff: pd.DataFrame, pairs: pd.DataFrame,
                current: pd.DataFrame | None = None) -> Problem:
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
        n_slots=len(slots), n_people=len(staff),
        pair_slot=slot_pos[pairs["slot"]].to_numpy(np.int64),
        pair_person=person_pos[pairs["staff_id"]].to_numpy(np.int64),
        pair_cost=pairs["cost"].to_numpy(np.int64), capacity=capacity,
        slot_pool=slots["pool"].to_numpy(np.int64), slot_team=np.asarray(team_codes, np.int64),
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

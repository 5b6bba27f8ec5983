"""The assignment core: both solvers against brute force and each other, the adapter, greedy."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from gis.analysis.assignment import (
    RATIO_SCALE,
    MixedTeamPools,
    Problem,
    Solution,
    _FlowNetwork,  # the flow's own refusal is tested too
    components,
    from_cost_matrix,
    from_frames,
    solve,
    solve_cpsat,
    solve_greedy,
    to_frame,
)

INF = np.inf
Solver = Callable[..., Solution]
SOLVERS: dict[str, Solver] = {"flow": solve, "cpsat": solve_cpsat}


@pytest.fixture(params=sorted(SOLVERS))
def any_solve(request: pytest.FixtureRequest) -> Solver:
    """Each exact solver in turn: both must meet every expectation."""
    return SOLVERS[request.param]


def brute_force(problem: Problem) -> tuple[int, int, int]:
    """Best (filled, kept, −travel) by enumerating every assignment of slots to people or none."""
    options: list[list[tuple[int, int]]] = [[(-1, 0)] for _ in range(problem.n_slots)]
    for s, p, c in zip(problem.pair_slot, problem.pair_person, problem.pair_cost, strict=True):
        options[int(s)].append((int(p), int(c)))
    best: tuple[int, int, int] | None = None
    for combo in itertools.product(*options):
        load = np.zeros_like(problem.capacity)
        seen: set[tuple[int, int]] = set()
        ok = True
        for s, (p, _) in enumerate(combo):
            if p < 0:
                continue
            pool = problem.slot_pool[s]
            if pool >= 0:
                load[p, pool] += 1
                if load[p, pool] > problem.capacity[p, pool]:
                    ok = False
                    break
            team = problem.slot_team[s]
            if team >= 0:
                if (team, p) in seen:
                    ok = False
                    break
                seen.add((team, p))
        if not ok:
            continue
        filled = sum(p >= 0 for p, _ in combo)
        kept = sum(p >= 0 and p == problem.current[s] for s, (p, _) in enumerate(combo))
        travel = sum(c for _, c in combo)
        key = (filled, kept, -travel)
        if best is None or key > best:
            best = key
    assert best is not None
    return best


def test_two_by_two_picks_the_only_full_assignment(any_solve: Solver) -> None:
    p = from_cost_matrix(np.array([[1.0, 5.0], [2.0, INF]]), np.array([1, 1]))
    sol = any_solve(p)
    assert sol.person.tolist() == [1, 0]
    assert (sol.filled, sol.travel, sol.gap) == (2, 7, 0.0)
    assert sol.optimal


@pytest.mark.parametrize("seed", range(25))
def test_random_six_by_six_matches_brute_force(seed: int, any_solve: Solver) -> None:
    rng = np.random.default_rng(seed)
    n_slots, n_people = int(rng.integers(3, 7)), int(rng.integers(2, 7))
    cost = rng.integers(1, 100, size=(n_slots, n_people)).astype(float)
    cost[rng.random(cost.shape) < 0.35] = INF
    capacity = rng.integers(0, 3, size=n_people)
    team = rng.integers(-1, 2, size=n_slots)
    current = np.where(rng.random(n_slots) < 0.4, rng.integers(0, n_people, n_slots), -1)
    p = from_cost_matrix(cost, capacity, slot_team=team, current=current)
    sol = any_solve(p, travel_tolerance=0.0)
    filled, kept, neg_travel = brute_force(p)
    assert (sol.filled, sol.kept, sol.travel) == (filled, kept, -neg_travel)
    assert sol.gap == 0.0 and sol.optimal


def test_keeping_the_current_holder_beats_a_shorter_trip(any_solve: Solver) -> None:
    cost = np.array([[100.0, 1.0]])
    p = from_cost_matrix(cost, np.array([1, 1]), current=np.array([0]))
    assert any_solve(p).person.tolist() == [0]
    fresh = from_cost_matrix(cost, np.array([1, 1]))
    assert any_solve(fresh).person.tolist() == [1]


def test_filling_beats_keeping(any_solve: Solver) -> None:
    # Person 0 holds slot 0 but is the only one who can take slot 1; person 1 can take slot 0.
    cost = np.array([[1.0, 1.0], [1.0, INF]])
    p = from_cost_matrix(cost, np.array([1, 1]), current=np.array([0, -1]))
    sol = any_solve(p)
    assert sol.person.tolist() == [1, 0] and sol.filled == 2 and sol.kept == 0


def test_nobody_twice_in_one_team(any_solve: Solver) -> None:
    cost = np.array([[1.0, 9.0], [1.0, 9.0]])
    p = from_cost_matrix(cost, np.array([5, 5]), slot_team=np.array([0, 0]))
    sol = any_solve(p)
    assert sorted(sol.person.tolist()) == [0, 1] and sol.travel == 10


def test_balance_trades_travel_within_tolerance(any_solve: Solver) -> None:
    # Four slots, two people; person 0 is slightly closer to all of them.
    cost = np.array([[10.0, 11.0]] * 4)
    p = from_cost_matrix(cost, np.array([4, 4]))
    assert any_solve(p, travel_tolerance=0.0).person.tolist() == [0, 0, 0, 0]
    balanced = any_solve(p, travel_tolerance=0.05)
    assert sorted(balanced.person.tolist()) == [0, 0, 1, 1]
    assert balanced.max_load_permille == RATIO_SCALE // 2
    assert balanced.travel == 42


def test_capacity_limits_and_unfillable_slots(any_solve: Solver) -> None:
    cost = np.array([[1.0, INF], [2.0, INF], [INF, INF]])
    sol = any_solve(from_cost_matrix(cost, np.array([1, 3])))
    assert sol.filled == 1 and sol.person.tolist() == [0, -1, -1]


def test_components_split_by_pool_and_team() -> None:
    # Slots 0,1 share person 0's pool; slot 2 is alone; slots 3,4 are one team with no overlap.
    cost = np.array([[1, INF, INF], [1, INF, INF], [INF, 1, INF], [INF, INF, 1], [INF, 1, INF]])
    p = from_cost_matrix(
        cost,
        np.array([[2, 2], [2, 2], [2, 2]]),
        slot_pool=np.array([0, 0, 0, 1, 1]),
        slot_team=np.array([-1, -1, -1, 7, 7]),
    )
    n, label = components(p)
    assert n == 3
    assert label[0] == label[1] and label[3] == label[4] and label[2] != label[0]


def test_greedy_is_feasible_and_no_better_than_optimal(any_solve: Solver) -> None:
    rng = np.random.default_rng(3)
    cost = rng.integers(1, 100, size=(40, 8)).astype(float)
    cost[rng.random(cost.shape) < 0.5] = INF
    p = from_cost_matrix(cost, rng.integers(1, 6, size=8), slot_team=np.repeat(np.arange(8), 5))
    greedy, best = solve_greedy(p), any_solve(p, travel_tolerance=0.0)
    assert greedy.filled <= best.filled
    if greedy.filled == best.filled:
        assert greedy.travel >= best.travel
    load = np.bincount(greedy.person[greedy.person >= 0], minlength=8)
    assert (load <= p.capacity[:, 0]).all()


def test_problem_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="capacity"):
        from_cost_matrix(np.ones((2, 2)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="2-D"):
        from_cost_matrix(np.ones(3), np.ones(3))


def test_frames_round_trip() -> None:
    slots = pd.DataFrame({"team": ["", "unit:1", "unit:1"], "pool": [0, 1, 1]}, index=[10, 11, 12])
    staff = pd.DataFrame({"id": [101, 102], "capacity_units": [1, 0], "capacity_teams": [1, 1]})
    pairs = pd.DataFrame(
        {"slot": [10, 11, 11, 12], "staff_id": [101, 101, 102, 101], "cost": [5, 1, 3, 2]}
    )
    current = pd.DataFrame({"slot": [12], "staff_id": [101]})
    problem = from_frames(slots, staff, pairs, current)
    assert problem.current.tolist() == [-1, -1, 0]
    out = to_frame(slots, staff, solve(problem))
    # 101 keeps slot 12 (its only team seat), so 102 takes slot 11; 101 also inspects slot 10.
    assert out["staff_id"].tolist() == [101, 102, 101]


@pytest.mark.parametrize("seed", range(12))
def test_flow_and_cpsat_agree_on_teams_pools_and_balance(seed: int) -> None:
    # Two independent paths to the same optimum: pools of units and of teams, teams of five
    # drawing on overlapping people, current holders to keep, and the balance stage.
    rng = np.random.default_rng(100 + seed)
    n_teams, n_people = 6, 9
    n_slots = 20 + 5 * n_teams
    cost = rng.integers(1, 300, size=(n_slots, n_people)).astype(float)
    cost[rng.random(cost.shape) < 0.45] = INF
    pool = np.r_[np.zeros(20, np.int64), np.ones(5 * n_teams, np.int64)]
    team = np.r_[np.full(20, -1), np.repeat(np.arange(n_teams), 5)]
    capacity = rng.integers(0, 5, size=(n_people, 2))
    current = np.where(rng.random(n_slots) < 0.3, rng.integers(0, n_people, n_slots), -1)
    p = from_cost_matrix(cost, capacity, slot_pool=pool, slot_team=team, current=current)
    flow, cpsat = solve(p), solve_cpsat(p, workers=2)
    assert cpsat.optimal
    assert (flow.filled, flow.kept, flow.travel_best) == (
        cpsat.filled,
        cpsat.kept,
        cpsat.travel_best,
    )
    assert flow.max_load_permille == cpsat.max_load_permille
    assert flow.travel == cpsat.travel
    assert flow.travel <= int(flow.travel_best * 1.05)
    _assert_feasible(p, flow)


def _assert_feasible(p: Problem, sol: Solution) -> None:
    held = np.flatnonzero(sol.person >= 0)
    eligible = set(zip(p.pair_slot.tolist(), p.pair_person.tolist(), strict=True))
    assert all((int(s), int(sol.person[s])) in eligible for s in held)
    load = np.zeros_like(p.capacity)
    for s in held:
        if p.slot_pool[s] >= 0:
            load[sol.person[s], p.slot_pool[s]] += 1
    assert (load <= p.capacity).all()
    seats = [(int(p.slot_team[s]), int(sol.person[s])) for s in held if p.slot_team[s] >= 0]
    assert len(seats) == len(set(seats))


def test_flow_hands_a_team_mixing_pools_to_cpsat() -> None:
    # Person 0 may take both seats of team 0, one drawing on units and one on teams: a person's
    # team seat would need two pools, which a flow cannot say, so solve falls back to CP-SAT.
    cost = np.array([[1.0, 5.0], [1.0, 5.0]])
    p = from_cost_matrix(
        cost, np.array([[1, 1], [1, 1]]), slot_pool=np.array([0, 1]), slot_team=np.array([0, 0])
    )
    with pytest.raises(MixedTeamPools):
        _FlowNetwork(p, *components(p)[::-1])
    sol = solve(p)
    assert sorted(sol.person.tolist()) == [0, 1] and sol.travel == 6


def test_flow_solves_a_thousand_components_in_one_network() -> None:
    # 1 000 identical two-person components: each must balance on its own (2 + 2), as one would.
    cost = np.array([[10.0, 11.0]] * 4)
    one = from_cost_matrix(cost, np.array([4, 4]))
    k = 1000
    p = Problem(
        n_slots=4 * k,
        n_people=2 * k,
        pair_slot=np.concatenate([one.pair_slot + 4 * i for i in range(k)]),
        pair_person=np.concatenate([one.pair_person + 2 * i for i in range(k)]),
        pair_cost=np.tile(one.pair_cost, k),
        capacity=np.tile(one.capacity, (k, 1)),
        slot_pool=np.zeros(4 * k, np.int64),
        slot_team=np.full(4 * k, -1),
        current=np.full(4 * k, -1),
    )
    sol = solve(p)
    assert sol.components == k and sol.filled == 4 * k
    assert sol.travel == 42 * k and sol.max_load_permille == RATIO_SCALE // 2
    assert (np.bincount(sol.person, minlength=2 * k) == 2).all()


@pytest.mark.parametrize("seed", range(6))
def test_chunks_of_components_solve_like_one_network(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(200 + seed)
    n_slots, n_people = 120, 40
    cost = rng.integers(1, 300, size=(n_slots, n_people)).astype(float)
    # block structure: 8 independent groups, like towns × departments
    group_s, group_p = np.arange(n_slots) % 8, np.arange(n_people) % 8
    cost[group_s[:, None] != group_p[None, :]] = INF
    cost[rng.random(cost.shape) < 0.3] = INF
    team = np.where(np.arange(n_slots) >= 80, (np.arange(n_slots) - 80) // 5, -1)
    p = from_cost_matrix(
        cost,
        rng.integers(0, 4, size=(n_people, 2)),
        slot_pool=(team >= 0).astype(np.int64),
        slot_team=team,
        current=np.where(rng.random(n_slots) < 0.3, rng.integers(0, n_people, n_slots), -1),
    )
    whole = solve(p)
    monkeypatch.setattr("gis.analysis.assignment.CHUNK_PAIRS", 37)
    chunked = solve(p)
    assert chunked.seconds["chunks"] > 1
    assert (
        chunked.filled,
        chunked.kept,
        chunked.travel,
        chunked.travel_best,
        chunked.max_load_permille,
    ) == (whole.filled, whole.kept, whole.travel, whole.travel_best, whole.max_load_permille)
    _assert_feasible(p, chunked)

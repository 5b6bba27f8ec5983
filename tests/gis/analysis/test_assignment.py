"""The assignment core against brute force on tiny cases, the adapter, and the greedy baseline."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from gis.analysis.assignment import (
    RATIO_SCALE,
    Problem,
    components,
    from_cost_matrix,
    from_frames,
    solve,
    solve_greedy,
    to_frame,
)

INF = np.inf


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


def test_two_by_two_picks_the_only_full_assignment() -> None:
    p = from_cost_matrix(np.array([[1.0, 5.0], [2.0, INF]]), np.array([1, 1]))
    sol = solve(p)
    assert sol.person.tolist() == [1, 0]
    assert (sol.filled, sol.travel, sol.gap) == (2, 7, 0.0)
    assert sol.optimal


@pytest.mark.parametrize("seed", range(25))
def test_random_six_by_six_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_slots, n_people = int(rng.integers(3, 7)), int(rng.integers(2, 7))
    cost = rng.integers(1, 100, size=(n_slots, n_people)).astype(float)
    cost[rng.random(cost.shape) < 0.35] = INF
    capacity = rng.integers(0, 3, size=n_people)
    team = rng.integers(-1, 2, size=n_slots)
    current = np.where(rng.random(n_slots) < 0.4, rng.integers(0, n_people, n_slots), -1)
    p = from_cost_matrix(cost, capacity, slot_team=team, current=current)
    sol = solve(p, travel_tolerance=0.0)
    filled, kept, neg_travel = brute_force(p)
    assert (sol.filled, sol.kept, sol.travel) == (filled, kept, -neg_travel)
    assert sol.gap == 0.0 and sol.optimal


def test_keeping_the_current_holder_beats_a_shorter_trip() -> None:
    cost = np.array([[100.0, 1.0]])
    p = from_cost_matrix(cost, np.array([1, 1]), current=np.array([0]))
    assert solve(p).person.tolist() == [0]
    fresh = from_cost_matrix(cost, np.array([1, 1]))
    assert solve(fresh).person.tolist() == [1]


def test_filling_beats_keeping() -> None:
    # Person 0 holds slot 0 but is the only one who can take slot 1; person 1 can take slot 0.
    cost = np.array([[1.0, 1.0], [1.0, INF]])
    p = from_cost_matrix(cost, np.array([1, 1]), current=np.array([0, -1]))
    sol = solve(p)
    assert sol.person.tolist() == [1, 0] and sol.filled == 2 and sol.kept == 0


def test_nobody_twice_in_one_team() -> None:
    cost = np.array([[1.0, 9.0], [1.0, 9.0]])
    p = from_cost_matrix(cost, np.array([5, 5]), slot_team=np.array([0, 0]))
    sol = solve(p)
    assert sorted(sol.person.tolist()) == [0, 1] and sol.travel == 10


def test_balance_trades_travel_within_tolerance() -> None:
    # Four slots, two people; person 0 is slightly closer to all of them.
    cost = np.array([[10.0, 11.0]] * 4)
    p = from_cost_matrix(cost, np.array([4, 4]))
    assert solve(p, travel_tolerance=0.0).person.tolist() == [0, 0, 0, 0]
    balanced = solve(p, travel_tolerance=0.05)
    assert sorted(balanced.person.tolist()) == [0, 0, 1, 1]
    assert balanced.max_load_permille == RATIO_SCALE // 2
    assert balanced.travel == 42


def test_capacity_limits_and_unfillable_slots() -> None:
    cost = np.array([[1.0, INF], [2.0, INF], [INF, INF]])
    sol = solve(from_cost_matrix(cost, np.array([1, 3])))
    assert sol.filled == 1 and sol.person.tolist() == [0, -1, -1]


def test_components_split_by_pool_and_team() -> None:
    # Slots 0,1 share person 0's pool; slot 2 is alone; slots 3,4 are one team with no overlap.
    cost = np.array([[1, INF, INF], [1, INF, INF], [INF, 1, INF], [INF, INF, 1], [INF, 1, INF]])
    p = from_cost_matrix(cost, np.array([[2, 2], [2, 2], [2, 2]]),
                         slot_pool=np.array([0, 0, 0, 1, 1]),
                         slot_team=np.array([-1, -1, -1, 7, 7]))
    n, label = components(p)
    assert n == 3
    assert label[0] == label[1] and label[3] == label[4] and label[2] != label[0]


def test_greedy_is_feasible_and_no_better_than_optimal() -> None:
    rng = np.random.default_rng(3)
    cost = rng.integers(1, 100, size=(40, 8)).astype(float)
    cost[rng.random(cost.shape) < 0.5] = INF
    p = from_cost_matrix(cost, rng.integers(1, 6, size=8), slot_team=np.repeat(np.arange(8), 5))
    greedy, best = solve_greedy(p), solve(p, travel_tolerance=0.0)
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
    pairs = pd.DataFrame({"slot": [10, 11, 11, 12], "staff_id": [101, 101, 102, 101],
                          "cost": [5, 1, 3, 2]})
    current = pd.DataFrame({"slot": [12], "staff_id": [101]})
    problem = from_frames(slots, staff, pairs, current)
    assert problem.current.tolist() == [-1, -1, 0]
    out = to_frame(slots, staff, solve(problem))
    # 101 keeps slot 12 (its only team seat), so 102 takes slot 11; 101 also inspects slot 10.
    assert out["staff_id"].tolist() == [101, 102, 101]

"""The routing core against brute force, hand-worked days, and the planner-word explanations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gis.analysis.inspection_routes import (
    DayWindow,
    Inspector,
    hhmm,
    plan_routes,
)
from tests.gis.analysis.route_witness import route_violations

H = 3600
NO_LUNCH = DayWindow(start_s=8 * H, end_s=18 * H, lunch_start_s=None, lunch_end_s=None)


def _random_instance(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 8000, (n + 1, 2))
    # Asymmetric like one-way streets: going "up" costs 20 % more.
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    up = (xy[None, :, 1] > xy[:, None, 1]) * 0.2 + 1.0
    travel = np.rint(dist / 8.0 * up).astype(np.int64)
    service = rng.integers(10, 40, n) * 60
    return travel, service


def _brute_force(
    travel: np.ndarray,
    service: np.ndarray,
    day: DayWindow,
    opens: list[int],
    closes: list[int],
) -> float:
    """Least travel over every order (working clock: no lunch in these instances)."""
    n = len(service)
    best = np.inf
    for order in itertools.permutations(range(n)):
        t, prev, cost, ok = day.start_s, n, 0, True
        for k in order:
            t = max(t + travel[prev, k], opens[k])
            if t > closes[k]:
                ok = False
                break
            t += service[k]
            cost += travel[prev, k]
            prev = k
        t += travel[prev, n]
        cost += travel[prev, n]
        if ok and t <= day.end_s and cost < best:
            best = cost
    return float(best)


@pytest.mark.parametrize("seed", range(6))
def test_single_inspector_matches_brute_force(seed: int) -> None:
    n = 7
    travel, service = _random_instance(seed, n)
    rng = np.random.default_rng(100 + seed)
    opens = [NO_LUNCH.start_s] * n
    closes = [NO_LUNCH.end_s] * n
    for k in rng.choice(n, 3, replace=False):  # three stops with a 90-minute window
        opens[k] = int(rng.integers(9, 15)) * H
        closes[k] = opens[k] + 90 * 60
    best = _brute_force(travel, service, NO_LUNCH, opens, closes)
    plan = plan_routes(
        travel,
        range(n),
        service,
        [Inspector(base=n)],
        NO_LUNCH,
        open_s=opens,
        close_s=closes,
        time_limit_s=0.3,
    )
    assert not plan.unplanned
    assert plan.travel_s == best
    assert (
        route_violations(
            plan, travel, range(n), service, [Inspector(base=n)], NO_LUNCH, opens, closes
        )
        == []
    )


def test_lunch_is_a_full_break_between_visits() -> None:
    # Base 0 and four stops A–D on a loop, 30 min apart (60 min from base to D), each visit
    # 60 min; day 08:30–17:30 with lunch 12:00–13:30. The windows force the order A, B, C, D.
    travel = np.array(
        [
            [0, 1800, 3600, 5400, 3600],
            [1800, 0, 1800, 3600, 5400],
            [3600, 1800, 0, 1800, 3600],
            [5400, 3600, 1800, 0, 1800],
            [3600, 5400, 3600, 1800, 0],
        ]
    )
    day = DayWindow()  # 08:30–17:30, lunch 12:00–13:30
    stops, service = [1, 2, 3, 4], [3600] * 4
    ins = [Inspector(base=0)]
    opens = [9 * H, 10 * H, 11 * H, 14 * H]
    closes = [10 * H, 11 * H, 15 * H, 16 * H]
    plan = plan_routes(
        travel, stops, service, ins, day, open_s=opens, close_s=closes, time_limit_s=0.3
    )
    route = plan.routes[0]
    assert route.stops == [0, 1, 2, 3]
    times = [(hhmm(v.arrival_s), hhmm(v.start_s), hhmm(v.departure_s)) for v in route.visits]
    # Working clock (lunch cut out): A 09:00–10:00, B 10:30–11:30, C reached 12:00 (on the
    # road at the lunch start), C 12:00–13:00, D opens 14:00 wall = 12:30 working, reached 13:30
    # working, 13:30–14:30 working. Wall clock: the inspector is on the road at 12:00, so lunch
    # is at B from min(12:00, C's start 12:00 − 30 min leg) = 11:30 to 13:00; C 13:30–14:30,
    # D 15:00–16:00, home 16:00 + 60 min = 17:00 (≤ 17:30).
    assert times == [
        ("09:00", "09:00", "10:00"),
        ("10:30", "10:30", "11:30"),
        ("13:30", "13:30", "14:30"),
        ("15:00", "15:00", "16:00"),
    ]
    assert route.lunch == (int(11.5 * H), 13 * H)
    assert hhmm(route.return_base_s) == "17:00"
    assert route_violations(plan, travel, stops, service, ins, day, opens, closes) == []


@pytest.mark.parametrize("seed", range(8))
def test_random_days_with_lunch_and_windows_break_no_rule(seed: int) -> None:
    n = 12
    travel, service = _random_instance(seed, n + 1)
    rng = np.random.default_rng(seed)
    day = DayWindow()
    opens: list[int | None] = [None] * n
    closes: list[int | None] = [None] * n
    for k in rng.choice(n, 5, replace=False):
        a = int(rng.integers(9 * H, 16 * H))
        opens[k], closes[k] = a, a + int(rng.integers(30, 120)) * 60
    ins = [Inspector(base=n), Inspector(base=n + 1, max_stops=5)]
    plan = plan_routes(
        travel, range(n), service[:n], ins, day, open_s=opens, close_s=closes, time_limit_s=0.3
    )
    assert route_violations(plan, travel, range(n), service[:n], ins, day, opens, closes) == []
    placed = sorted(k for r in plan.routes for k in r.stops)
    assert sorted(placed + [u.stop for u in plan.unplanned]) == list(range(n))


def test_skill_stops_go_to_an_inspector_having_it() -> None:
    n = 6
    travel, service = _random_instance(3, n + 1)
    skill = ["fire", None, "fire", None, None, "fire"]
    ins = [Inspector(base=n, skills=frozenset({"fire"})), Inspector(base=n + 1)]
    plan = plan_routes(travel, range(n), service[:n], ins, NO_LUNCH, skill=skill, time_limit_s=0.3)
    assert not plan.unplanned
    assert {0, 2, 5} <= set(plan.routes[0].stops)
    assert not {0, 2, 5} & set(plan.routes[1].stops)


def test_unreachable_window_is_explained_in_planner_words() -> None:
    # The stop is 42 minutes from base; the day starts 14:00, its window is 14:00–14:30.
    travel = np.array([[0, 42 * 60], [42 * 60, 0]])
    day = DayWindow(start_s=14 * H, end_s=18 * H, lunch_start_s=None, lunch_end_s=None)
    plan = plan_routes(
        travel,
        [1],
        [600],
        [Inspector(base=0)],
        day,
        open_s=[14 * H],
        close_s=[14 * H + 1800],
        names=["老王五金店"],
        time_limit_s=0.1,
    )
    assert [u.code for u in plan.unplanned] == ["window_unreachable"]
    assert "老王五金店 的时间窗 14:00–14:30 早于最早可达 14:42" in plan.unplanned[0].reason
    assert plan.routes[0].stops == []


def test_no_skilled_inspector_and_too_long_visit_are_named() -> None:
    travel = np.zeros((3, 3), dtype=int)
    day = DayWindow(start_s=9 * H, end_s=10 * H, lunch_start_s=None, lunch_end_s=None)
    plan = plan_routes(
        travel,
        [1, 2],
        [600, 2 * H],
        [Inspector(base=0)],
        day,
        skill=["fire", None],
        names=["甲", "乙"],
        time_limit_s=0.1,
    )
    assert {u.code for u in plan.unplanned} == {"no_skill", "day_too_short"}


def test_bad_arguments_name_the_argument() -> None:
    with pytest.raises(ValueError, match="square"):
        plan_routes(np.zeros((2, 3)), [1], [60], [Inspector(base=0)], NO_LUNCH)
    with pytest.raises(ValueError, match="service_s"):
        plan_routes(np.zeros((2, 2)), [1], [60, 60], [Inspector(base=0)], NO_LUNCH)
    with pytest.raises(ValueError, match="午休"):
        DayWindow(start_s=8 * H, end_s=11 * H, lunch_start_s=12 * H, lunch_end_s=13 * H)

"""Inspection day routes: one inspector's tour or a team's split (VRP with time windows).

A pure numeric core over a travel-time matrix; no session, no geometry. Every place is an index
into ``travel_s`` (stops and bases alike). Times are seconds since midnight of the day.

The solver is PyVRP (MIT), chosen by measurement (``bench/bench_routes.py``, ``bench/README.md``):
on road-network instances it reaches the best known tours at ≤ 100 stops within its budget and
handles time windows, capacities and per-inspector base and hours natively. Skills (a stop that
needs a fire officer) are routing profiles: an inspector without the skill sees the stop as
unreachable.

The lunch break is modelled exactly by solving in *working time*: the clock with the lunch
interval cut out (a wall time inside lunch maps to its start). A schedule that is feasible in
working time becomes a wall-clock schedule with the break taken between two activities, never in
the middle of a visit (``_wall_schedule`` places it and keeps every window; the proof is in its
comments). Stops the day cannot hold are not silently dropped: each is listed with the reason
in planner words.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime

#: A stop the solver leaves out costs this many times the longest possible day of travel, so
#: dropping a stop is always worse than any detour that keeps it.
_PRIZE_FACTOR = 10
#: Travel times above this are treated as "no road" (the road graph's UNREACHABLE_S is 4 h).
UNREACHABLE_S = 4 * 3600


def hhmm(seconds: float) -> str:
    """``13:05`` for 47,100 s (wall clock, minutes rounded down)."""
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}"


@dataclass(frozen=True)
class DayWindow:
    """The working day (seconds since midnight) with an optional lunch break."""

    start_s: int = 8 * 3600 + 30 * 60
    end_s: int = 17 * 3600 + 30 * 60
    lunch_start_s: int | None = 12 * 3600
    lunch_end_s: int | None = 13 * 3600 + 30 * 60

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s <= 48 * 3600:
            raise ValueError(
                f"day window {hhmm(self.start_s)}–{hhmm(self.end_s)} is empty (工作时间段为空)"
            )
        if (self.lunch_start_s is None) != (self.lunch_end_s is None):
            raise ValueError("lunch needs both a start and an end (午休需起止时间)")
        if (
            self.lunch_start_s is not None
            and self.lunch_end_s is not None
            and not self.start_s < self.lunch_start_s < self.lunch_end_s < self.end_s
        ):
            raise ValueError(
                f"lunch {hhmm(self.lunch_start_s)}–{hhmm(self.lunch_end_s)} must lie inside "
                f"the day {hhmm(self.start_s)}–{hhmm(self.end_s)} (午休须在工作时间内)"
            )

    @property
    def lunch_s(self) -> int:
        if self.lunch_start_s is None or self.lunch_end_s is None:
            return 0
        return self.lunch_end_s - self.lunch_start_s

    @property
    def working_s(self) -> int:
        """Seconds of work the day holds (lunch excluded)."""
        return self.end_s - self.start_s - self.lunch_s

    def to_working(self, wall_s: np.ndarray, closing: bool = False) -> np.ndarray:
        """Wall clock → working time: lunch cut out, a time inside lunch maps to its start.

        A window *closing* inside lunch closes one second before it, so a visit started at the
        lunch boundary is unambiguously a morning visit.
        """
        t = np.asarray(wall_s, dtype=np.int64)
        if self.lunch_start_s is None or self.lunch_end_s is None:
            return t
        ls, le = self.lunch_start_s, self.lunch_end_s
        inside = (t > ls) & (t < le)
        out = np.where(t >= le, t - (le - ls), t)
        return np.where(inside, ls - 1 if closing else ls, out)


@dataclass(frozen=True)
class Inspector:
    """One inspector's day: base (an index into the travel matrix), capacity and skills.

    ``day`` overrides the team's day window (only the hours; the lunch interval must be the
    team's, because all schedules share one working clock).
    """

    base: int
    name: str = ""
    max_stops: int | None = None
    skills: frozenset[str] = frozenset()
    start_s: int | None = None
    end_s: int | None = None


@dataclass(frozen=True)
class Visit:
    stop: int
    arrival_s: int
    start_s: int
    departure_s: int

    @property
    def wait_s(self) -> int:
        return self.start_s - self.arrival_s


@dataclass(frozen=True)
class InspectorRoute:
    """One inspector's planned day in wall-clock seconds; ``lunch`` is None if not crossed."""

    inspector: int
    visits: tuple[Visit, ...]
    leave_base_s: int
    return_base_s: int
    travel_s: int
    lunch: tuple[int, int] | None = None

    @property
    def stops(self) -> list[int]:
        return [v.stop for v in self.visits]


@dataclass(frozen=True)
class Unplanned:
    """A stop left out of every route and why, in planner words."""

    stop: int
    reason: str
    code: str


@dataclass(frozen=True)
class RoutePlan:
    routes: tuple[InspectorRoute, ...]
    unplanned: tuple[Unplanned, ...] = ()
    solver: str = "pyvrp"
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def travel_s(self) -> int:
        return sum(r.travel_s for r in self.routes)


@dataclass(frozen=True)
class _Problem:
    travel: np.ndarray
    stops: np.ndarray
    service: np.ndarray
    open_s: np.ndarray
    close_s: np.ndarray
    skill: list[str | None]
    names: list[str]
    inspectors: tuple[Inspector, ...]
    day: DayWindow


def plan_routes(
    travel_s: np.ndarray,
    stops: Sequence[int] | np.ndarray,
    service_s: Sequence[int] | np.ndarray,
    inspectors: Sequence[Inspector],
    day: DayWindow,
    *,
    open_s: Sequence[int | None] | None = None,
    close_s: Sequence[int | None] | None = None,
    skill: Sequence[str | None] | None = None,
    names: Sequence[str] | None = None,
    time_limit_s: float = 1.0,
    seed: int = 0,
) -> RoutePlan:
    """Plan one day for one inspector (a tour) or several (a VRP with time windows).

    Minimises total travel time. A stop that no schedule can hold is returned in
    ``RoutePlan.unplanned`` with the reason (its window closes before anyone can reach it, no
    inspector has its skill, the day is too short, capacity), never silently dropped.

    Parameters
    ----------
    travel_s : numpy.ndarray
        ``(m, m)`` seconds from place i to place j (asymmetric allowed, one-way streets).
    stops : sequence of int
        The place index of each stop.
    service_s : sequence of int
        Minutes on site per stop, in seconds.
    inspectors : sequence of Inspector
        One or more; each starts and ends at its ``base`` place.
    day : DayWindow
        Working hours and lunch, shared by the team.
    open_s, close_s : sequence of int or None, optional
        Per-stop time window (wall clock); None = the whole day.
    skill : sequence of str or None, optional
        Per-stop required skill (e.g. ``"fire"``); only inspectors having it may visit.
    names : sequence of str, optional
        Stop names for the explanations.
    time_limit_s : float
        Solver budget.
    seed : int
        Solver seed (same seed, same plan).

    Returns
    -------
    RoutePlan

    Examples
    --------
    >>> t = np.array([[0, 60, 120], [60, 0, 60], [120, 60, 0]])
    >>> day = DayWindow(start_s=8 * 3600, end_s=9 * 3600, lunch_start_s=None, lunch_end_s=None)
    >>> plan = plan_routes(t, [1, 2], [300, 300], [Inspector(base=0)], day, time_limit_s=0.1)
    >>> plan.routes[0].stops, plan.travel_s
    ([0, 1], 240)
    """
    problem = _check(travel_s, stops, service_s, inspectors, day, open_s, close_s, skill, names)
    unplanned = {u.stop: u for u in _prechecks(problem)}
    todo = [k for k in range(len(problem.stops)) if k not in unplanned]
    routes: tuple[InspectorRoute, ...] = tuple(
        InspectorRoute(i, (), day.start_s, day.start_s, 0) for i in range(len(inspectors))
    )
    stats: dict[str, float] = {}
    if todo:
        orders, stats = _solve(problem, todo, time_limit_s, seed)
        placed = {k for order in orders for k in order}
        routes = tuple(_wall_schedule(problem, i, order) for i, order in enumerate(orders))
        for k in todo:
            if k not in placed:
                unplanned[k] = _why_left_out(problem, k, orders)
    return RoutePlan(
        routes=routes,
        unplanned=tuple(unplanned[k] for k in sorted(unplanned)),
        stats=stats,
    )


def _check(
    travel_s: np.ndarray,
    stops: Sequence[int] | np.ndarray,
    service_s: Sequence[int] | np.ndarray,
    inspectors: Sequence[Inspector],
    day: DayWindow,
    open_s: Sequence[int | None] | None,
    close_s: Sequence[int | None] | None,
    skill: Sequence[str | None] | None,
    names: Sequence[str] | None,
) -> _Problem:
    travel = np.asarray(travel_s, dtype=float)
    if travel.ndim != 2 or travel.shape[0] != travel.shape[1]:
        raise ValueError(f"travel_s must be a square matrix, got shape {travel.shape}")
    if not np.all(np.isfinite(travel)) or (travel < 0).any():
        raise ValueError("travel_s must be finite and non-negative (use UNREACHABLE_S for no road)")
    m = travel.shape[0]
    stop_idx = np.asarray(stops, dtype=np.int64).reshape(-1)
    n = stop_idx.shape[0]
    if n and (stop_idx.min() < 0 or stop_idx.max() >= m):
        raise ValueError(f"stops must index the travel matrix (0..{m - 1})")
    service = np.asarray(service_s, dtype=np.int64).reshape(-1)
    if service.shape[0] != n or (service < 0).any():
        raise ValueError("service_s needs one non-negative value per stop")
    if not inspectors:
        raise ValueError("inspectors is empty: nobody to route")
    for i, ins in enumerate(inspectors):
        if not 0 <= ins.base < m:
            raise ValueError(f"inspectors[{i}].base {ins.base} is not a place index")
    opens = _per_stop(open_s, n, day.start_s, "open_s")
    closes = _per_stop(close_s, n, day.end_s, "close_s")
    if (opens > closes).any():
        k = int(np.flatnonzero(opens > closes)[0])
        raise ValueError(f"stop {k}: time window opens after it closes")
    skills: list[str | None] = list(skill) if skill is not None else [None] * n
    if len(skills) != n:
        raise ValueError("skill needs one entry per stop")
    labels = list(names) if names is not None else [f"stop {k}" for k in range(n)]
    if len(labels) != n:
        raise ValueError("names needs one entry per stop")
    return _Problem(
        travel, stop_idx, service, opens, closes, skills, labels, tuple(inspectors), day
    )


def _per_stop(values: Sequence[int | None] | None, n: int, default: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.int64)
    if len(values) != n:
        raise ValueError(f"{name} needs one entry per stop")
    return np.array([default if v is None else int(v) for v in values], dtype=np.int64)


def _hours(problem: _Problem, i: int) -> tuple[int, int]:
    ins, day = problem.inspectors[i], problem.day
    start = day.start_s if ins.start_s is None else max(day.start_s, ins.start_s)
    end = day.end_s if ins.end_s is None else min(day.end_s, ins.end_s)
    return start, end


def _eligible(problem: _Problem, k: int) -> list[int]:
    need = problem.skill[k]
    return [i for i, ins in enumerate(problem.inspectors) if need is None or need in ins.skills]


def _prechecks(problem: _Problem) -> list[Unplanned]:
    """Stops no schedule can hold whatever the order, each with its reason."""
    out: list[Unplanned] = []
    day = problem.day
    for k in range(len(problem.stops)):
        name, stop = problem.names[k], int(problem.stops[k])
        service = int(problem.service[k])
        if service > day.working_s:
            out.append(
                Unplanned(
                    k,
                    f"{name} 的检查用时 {service // 60} 分钟超过全天工作时间 "
                    f"{day.working_s // 60} 分钟 (visit longer than the working day)",
                    "day_too_short",
                )
            )
            continue
        w_open = int(day.to_working(problem.open_s[k : k + 1])[0])
        if w_open > int(day.to_working(problem.close_s[k : k + 1], closing=True)[0]):
            out.append(
                Unplanned(
                    k,
                    f"{name} 的时间窗 {hhmm(problem.open_s[k])}–{hhmm(problem.close_s[k])} "
                    "落在午休时间内 (window lies within the lunch break)",
                    "window_in_lunch",
                )
            )
            continue
        eligible = _eligible(problem, k)
        if not eligible:
            out.append(
                Unplanned(
                    k,
                    f"{name} 需要具备「{problem.skill[k]}」资格的检查人员，本次无人具备 "
                    "(no inspector has the required skill)",
                    "no_skill",
                )
            )
            continue
        best = None
        for i in eligible:
            start, end = _hours(problem, i)
            base = problem.inspectors[i].base
            go, back = problem.travel[base, stop], problem.travel[stop, base]
            if go >= UNREACHABLE_S or back >= UNREACHABLE_S:
                continue
            w_start = int(day.to_working(np.array(start)))
            arrive = _wall_of(day, w_start + go)
            begin = max(arrive, int(problem.open_s[k]))
            finish_w = int(day.to_working(np.array(begin))) + service + back
            late_w = int(day.to_working(np.array(end)))
            cand = (begin, finish_w, late_w)
            if best is None or cand[0] < best[0]:
                best = cand
        if best is None:
            out.append(
                Unplanned(
                    k, f"{name} 与检查人员基地之间无道路相通 (no road from any base)", "no_road"
                )
            )
            continue
        begin, finish_w, late_w = best
        close = int(problem.close_s[k])
        if begin > close:
            out.append(
                Unplanned(
                    k,
                    f"{name} 的时间窗 {hhmm(problem.open_s[k])}–{hhmm(close)} 早于最早可达 "
                    f"{hhmm(begin)} (window closes before the earliest arrival)",
                    "window_unreachable",
                )
            )
        elif finish_w > late_w:
            out.append(
                Unplanned(
                    k,
                    f"{name} 检查后返回基地约 {hhmm(_wall_of(day, finish_w))}，晚于下班 "
                    f"{hhmm(_hours(problem, eligible[0])[1])} (cannot return before the day ends)",
                    "day_too_short",
                )
            )
    return out


def _wall_of(day: DayWindow, working_s: float) -> int:
    """Working time → wall clock, a moment at the lunch start read as "after lunch"."""
    w = int(round(working_s))
    if day.lunch_start_s is None or w < day.lunch_start_s:
        return w
    return w + day.lunch_s


def _why_left_out(problem: _Problem, k: int, orders: list[list[int]]) -> Unplanned:
    """A stop that fits on its own but not in the day: every eligible inspector is full."""
    eligible = _eligible(problem, k)
    full = all(
        problem.inspectors[i].max_stops is not None
        and len(orders[i]) >= (problem.inspectors[i].max_stops or 0)
        for i in eligible
    )
    if full:
        limit = "、".join(str(problem.inspectors[i].max_stops) for i in eligible)
        reason = (
            f"{problem.names[k]} 排不进当天路线：可承担的检查人员已达每日 {limit} 户上限 "
            "(every eligible inspector has reached the stop limit)"
        )
        return Unplanned(k, reason, "capacity")
    reason = (
        f"{problem.names[k]} 排不进当天路线：工作时间已排满 "
        "(no room left in any eligible inspector's working hours)"
    )
    return Unplanned(k, reason, "day_full")


def _solve(
    problem: _Problem, todo: list[int], time_limit_s: float, seed: int
) -> tuple[list[list[int]], dict[str, float]]:
    """Orders of stops (indices into ``problem.stops``) per inspector, by PyVRP.

    First every stop is required (the search is fastest so); only when that day is infeasible
    (too many stops for the hours or limits) is it solved again with each stop optional at a
    prize far above any detour, so the solver keeps as many as fit and the rest are explained.
    """
    data = _problem_data(problem, todo, required=True)
    with warnings.catch_warnings():
        # An over-full day drives PyVRP's penalties to their bound; that case is handled below.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(data, MaxRuntime(time_limit_s), seed=seed, display=False)
    stats = {"iterations": float(result.num_iterations), "runtime_s": result.runtime}
    if not result.best.is_feasible():
        data = _problem_data(problem, todo, required=False)
        result = pyvrp.solve(data, MaxRuntime(time_limit_s), seed=seed, display=False)
        stats |= {"optional_runtime_s": result.runtime}
    best = result.best
    orders: list[list[int]] = [[] for _ in problem.inspectors]
    if best.is_feasible():
        for route in best.routes():
            i = int(route.vehicle_type())
            visits = [a.idx for a in route.schedule() if a.is_client()]
            orders[i] = [todo[int(c)] for c in visits]
    # A stop behind a skill block is reachable only at the "no road" price; never keep one.
    for i, order in enumerate(orders):
        have = problem.inspectors[i].skills
        orders[i] = [k for k in order if problem.skill[k] is None or problem.skill[k] in have]
    return orders, stats


def _problem_data(problem: _Problem, todo: list[int], required: bool) -> pyvrp.ProblemData:
    """PyVRP's problem in working time over the places used: bases are the depots."""
    day, travel = problem.day, problem.travel
    bases = sorted({i.base for i in problem.inspectors})
    stops = [int(problem.stops[k]) for k in todo]
    places = bases + stops  # PyVRP wants depots' locations first; a place may repeat
    sub = np.rint(np.minimum(travel[np.ix_(places, places)], UNREACHABLE_S)).astype(np.int64)
    np.fill_diagonal(sub, 0)
    prize = int(_PRIZE_FACTOR * (sub.max() + 1) * (len(todo) + 1))
    w_open = day.to_working(problem.open_s)
    w_close = day.to_working(problem.close_s, closing=True)
    nb = len(bases)
    clients = [
        pyvrp.Client(
            location=nb + j,
            delivery=[1],
            service_duration=int(problem.service[k]),
            tw_early=int(w_open[k]),
            tw_late=int(w_close[k]),
            prize=prize if not required else 0,
            required=required,
        )
        for j, k in enumerate(todo)
    ]
    depots = [pyvrp.Depot(location=d) for d in range(nb)]
    # One routing profile per distinct skill set: a stop needing a skill the set lacks is
    # unreachable (its in-edges cost the prize, which no kept stop ever pays back).
    skill_sets = sorted({ins.skills for ins in problem.inspectors}, key=sorted)
    distances = []
    for skills in skill_sets:
        dist = sub.copy()
        blocked = [
            nb + j
            for j, k in enumerate(todo)
            if problem.skill[k] is not None and problem.skill[k] not in skills
        ]
        dist[:, blocked] = prize
        np.fill_diagonal(dist, 0)
        distances.append(dist)
    vehicles = []
    for i, ins in enumerate(problem.inspectors):
        start, end = _hours(problem, i)
        depot = bases.index(ins.base)
        vehicles.append(
            pyvrp.VehicleType(
                1,
                capacity=[ins.max_stops if ins.max_stops is not None else len(todo)],
                start_depot=depot,
                end_depot=depot,
                tw_early=int(day.to_working(np.array(start))),
                tw_late=int(day.to_working(np.array(end), closing=True)),
                profile=skill_sets.index(ins.skills),
                name=str(i),
            )
        )
    locations = [pyvrp.Location(x=0, y=0) for _ in places]
    return pyvrp.ProblemData(
        locations, clients, depots, vehicles, distances, [sub] * len(skill_sets)
    )


def _wall_schedule(problem: _Problem, i: int, order: list[int]) -> InspectorRoute:
    """The wall-clock day of one inspector visiting ``order``, lunch placed between activities.

    First the schedule in working time (leave at the start, wait for windows). Then lunch: if a
    visit is under way at the lunch start (working clock), lunch follows that visit and every
    later time is its working time plus the lunch length — inside every window, because a wall
    window [a, b] after lunch is [a - L, b - L] in working time. Otherwise the inspector is on the
    road or waiting at that moment: lunch is taken at the place left last, starting at
    ``min(lunch start, next start - leg)``; the next arrival is then no later than its working
    time plus L, so every later start is too (by induction), and waiting restores the openings.
    """
    day, travel = problem.day, problem.travel
    base = problem.inspectors[i].base
    start_wall, _ = _hours(problem, i)
    w_open = day.to_working(problem.open_s)
    places = [base, *[int(problem.stops[k]) for k in order], base]
    t = int(day.to_working(np.array(start_wall)))
    legs = [int(round(travel[a, b])) for a, b in zip(places[:-1], places[1:], strict=True)]
    work: list[tuple[int, int, int]] = []  # (arrival, start, departure) in working time
    for j, k in enumerate(order):
        arrive = t + legs[j]
        begin = max(arrive, int(w_open[k]))
        t = begin + int(problem.service[k])
        work.append((arrive, begin, t))
    back_w = t + legs[-1]
    travel_total = int(sum(legs))
    if day.lunch_start_s is None or back_w <= day.lunch_start_s:
        visits = tuple(Visit(k, *w) for k, w in zip(order, work, strict=True))
        # A day finished before lunch needs no break; one ending at base keeps its times.
        return InspectorRoute(i, visits, start_wall, back_w, travel_total, _lunch_at_base(day))
    ls, length = day.lunch_start_s, day.lunch_s
    crossing = next((j for j, w in enumerate(work) if w[2] > ls), len(work))
    wall: list[tuple[int, int, int]] = list(work[:crossing])
    if crossing < len(work) and work[crossing][1] < ls:
        # A visit under way at the lunch start: lunch right after it, the rest shifts by L.
        lunch = (work[crossing][2], work[crossing][2] + length)
        wall.append(work[crossing])
        wall += [(a + length, b + length, c + length) for a, b, c in work[crossing + 1 :]]
        back = back_w + length
    else:
        # On the road or waiting: lunch where the inspector last was, then forward in wall time.
        left = work[crossing - 1][2] if crossing else int(day.to_working(np.array(start_wall)))
        next_start = work[crossing][1] if crossing < len(work) else back_w
        begin_lunch = min(ls, next_start - legs[crossing])
        begin_lunch = max(begin_lunch, left)
        lunch = (begin_lunch, begin_lunch + length)
        t = lunch[1]
        for j in range(crossing, len(order)):
            k = order[j]
            arrive = t + legs[j]
            begin = max(arrive, int(problem.open_s[k]))
            t = begin + int(problem.service[k])
            wall.append((arrive, begin, t))
        back = t + legs[-1]
    visits = tuple(Visit(k, *w) for k, w in zip(order, wall, strict=True))
    return InspectorRoute(i, visits, start_wall, back, travel_total, lunch)


def _lunch_at_base(day: DayWindow) -> tuple[int, int] | None:
    if day.lunch_start_s is None or day.lunch_end_s is None:
        return None
    return (day.lunch_start_s, day.lunch_end_s)

"""An independent check of a planned day: every rule re-derived from the inputs alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gis.analysis.inspection_routes import DayWindow, Inspector, RoutePlan, hhmm


def route_violations(
    plan: RoutePlan,
    travel_s: np.ndarray,
    stops: Sequence[int] | np.ndarray,
    service_s: Sequence[int] | np.ndarray,
    inspectors: Sequence[Inspector],
    day: DayWindow,
    open_s: Sequence[int | None] | None = None,
    close_s: Sequence[int | None] | None = None,
) -> list[str]:
    """Every broken rule of a plan, re-derived from the inputs (empty = valid).

    Checks travel times between consecutive places, windows, the day, the stop limit, and that
    no visit overlaps the inspector's lunch break of the full length.
    """
    travel = np.asarray(travel_s, dtype=float)
    place_of = np.asarray(stops, dtype=np.int64)
    service = np.asarray(service_s, dtype=np.int64)
    n = len(place_of)
    opens = [day.start_s if o is None else o for o in (open_s or [None] * n)]
    closes = [day.end_s if c is None else c for c in (close_s or [None] * n)]
    out: list[str] = []
    for r in plan.routes:
        ins = inspectors[r.inspector]
        start = day.start_s if ins.start_s is None else max(day.start_s, ins.start_s)
        end = day.end_s if ins.end_s is None else min(day.end_s, ins.end_s)
        prev, t = ins.base, r.leave_base_s
        if t < start:
            out.append(f"inspector {r.inspector} leaves before the day starts")
        if ins.max_stops is not None and len(r.visits) > ins.max_stops:
            out.append(f"inspector {r.inspector} exceeds {ins.max_stops} stops")
        for v in r.visits:
            place = int(place_of[v.stop])
            leg = int(round(travel[prev, place]))
            expect = _leave_after_lunch(r.lunch, t, v.arrival_s) + leg
            if v.arrival_s != expect:
                out.append(f"stop {v.stop}: arrival {v.arrival_s} ≠ {expect} (leave + leg)")
            if v.start_s < max(v.arrival_s, opens[v.stop]):
                out.append(f"stop {v.stop}: starts before it opens or before arrival")
            if v.start_s > closes[v.stop]:
                out.append(f"stop {v.stop}: starts after its window closes")
            if v.departure_s != v.start_s + int(service[v.stop]):
                out.append(f"stop {v.stop}: visit shorter than its service time")
            if r.lunch and v.start_s < r.lunch[1] and v.departure_s > r.lunch[0]:
                out.append(f"stop {v.stop}: visit overlaps lunch {r.lunch}")
            prev, t = place, v.departure_s
        leg = int(round(travel[prev, ins.base]))
        if r.return_base_s != _leave_after_lunch(r.lunch, t, r.return_base_s) + leg:
            out.append(f"inspector {r.inspector}: back at base ≠ leave + last leg")
        if r.return_base_s > end:
            out.append(
                f"inspector {r.inspector}: back at base {hhmm(r.return_base_s)} after {hhmm(end)}"
            )
        crosses_lunch = day.lunch_s and r.return_base_s > (day.lunch_start_s or 0)
        if crosses_lunch and (r.lunch is None or r.lunch[1] - r.lunch[0] < day.lunch_s):
            out.append(f"inspector {r.inspector}: no full lunch break")
    return out


def _leave_after_lunch(lunch: tuple[int, int] | None, t0: int, t1: int) -> int:
    """When the inspector leaves a place left at ``t0``: after lunch if it falls before ``t1``."""
    if lunch is None or not (t0 <= lunch[0] and lunch[1] <= t1):
        return t0
    return lunch[1]

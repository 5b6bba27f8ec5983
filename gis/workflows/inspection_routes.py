"""Plan an inspection day on the town's roads, store it, and hand it out as GeoJSON or GPX.

Loads the stops (chosen units, or the units the inspectors are responsible for that are due),
the inspectors' bases and the roads of the town for the caller's scope; joins every place onto
the road it is nearest to; solves with ``gis.analysis.inspection_routes``; stores the plan with an
audit entry in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
from sqlalchemy import Connection, insert, select

from gis.access import Scope
from gis.analysis import road_graph as rg
from gis.analysis.inspection_frequency import inspection_status
from gis.analysis.inspection_routes import DayWindow, Inspector, RoutePlan, plan_routes
from gis.audit import Actor, record
from gis.crs import METRIC_SRID, STORAGE_SRID, transformer
from gis.db.models import InspectionFrequencyRule, InspectionRoute
from gis.domain import FireKeyLevel, StaffRole
from gis.errors import InvalidInput, NotFound
from gis.queries import inspection_routes as q
from gis.queries.assignments import frame, metric_xy

#: Minutes on site by unit type (the first that applies): a fire-safety key unit's checklist is
#: the longest, a high-risk industry's next; a 九小场所 is a short walk-through.
SERVICE_MINUTES: tuple[tuple[str, int], ...] = (
    ("fire_key_unit", 60),
    ("high_risk", 45),
    ("nine_small", 20),
    ("default", 30),
)
#: Skill a fire-safety key unit needs: an inspector of the fire station or a firefighter.
FIRE_SKILL = "fire"
FIRE_DEPARTMENT = "XF"
GPX_NS = "http://www.topografix.com/GPX/1/1"


@dataclass(frozen=True)
class RouteRequest:
    """What a planner asks for; ``unit_ids`` None means the inspectors' due units."""

    town: str
    day: dt.date
    staff_ids: list[int]
    unit_ids: list[int] | None = None
    start: dt.time = dt.time(8, 30)
    end: dt.time = dt.time(17, 30)
    lunch_start: dt.time | None = dt.time(12, 0)
    lunch_end: dt.time | None = dt.time(13, 30)
    windows: dict[int, tuple[dt.time, dt.time]] = field(default_factory=dict)
    #: Each stop only to an inspector of its supervising department, and a fire-safety key unit
    #: only to a fire officer; off, anyone may visit any stop.
    match_department: bool = False
    #: Most stops one inspector may take in the day (None: as many as the hours allow).
    max_stops: int | None = None
    time_limit_s: float = 1.0


def _seconds(t: dt.time | None) -> int | None:
    return None if t is None else t.hour * 3600 + t.minute * 60 + t.second


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def service_minutes(units: pd.DataFrame) -> np.ndarray:
    """Minutes on site for each unit by its type (``SERVICE_MINUTES``)."""
    fire = units["fire_key_level"].map(lambda v: getattr(v, "value", v)) != FireKeyLevel.NONE
    high = units["high_risk"].fillna(False).astype(bool)
    small = units["nine_small_category"].notna()
    minutes = dict(SERVICE_MINUTES)
    out = np.full(len(units), minutes["default"])
    out[small.to_numpy()] = minutes["nine_small"]
    out[high.to_numpy()] = minutes["high_risk"]
    out[fire.to_numpy()] = minutes["fire_key_unit"]
    return out


def _day_window(req: RouteRequest) -> DayWindow:
    try:
        return DayWindow(
            start_s=_seconds(req.start) or 0,
            end_s=_seconds(req.end) or 0,
            lunch_start_s=_seconds(req.lunch_start),
            lunch_end_s=_seconds(req.lunch_end),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc


def _load_staff(conn: Connection, req: RouteRequest, scope: Scope) -> pd.DataFrame:
    wanted = sorted(set(req.staff_ids))
    if not wanted:
        raise InvalidInput("staff_ids 为空：请至少选择一名检查人员 (no inspector given)")
    staff = frame(conn, q.staff_bases(req.town, wanted, scope))
    missing = sorted(set(wanted) - set(staff["id"].tolist()))
    if missing:
        raise NotFound(
            f"检查人员 {missing} 不存在或不在您的管辖范围内 (unknown or out-of-scope staff)"
        )
    inactive = staff.loc[~staff["active"].astype(bool), "name"].tolist()
    if inactive:
        raise InvalidInput(f"检查人员 {inactive} 已停用 (inactive staff)")
    no_base = staff.loc[staff["lon"].isna(), "name"].tolist()
    if no_base:
        raise InvalidInput(f"检查人员 {no_base} 未登记出发地点 (staff without a base location)")
    return staff


def _load_units(conn: Connection, req: RouteRequest, scope: Scope) -> pd.DataFrame:
    if req.unit_ids is None:
        ids = [
            int(i)
            for i in conn.execute(
                q.responsible_unit_ids(req.town, req.staff_ids, req.day)
            ).scalars()
            if i is not None
        ]
        units = frame(conn, q.stop_units(req.town, ids, scope))
        if units.empty:
            return units
        rules = frame(conn, select(InspectionFrequencyRule))
        last = frame(conn, q.last_inspections(units["id"].tolist(), req.day))
        last_by_unit = pd.Series(last["last"].to_numpy(), index=last["unit_id"].to_numpy())
        status = inspection_status(units, last_by_unit, rules, req.day)
        due = set(status.loc[status["overdue"], "unit_id"].tolist())
        return units[units["id"].isin(due)].reset_index(drop=True)
    wanted = sorted(set(req.unit_ids))
    if not wanted:
        raise InvalidInput('unit_ids 为空 (no stop given; use "due" for the due units)')
    units = frame(conn, q.stop_units(req.town, wanted, scope))
    missing = sorted(set(wanted) - set(units["id"].tolist()))
    if missing:
        raise NotFound(f"单位 {missing} 不存在或不在您的管辖范围内 (unknown or out-of-scope units)")
    outside = units.loc[~units["in_town"].astype(bool), "name"].tolist()
    if outside:
        raise InvalidInput(f"单位 {outside} 位于本镇范围之外 (stop outside the town)")
    return units


def _skills(
    staff: pd.DataFrame, units: pd.DataFrame, match_department: bool
) -> tuple[list[frozenset[str]], list[str | None]]:
    have = []
    for dept, role in zip(staff["department_code"], staff["role"], strict=True):
        skills = {str(dept)}
        if dept == FIRE_DEPARTMENT or role == StaffRole.FIREFIGHTER:
            skills.add(FIRE_SKILL)
        have.append(frozenset(skills))
    need: list[str | None] = []
    for level, dept in zip(units["fire_key_level"], units["department_code"], strict=True):
        if not match_department:
            need.append(None)
        elif getattr(level, "value", level) != FireKeyLevel.NONE:
            need.append(FIRE_SKILL)  # a fire-safety key unit goes to a fire officer
        else:
            need.append(str(dept))
    return have, need


def plan_day(conn: Connection, req: RouteRequest, scope: Scope, actor: Actor) -> dict[str, Any]:
    """Plan, store and audit one day; returns the stored plan with its ``id``.

    Raises
    ------
    NotFound
        A staff member or unit that does not exist or lies outside the caller's scope.
    InvalidInput
        A stop outside the town, a bad day window, or a day too short for a single visit.
    """
    day = _day_window(req)
    staff = _load_staff(conn, req, scope)
    units = _load_units(conn, req, scope)
    bad_windows = sorted(set(req.windows) - set(units["id"].tolist()))
    if bad_windows:
        raise InvalidInput(f"时间窗所指单位 {bad_windows} 不在本次站点中 (window for no stop)")
    service = service_minutes(units) * 60 if len(units) else np.zeros(0, dtype=np.int64)
    if len(units) and int(service.min()) > day.working_s:
        raise InvalidInput(
            f"工作时间 {day.working_s // 60} 分钟不足以完成一次检查（最短 "
            f"{int(service.min()) // 60} 分钟） (day window too short for a single visit)"
        )
    roads = q.town_roads(conn, req.town)
    if roads.empty:
        raise InvalidInput("本镇没有道路数据，无法规划路线 (no roads in the town)")
    network = rg.road_network(roads)
    points = np.vstack(
        [
            metric_xy(units["lon"], units["lat"]).reshape(-1, 2),
            metric_xy(staff["lon"], staff["lat"]).reshape(-1, 2),
        ]
    )
    split = rg.split_at(network, rg.snap_to_roads(network, points))
    travel = rg.place_travel_matrix(split)
    n = len(units)
    have, need = _skills(staff, units, req.match_department)
    inspectors = [
        Inspector(base=n + i, name=str(name), skills=have[i], max_stops=req.max_stops)
        for i, name in enumerate(staff["name"])
    ]
    ids = units["id"].tolist()
    opens = [_seconds(req.windows[u][0]) if u in req.windows else None for u in ids]
    closes = [_seconds(req.windows[u][1]) if u in req.windows else None for u in ids]
    plan = plan_routes(
        travel,
        range(n),
        service,
        inspectors,
        day,
        open_s=opens,
        close_s=closes,
        skill=need,
        names=units["name"].tolist(),
        time_limit_s=req.time_limit_s,
    )
    body = _plan_body(req, day, staff, units, points, split, plan)
    values = {
        "town_code": req.town,
        "day": req.day,
        "author": actor.username,
        "staff_ids": [int(i) for i in staff["id"]],
        "department_codes": sorted({str(d) for d in staff["department_code"]}),
        "village_codes": sorted({str(v) for v in units["village_code"].dropna()}),
        "stop_count": n,
        "unplanned_count": len(plan.unplanned),
        "travel_s": plan.travel_s,
        "solver": plan.solver,
        "plan": body,
    }
    route_id = conn.execute(insert(InspectionRoute).values(**values).returning(InspectionRoute.id))
    new_id = int(route_id.scalar_one())
    summary = {
        k: values[k] for k in ("day", "staff_ids", "stop_count", "unplanned_count", "travel_s")
    }
    record(conn, actor, "plan", "inspection_routes", new_id, None, summary, town_code=req.town)
    return {"id": new_id, **values}


def _lonlat(xy: np.ndarray) -> list[list[float]]:
    lon, lat = transformer(METRIC_SRID, STORAGE_SRID).transform(xy[:, 0], xy[:, 1])
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]


def _plan_body(
    req: RouteRequest,
    day: DayWindow,
    staff: pd.DataFrame,
    units: pd.DataFrame,
    points: np.ndarray,
    split: rg.SplitNetwork,
    plan: RoutePlan,
) -> dict[str, Any]:
    n = len(units)
    routes = []
    for r in plan.routes:
        base = n + r.inspector
        places = [base, *r.stops, base]
        legs = list(zip(places[:-1], places[1:], strict=True)) if r.stops else []
        paths = rg.road_paths(split, legs)
        coords: list[np.ndarray] = []
        for (a, b), path in zip(legs, paths, strict=True):
            # access leg out, the roads, access leg in (place points mark the access legs)
            coords += [points[a : a + 1], path, points[b : b + 1]]
        line = _lonlat(np.vstack(coords)) if coords else []
        dedup = [c for k, c in enumerate(line) if k == 0 or c != line[k - 1]]
        s = staff.iloc[r.inspector]
        routes.append(
            {
                "staff_id": int(s["id"]),
                "staff_name": str(s["name"]),
                "base": _lonlat(points[base : base + 1])[0],
                "leave_base": _clock(r.leave_base_s),
                "return_base": _clock(r.return_base_s),
                "travel_s": r.travel_s,
                "lunch": None if r.lunch is None else [_clock(r.lunch[0]), _clock(r.lunch[1])],
                "stops": [
                    {
                        "order": j + 1,
                        "unit_id": int(units.iloc[v.stop]["id"]),
                        "code": str(units.iloc[v.stop]["code"]),
                        "name": str(units.iloc[v.stop]["name"]),
                        "address": units.iloc[v.stop]["address"],
                        "lon": float(units.iloc[v.stop]["lon"]),
                        "lat": float(units.iloc[v.stop]["lat"]),
                        "arrival": _clock(v.arrival_s),
                        "start": _clock(v.start_s),
                        "departure": _clock(v.departure_s),
                        "access_m": round(float(split.snap.access_m[v.stop]), 1),
                    }
                    for j, v in enumerate(r.visits)
                ],
                "geometry": {"type": "LineString", "coordinates": dedup},
            }
        )
    return {
        "day": req.day.isoformat(),
        "window": {
            "start": _clock(day.start_s),
            "end": _clock(day.end_s),
            "lunch": None
            if day.lunch_start_s is None or day.lunch_end_s is None
            else [_clock(day.lunch_start_s), _clock(day.lunch_end_s)],
        },
        "routes": routes,
        "unplanned": [
            {
                "unit_id": int(units.iloc[u.stop]["id"]),
                "name": str(units.iloc[u.stop]["name"]),
                "code": u.code,
                "reason": u.reason,
            }
            for u in plan.unplanned
        ],
    }


def get_route(conn: Connection, route_id: int, scope: Scope) -> dict[str, Any]:
    """A stored plan the scope may see; 404 otherwise (existence is not revealed)."""
    row = conn.execute(q.route_by_id(route_id, scope)).mappings().one_or_none()
    if row is None:
        raise NotFound(f"路线 {route_id} 不存在或不在您的范围内 (route not found)")
    return dict(row)


def route_gpx(route: dict[str, Any]) -> bytes:
    """GPX 1.1 of a stored plan: each stop a waypoint, each inspector's day a route and a track.

    Navigation apps (奥维, 两步路, OsmAnd) read waypoints and tracks; coordinates are CGCS2000,
    which equals WGS 84 within the GPX's precision for navigation (≤ 1 m).
    """
    ET.register_namespace("", GPX_NS)
    gpx = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "gridsafe"})
    meta = ET.SubElement(gpx, f"{{{GPX_NS}}}metadata")
    ET.SubElement(meta, f"{{{GPX_NS}}}name").text = f"检查路线 {route['id']} {route['day']}"
    plan = route["plan"]
    for r in plan["routes"]:
        for s in r["stops"]:
            wpt = ET.SubElement(gpx, f"{{{GPX_NS}}}wpt", _latlon(s["lon"], s["lat"]))
            ET.SubElement(wpt, f"{{{GPX_NS}}}name").text = f"{s['order']}. {s['name']}"
            ET.SubElement(wpt, f"{{{GPX_NS}}}desc").text = (
                f"{r['staff_name']} {s['arrival'][:5]}–{s['departure'][:5]} {s['address'] or ''}"
            ).strip()
    for r in plan["routes"]:
        rte = ET.SubElement(gpx, f"{{{GPX_NS}}}rte")
        ET.SubElement(rte, f"{{{GPX_NS}}}name").text = f"{r['staff_name']} {plan['day']}"
        for s in r["stops"]:
            pt = ET.SubElement(rte, f"{{{GPX_NS}}}rtept", _latlon(s["lon"], s["lat"]))
            ET.SubElement(pt, f"{{{GPX_NS}}}name").text = s["name"]
    for r in plan["routes"]:
        trk = ET.SubElement(gpx, f"{{{GPX_NS}}}trk")
        ET.SubElement(trk, f"{{{GPX_NS}}}name").text = f"{r['staff_name']} {plan['day']}"
        seg = ET.SubElement(trk, f"{{{GPX_NS}}}trkseg")
        for lon, lat in r["geometry"]["coordinates"]:
            ET.SubElement(seg, f"{{{GPX_NS}}}trkpt", _latlon(lon, lat))
    body: bytes = ET.tostring(gpx, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _latlon(lon: float, lat: float) -> dict[str, str]:
    return {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"}

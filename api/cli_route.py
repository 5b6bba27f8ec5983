"""``gridsafe route``: plan an inspection day on the command line; print it, write GeoJSON/GPX."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _window(text: str) -> tuple[int, dt.time, dt.time]:
    """``UNIT_ID=HH:MM-HH:MM``."""
    try:
        unit, span = text.split("=", 1)
        open_, close = span.split("-", 1)
        return int(unit), dt.time.fromisoformat(open_), dt.time.fromisoformat(close)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"window {text!r}: expected UNIT_ID=HH:MM-HH:MM") from exc


def cmd_route(args: argparse.Namespace) -> int:
    from gis.access import Scope
    from gis.audit import Actor
    from gis.db.engine import get_engine
    from gis.settings import get_settings
    from gis.workflows import inspection_routes as wf

    settings = get_settings()
    town = args.town or settings.town_code
    units = None if args.units == ["due"] else [int(u) for u in args.units]
    lunch = (None, None) if args.no_lunch else (args.lunch_start, args.lunch_end)
    req = wf.RouteRequest(
        town=town,
        day=dt.date.fromisoformat(args.day),
        staff_ids=args.staff,
        unit_ids=units,
        start=args.start,
        end=args.end,
        lunch_start=lunch[0],
        lunch_end=lunch[1],
        windows={u: (a, b) for u, a, b in args.window or []},
        match_department=args.match_department,
        max_stops=args.max_stops,
        time_limit_s=args.seconds,
    )
    engine = get_engine(settings)
    with engine.begin() as conn:
        route = wf.plan_day(conn, req, Scope.unrestricted(), Actor.system("cli:route", town))
    _print(route)
    if args.gpx:
        Path(args.gpx).write_bytes(wf.route_gpx(route))
    if args.geojson:
        features = [
            {
                "type": "Feature",
                "geometry": r["geometry"],
                "properties": {k: v for k, v in r.items() if k not in ("geometry", "stops")},
            }
            for r in route["plan"]["routes"]
        ]
        Path(args.geojson).write_text(
            json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
            encoding="utf-8",
        )
    return 0


def _print(route: dict[str, Any]) -> None:
    out = sys.stdout
    plan = route["plan"]
    print(
        f"路线 {route['id']}  {plan['day']}  共 {route['stop_count']} 个站点，"
        f"行车 {route['travel_s'] // 60} 分钟",
        file=out,
    )
    for r in plan["routes"]:
        lunch = f"  午休 {r['lunch'][0][:5]}–{r['lunch'][1][:5]}" if r["lunch"] else ""
        print(
            f"\n{r['staff_name']}  出发 {r['leave_base'][:5]}  返回 {r['return_base'][:5]}"
            f"  行车 {r['travel_s'] // 60} 分钟{lunch}",
            file=out,
        )
        for s in r["stops"]:
            print(
                f"  {s['order']:>2}. {s['arrival'][:5]} 到  {s['start'][:5]}–{s['departure'][:5]}"
                f"  {s['name']}  {s['address'] or ''}",
                file=out,
            )
    for u in plan["unplanned"]:
        print(f"未排入: {u['reason']}", file=out)


def add_commands(sub: Any) -> None:
    route = sub.add_parser("route", help="plan an inspection day on the town's roads")
    route.add_argument("--day", required=True, help="YYYY-MM-DD")
    route.add_argument("--staff", type=int, nargs="+", required=True, help="staff ids")
    route.add_argument("--units", nargs="+", required=True, help='unit ids, or "due"')
    route.add_argument("--town", default=None)
    route.add_argument("--start", type=_time, default=dt.time(8, 30))
    route.add_argument("--end", type=_time, default=dt.time(17, 30))
    route.add_argument("--lunch-start", type=_time, default=dt.time(12, 0))
    route.add_argument("--lunch-end", type=_time, default=dt.time(13, 30))
    route.add_argument("--no-lunch", action="store_true")
    route.add_argument(
        "--window", type=_window, action="append", help="UNIT_ID=HH:MM-HH:MM (repeatable)"
    )
    route.add_argument("--match-department", action="store_true")
    route.add_argument("--max-stops", type=int, default=None, help="most stops per inspector")
    route.add_argument("--seconds", type=float, default=1.0, help="solver budget")
    route.add_argument("--gpx", help="also write the GPX here")
    route.add_argument("--geojson", help="also write the route lines as GeoJSON here")
    route.set_defaults(func=cmd_route)

"""Planned days on the demo town: road-bound geometry (Shapely witness), windows, lunch, GPX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from lxml import etree
from sqlalchemy import Connection, text

from gis.access import Scope
from gis.audit import Actor
from gis.errors import InvalidInput, NotFound
from gis.workflows import inspection_routes as wf
from tests.conftest import DEMO_TOWN

XSD = Path(__file__).resolve().parents[2] / "gpx-1.1.xsd"
ACTOR = Actor.system("test", DEMO_TOWN)


def _secs(clock: str) -> int:
    h, m, s = (int(x) for x in clock.split(":"))
    return h * 3600 + m * 60 + s


def _inspectors_with_units(conn: Connection, k: int) -> list[int]:
    rows = conn.execute(
        text(
            "SELECT id FROM staff WHERE town_code = :t AND role = 'inspector' AND active"
            " AND geom IS NOT NULL ORDER BY id LIMIT :k"
        ),
        {"k": k, "t": DEMO_TOWN},
    ).scalars()
    return [int(r) for r in rows]


def _units(conn: Connection, n: int) -> list[int]:
    rows = conn.execute(
        text("SELECT id FROM units WHERE town_code = :t ORDER BY md5(id::text) LIMIT :n"),
        {"t": DEMO_TOWN, "n": n},
    ).scalars()
    return [int(r) for r in rows]


def _roads(conn: Connection) -> gpd.GeoDataFrame:
    return gpd.read_postgis(
        "SELECT ST_Transform(geom, 4547) AS geom FROM roads WHERE town_code = %(t)s",
        conn,
        geom_col="geom",
        params={"t": DEMO_TOWN},
    )


@pytest.fixture
def team_plan(db_conn: Connection) -> dict[str, object]:
    staff = _inspectors_with_units(db_conn, 2)
    units = _units(db_conn, 16)
    # Three stops with afternoon or morning windows; lunch 12:00–13:30.
    windows = {
        units[0]: (dt.time(14, 0), dt.time(15, 0)),
        units[1]: (dt.time(9, 0), dt.time(10, 30)),
        units[2]: (dt.time(13, 30), dt.time(16, 0)),
    }
    req = wf.RouteRequest(
        town=DEMO_TOWN,
        day=dt.date(2024, 6, 3),
        staff_ids=staff,
        unit_ids=units,
        windows=windows,
        time_limit_s=0.5,
    )
    return wf.plan_day(db_conn, req, Scope.unrestricted(), ACTOR)


def test_route_vertices_lie_on_the_roads(db_conn: Connection, team_plan: dict) -> None:
    roads = shapely.union_all(_roads(db_conn).geometry.to_numpy())
    plan = team_plan["plan"]
    from gis.crs import METRIC_SRID, STORAGE_SRID, transformer

    to_m = transformer(STORAGE_SRID, METRIC_SRID)
    checked = 0
    for r in plan["routes"]:
        coords = np.array(r["geometry"]["coordinates"])
        if len(coords) == 0:
            continue
        x, y = to_m.transform(coords[:, 0], coords[:, 1])
        vertices = shapely.points(np.column_stack([x, y]))
        # Access-leg ends are the places themselves (base and units): set aside.
        places = np.array([r["base"], *[[s["lon"], s["lat"]] for s in r["stops"]]])
        px, py = to_m.transform(places[:, 0], places[:, 1])
        at_place = (
            shapely.distance(
                vertices[:, None], shapely.points(np.column_stack([px, py]))[None, :]
            ).min(axis=1)
            < 0.5
        )
        d = shapely.distance(roads, vertices[~at_place])
        assert d.max() < 1.0
        # And the line between two road vertices follows the road (no short cut across fields):
        # the midpoint of every such segment is on the road too.
        on_road = ~at_place
        both = on_road[:-1] & on_road[1:]
        mid = np.column_stack([(x[:-1] + x[1:]) / 2, (y[:-1] + y[1:]) / 2])[both]
        assert shapely.distance(roads, shapely.points(mid)).max() < 1.0
        # Base at both ends and every stop once (a place on the road itself may add its road
        # point too, which is also within 1 m of the road).
        assert at_place.sum() >= len(r["stops"]) + 2
        checked += int((~at_place).sum())
    assert checked > 50


def test_every_arrival_fits_its_window_and_lunch_is_kept(team_plan: dict) -> None:
    plan = team_plan["plan"]
    placed = [s for r in plan["routes"] for s in r["stops"]]
    unplanned = plan["unplanned"]
    assert len(placed) + len(unplanned) == 16
    assert len(placed) >= 12
    for r in plan["routes"]:
        t = _secs(r["leave_base"])
        lunch = r["lunch"]
        for s in r["stops"]:
            a, b, d = _secs(s["arrival"]), _secs(s["start"]), _secs(s["departure"])
            assert t <= a <= b < d
            assert _secs("08:30:00") <= b and d <= _secs("17:30:00")
            if lunch:
                l0, l1 = _secs(lunch[0]), _secs(lunch[1])
                assert l1 - l0 == 90 * 60
                assert d <= l0 or b >= l1  # no visit overlaps the break
            t = d
        assert _secs(r["return_base"]) <= _secs("17:30:00")


def test_time_windows_are_met(db_conn: Connection) -> None:
    staff = _inspectors_with_units(db_conn, 1)
    units = _units(db_conn, 8)
    windows = {
        units[0]: (dt.time(14, 0), dt.time(14, 30)),
        units[1]: (dt.time(9, 0), dt.time(9, 45)),
    }
    req = wf.RouteRequest(
        town=DEMO_TOWN,
        day=dt.date(2024, 6, 3),
        staff_ids=staff,
        unit_ids=units,
        windows=windows,
        time_limit_s=0.3,
    )
    plan = wf.plan_day(db_conn, req, Scope.unrestricted(), ACTOR)["plan"]
    stops = {s["unit_id"]: s for r in plan["routes"] for s in r["stops"]}
    left = {u["unit_id"]: u for u in plan["unplanned"]}
    for unit, (open_, close) in windows.items():
        if unit in left:
            assert "时间窗" in left[unit]["reason"]
            continue
        start = _secs(stops[unit]["start"])
        assert _secs(open_.isoformat()) <= start <= _secs(close.isoformat())


def test_gpx_validates_against_the_gpx_11_schema(team_plan: dict) -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.fromstring(wf.route_gpx(team_plan))
    schema.assertValid(doc)
    ns = {"g": wf.GPX_NS}
    n_stops = sum(len(r["stops"]) for r in team_plan["plan"]["routes"])
    assert len(doc.findall("g:wpt", ns)) == n_stops
    assert len(doc.findall("g:trk/g:trkseg/g:trkpt", ns)) == sum(
        len(r["geometry"]["coordinates"]) for r in team_plan["plan"]["routes"]
    )


def test_stored_and_audited(db_conn: Connection, team_plan: dict) -> None:
    stored = wf.get_route(db_conn, team_plan["id"], Scope.unrestricted())
    assert stored["plan"] == team_plan["plan"]
    n = db_conn.execute(
        text(
            "SELECT count(*) FROM audit_log WHERE table_name = 'inspection_routes' AND row_key = :k"
        ),
        {"k": str(team_plan["id"])},
    ).scalar_one()
    assert n == 1


def test_bad_requests_are_refused_clearly(db_conn: Connection) -> None:
    staff = _inspectors_with_units(db_conn, 1)
    units = _units(db_conn, 2)
    base = dict(town=DEMO_TOWN, day=dt.date(2024, 6, 3), time_limit_s=0.1)
    with pytest.raises(NotFound, match="检查人员"):
        wf.plan_day(
            db_conn,
            wf.RouteRequest(staff_ids=[999999], unit_ids=units, **base),
            Scope.unrestricted(),
            ACTOR,
        )
    with pytest.raises(InvalidInput, match="too short"):
        wf.plan_day(
            db_conn,
            wf.RouteRequest(
                staff_ids=staff,
                unit_ids=units,
                start=dt.time(9, 0),
                end=dt.time(9, 10),
                lunch_start=None,
                lunch_end=None,
                **base,
            ),
            Scope.unrestricted(),
            ACTOR,
        )
    db_conn.execute(
        text("UPDATE units SET geom = ST_SetSRID(ST_MakePoint(116.0, 30.0), 4490) WHERE id = :u"),
        {"u": units[0]},
    )
    with pytest.raises(InvalidInput, match="outside the town"):
        wf.plan_day(
            db_conn,
            wf.RouteRequest(staff_ids=staff, unit_ids=units, **base),
            Scope.unrestricted(),
            ACTOR,
        )

"""Coverage gaps on the demo town: each type's count against an independent computation, scope.

The demo town is perturbed inside the test's transaction (a unit moved outside every grid, one
onto a shared boundary, one registered in the wrong village, a few responsibilities with an
overloaded inspector and an incomplete team) so every gap type occurs; the witnesses below use
brute-force Shapely distances, GeoPandas buffers and networkx, never ``gis.analysis.coverage``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from api.dependencies import get_scope
from gis.access import Role, Scope
from gis.workflows.coverage import scoped_gaps
from tests.conftest import DEMO_TOWN

AS_OF = dt.date(2024, 12, 31)
TOL = 1.0
MINUTES = 5.0
ACCESS = 15 / 3.6
TEAM = {
    "team_regulator",
    "team_town_cadre",
    "team_village_staff",
    "team_fire_police",
    "team_professional",
}
# Who may hold which post, written out from the rules in the README (not read from the code).
SUPERVISORS = {"inspector", "office_head", "town_cadre", "police", "firefighter"}
CADRES = {"leader", "town_cadre", "office_head"}
ROLE_STAFF = {
    "grid_chief": CADRES,
    "grid_member": {"village_staff"},
    "unit_inspector": SUPERVISORS,
    "team_regulator": SUPERVISORS,
    "team_town_cadre": CADRES,
    "team_village_staff": {"village_staff"},
    "team_fire_police": {"firefighter", "police"},
    "team_professional": {"professional"},
}
SAME_DEPARTMENT = {"unit_inspector", "team_regulator"}


def _gdf(conn: Connection, sql: str) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), conn, geom_col="geom").to_crs(4547)


@pytest.fixture
def perturbed(db_conn: Connection) -> Connection:
    """The demo town with one of every kind of problem planted (rolled back after the test)."""
    units = _gdf(db_conn, "SELECT id, village_code, geom FROM units ORDER BY id")
    villages = _gdf(db_conn, "SELECT code, geom FROM villages ORDER BY code")
    # A point on a boundary shared by two villages.
    a, b = next(
        (i, j)
        for i in range(len(villages))
        for j in range(i + 1, len(villages))
        if villages.geometry.iloc[i]
        .boundary.intersection(villages.geometry.iloc[j].boundary)
        .length
        > 50
    )
    shared = villages.geometry.iloc[a].boundary.intersection(villages.geometry.iloc[b].boundary)
    on_edge = shapely.line_interpolate_point(shapely.line_merge(shared), 0.5, normalized=True)
    if on_edge.is_empty:
        on_edge = shared.representative_point()
    far = shapely.Point(villages.total_bounds[2] + 5000, villages.total_bounds[3] + 5000)
    moved = gpd.GeoSeries([on_edge, far], crs=4547).to_crs(4490)
    ids = units["id"].tolist()
    for uid, pt in zip(ids[:2], moved, strict=True):
        db_conn.execute(
            text("UPDATE units SET geom = ST_SetSRID(ST_GeomFromText(:w), 4490) WHERE id = :i"),
            {"w": pt.wkt, "i": uid},
        )
    # A unit registered in another village than the one it lies in.
    third = units.iloc[2]
    other = next(c for c in villages["code"] if c != third["village_code"])
    db_conn.execute(
        text("UPDATE units SET village_code = :v WHERE id = :i"),
        {"v": other, "i": int(third["id"])},
    )
    staff = pd.read_sql(
        text("SELECT id, role, department_code, home_village_code FROM staff ORDER BY id"),
        db_conn,
    )
    key_units = pd.read_sql(
        text(
            "SELECT id, village_code, department_code FROM units WHERE fire_key_level <> 'none'"
            " AND status IN ('operating', 'seasonal') ORDER BY id"
        ),
        db_conn,
    )
    # The first staff member stands for someone recorded in posts the rules do not let them
    # hold: inspector of 60 units of every department, one 五包一 role of a second key unit.
    inspector = int(staff["id"].iloc[0])
    cadres = staff[staff["role"].isin(list(CADRES))]["id"].astype(int).tolist()
    rows = [(cadres[0], "grid_chief", villages["code"].iloc[0], None)]
    # A chief who has since left: the village still counts as without one (deactivated below).
    retired = cadres[-1]
    rows.append((retired, "grid_chief", villages["code"].iloc[1], None))
    village_staff = staff[staff["role"] == "village_staff"].iloc[0]
    rows.append((int(village_staff["id"]), "grid_member", village_staff["home_village_code"], None))
    rows += [(inspector, "unit_inspector", None, uid) for uid in ids[:60]]

    def holder(role: str, unit: pd.Series) -> int:
        ok = staff["role"].isin(list(ROLE_STAFF[role])) & (staff["id"] != retired)
        if role in SAME_DEPARTMENT:
            ok &= staff["department_code"] == unit["department_code"]
        if role == "team_village_staff":
            ok &= staff["home_village_code"] == unit["village_code"]
        return int(staff.loc[ok, "id"].iloc[0])

    complete = key_units.iloc[0]  # a complete team of eligible people
    rows += [(holder(r, complete), r, None, int(complete["id"])) for r in sorted(TEAM)]
    partial = key_units.iloc[1]
    rows += [(inspector, "team_professional", None, int(partial["id"]))]  # incomplete team
    for staff_id, role, village, unit in rows:
        db_conn.execute(
            text(
                "INSERT INTO responsibilities (town_code, staff_id, role, village_code, unit_id,"
                " valid_from) VALUES (:t, :s, :r, :v, :u, '2024-01-01')"
            ),
            {"t": DEMO_TOWN, "s": staff_id, "r": role, "v": village, "u": unit},
        )
    db_conn.execute(
        text("UPDATE staff SET capacity_units = 10, active = true WHERE id = :i"), {"i": inspector}
    )
    db_conn.execute(text("UPDATE staff SET active = false WHERE id = :i"), {"i": retired})
    return db_conn


def _months_after(d: dt.date, months: int) -> dt.date:
    total = d.year * 12 + d.month - 1 + months
    y, m = divmod(total, 12)
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(y, m + 1, day)
        except ValueError:
            continue
    raise AssertionError


def expected_counts(conn: Connection) -> dict[str, int]:
    """Every gap type's count, computed the slow, obvious way."""
    units = _gdf(conn, "SELECT * FROM units ORDER BY id")
    villages = _gdf(conn, "SELECT code, town_code, geom FROM villages ORDER BY code")
    resp = pd.read_sql(
        text(
            "SELECT r.* FROM responsibilities r JOIN staff s ON s.id = r.staff_id"
            " WHERE s.active AND r.valid_from <= :d AND (r.valid_to IS NULL OR r.valid_to > :d)"
        ),
        conn,
        params={"d": AS_OF},
    )
    staff = pd.read_sql(text("SELECT * FROM staff"), conn)
    obliged = units[units["status"].isin(["operating", "seasonal"])]
    out: dict[str, int] = {}

    # Containment by brute-force distances in EPSG:4547.
    outside = boundary = mismatch = 0
    for row in units.itertuples():
        d_poly = villages.distance(row.geom)
        d_edge = villages.boundary.distance(row.geom)
        if (d_edge <= TOL).any():
            boundary += 1
        elif (d_poly > 0).all():
            outside += 1
        elif row.village_code != villages["code"][d_poly == 0].iloc[0]:
            mismatch += 1
    out |= {
        "unit_outside_grid": outside,
        "unit_on_boundary": boundary,
        "unit_village_mismatch": mismatch,
    }

    # A record counts only if its holder is active (``resp`` is joined on active staff), of
    # the same town, in a role allowed for the post, of the unit's department where the post
    # needs it, and living in the grid / the unit's village where the post needs it.
    who = staff.set_index("id")
    unit_of = units.set_index("id")
    village_town = dict(zip(villages["code"], villages["town_code"], strict=True))

    def valid(rec: pd.Series) -> bool:
        person = who.loc[rec["staff_id"]]
        if rec["role"] not in ROLE_STAFF or person["role"] not in ROLE_STAFF[rec["role"]]:
            return False
        if rec["role"] in ("grid_chief", "grid_member"):
            village, town = rec["village_code"], village_town.get(rec["village_code"])
            dept = None
        else:
            unit = unit_of.loc[int(rec["unit_id"])]
            village, town, dept = unit["village_code"], unit["town_code"], unit["department_code"]
        if person["town_code"] != town:
            return False
        if rec["role"] in SAME_DEPARTMENT and person["department_code"] != dept:
            return False
        if rec["role"] in ("grid_member", "team_village_staff"):
            return bool(person["home_village_code"] == village)
        return True

    good = resp[resp.apply(valid, axis=1)] if len(resp) else resp
    chiefs = set(good.loc[good["role"] == "grid_chief", "village_code"])
    members = set(good.loc[good["role"] == "grid_member", "village_code"])
    out["village_without_chief"] = int((~villages["code"].isin(chiefs)).sum())
    out["village_without_members"] = int((~villages["code"].isin(members)).sum())
    inspected = set(good.loc[good["role"] == "unit_inspector", "unit_id"].dropna().astype(int))
    out["unit_without_inspector"] = int((~obliged["id"].isin(inspected)).sum())
    team = good[good["role"].isin(TEAM)].groupby("unit_id")["role"].agg(set)
    key = obliged[obliged["fire_key_level"] != "none"]
    out["team_incomplete"] = sum(1 for u in key["id"] if team.get(u, set()) != TEAM)
    over = 0
    for s in staff.itertuples():
        mine = resp[resp["staff_id"] == s.id]
        n_units = mine.loc[mine["role"] == "unit_inspector", "unit_id"].nunique()
        n_teams = (
            mine.loc[mine["role"].isin(TEAM), "unit_id"].nunique()
            + mine.loc[mine["role"] == "grid_chief", "village_code"].nunique()
        )
        over += n_units > s.capacity_units or n_teams > s.capacity_teams
    out["staff_over_capacity"] = over

    last = pd.read_sql(
        text(
            "SELECT unit_id, max(inspected_on) AS last FROM inspections"
            " WHERE inspected_on <= :d AND unit_id IS NOT NULL GROUP BY unit_id"
        ),
        conn,
        params={"d": AS_OF},
    ).set_index("unit_id")["last"]
    overdue = 0
    # Every unit is under a rule: closed and suspended ones monthly (seed 000 四(四)).
    for u in units.itertuples():
        monthly = (
            u.status in ("suspended", "closed") or u.high_risk or u.risk_color in ("red", "orange")
        )
        months = 1 if monthly else 3
        seen = last.get(u.id)
        overdue += seen is None or _months_after(seen, months) < AS_OF
    out["inspection_overdue"] = overdue

    # Fire cover with networkx: a virtual root joined to each station's nearest node.
    roads = _gdf(conn, "SELECT source, target, cost_s, reverse_cost_s, geom FROM roads")
    g = nx.DiGraph()
    xy: dict[int, tuple[float, float]] = {}
    for r in roads.itertuples():
        coords = list(r.geom.coords)
        xy[r.source], xy[r.target] = coords[0][:2], coords[-1][:2]
        for a, b, w in ((r.source, r.target, r.cost_s), (r.target, r.source, r.reverse_cost_s)):
            if w >= 0 and (not g.has_edge(a, b) or g[a][b]["weight"] > w):
                g.add_edge(a, b, weight=w)
    nodes = np.array(list(xy))
    pts = np.array([xy[n] for n in nodes])

    def nearest(p: shapely.Point) -> tuple[int, float]:
        d = np.hypot(pts[:, 0] - p.x, pts[:, 1] - p.y)
        return int(nodes[d.argmin()]), float(d.min())

    stations = _gdf(conn, "SELECT kind, geom FROM fire_stations")
    for s in stations[stations["kind"].isin(["fire_station", "micro_station"])].itertuples():
        node, dist = nearest(s.geom)
        g.add_edge(
            "root",
            node,
            weight=min(dist / ACCESS, g.get_edge_data("root", node, {}).get("weight", np.inf)),
        )
    times = nx.single_source_dijkstra_path_length(g, "root", weight="weight")
    beyond = 0
    for u in obliged.itertuples():
        node, dist = nearest(u.geom)
        beyond += times.get(node, np.inf) + dist / ACCESS > MINUTES * 60 + 1e-3
    out["beyond_fire_cover"] = beyond

    # Gas by buffering the lines and testing containment.
    pipes = _gdf(conn, "SELECT code, pressure_class, geom FROM gas_pipelines")

    def within(points: gpd.GeoDataFrame, lines: gpd.GeoDataFrame, d: float) -> int:
        if lines.empty or points.empty:
            return 0
        zone = lines.buffer(d, quad_segs=64).union_all()
        return int(points.geometry.intersects(zone).sum())

    bottled = obliged[obliged["gas_use"] == "bottled"]
    out["gas_bottled_near_main"] = within(bottled, pipes[pipes["pressure_class"] == "medium"], 100)
    out["gas_in_protection_corridor"] = within(obliged, pipes, 5)
    ind = obliged["industry_code"].fillna("")
    sensitive = obliged[
        ind.str.startswith(("P", "Q", "R", "H61"))
        | obliged["nine_small_category"].isin(["school", "clinic"])
        | (obliged["fire_key_level"] != "none")
    ]
    trunk = pipes[pipes["pressure_class"].isin(["high", "sub_high"])]
    out["gas_high_consequence"] = within(sensitive, trunk, 200)
    return out


@pytest.fixture
def client_as(client: TestClient) -> Iterator[TestClient]:
    """The test client with an unrestricted scope (authentication is tested elsewhere)."""
    client.app.dependency_overrides[get_scope] = Scope.unrestricted  # type: ignore[attr-defined]
    yield client
    client.app.dependency_overrides.pop(get_scope, None)  # type: ignore[attr-defined]


def test_each_gap_type_matches_an_independent_computation(
    perturbed: Connection, client_as: TestClient
) -> None:
    want = expected_counts(perturbed)
    body = client_as.get("/api/v1/gaps", params={"as_of": AS_OF.isoformat(), "limit": 1}).json()
    assert body["counts"] == want
    # Every type occurs in the perturbed town.
    assert all(n > 0 for n in want.values()), want
    assert body["numberMatched"] == sum(want.values())


def test_gaps_are_geojson_with_people_and_filters(
    perturbed: Connection, client_as: TestClient
) -> None:
    r = client_as.get(
        "/api/v1/gaps",
        params={"as_of": AS_OF.isoformat(), "type": "team_incomplete", "limit": 5000},
    )
    assert r.status_code == 200
    body = r.json()
    feats = body["features"]
    assert feats and all(f["properties"]["gap_type"] == "team_incomplete" for f in feats)
    assert all(f["geometry"]["type"] == "Point" for f in feats)
    lon, lat = feats[0]["geometry"]["coordinates"]
    assert 113 < lon < 115 and 33 < lat < 35
    partial = [
        f
        for f in feats
        if any(p["role"] == "team_professional" for p in f["properties"]["responsible"])
    ]
    assert len(partial) == 1 and "行业监管部门干部" in partial[0]["properties"]["detail"]
    village = feats[0]["properties"]["village_code"]
    only = client_as.get(
        "/api/v1/gaps", params={"as_of": AS_OF.isoformat(), "village": village, "limit": 5000}
    ).json()
    assert only["features"] and {f["properties"]["village_code"] for f in only["features"]} == {
        village
    }
    page = client_as.get("/api/v1/gaps", params={"as_of": AS_OF.isoformat(), "limit": 10}).json()
    assert page["numberReturned"] == 10 and any(link["rel"] == "next" for link in page["links"])
    assert client_as.get("/api/v1/gaps", params={"type": "nonsense"}).status_code == 422


def test_summary_worst_first(perturbed: Connection, client_as: TestClient) -> None:
    body = client_as.get("/api/v1/gaps/summary", params={"as_of": AS_OF.isoformat()}).json()
    villages = body["villages"]
    assert len(villages) == 35
    scores = [v["score"] for v in villages]
    assert scores == sorted(scores)
    assert sum(v["units"] for v in villages) <= 520
    assert body["counts"]["village_without_chief"] == 34


def test_micro_station_sites(db_conn: Connection, client_as: TestClient) -> None:
    body = client_as.get("/api/v1/gaps/micro-station-sites", params={"k": 2}).json()
    assert body["method"] in ("cp-sat", "greedy")
    assert body["newly_covered"] >= body["greedy_covered"]
    assert len(body["features"]) <= 2
    assert body["newly_covered"] <= body["uncovered_key_units"]


def test_gap_map_html(db_conn: Connection, client_as: TestClient) -> None:
    r = client_as.get("/maps/gaps", params={"as_of": AS_OF.isoformat()})
    assert r.status_code == 200
    name = "无网格长的网格"
    assert name in r.text or json.dumps(name).strip('"') in r.text


def test_village_scope_sees_only_its_village(perturbed: Connection) -> None:
    full = scoped_gaps(perturbed, Scope.unrestricted(), as_of=AS_OF)
    village = full.gaps.loc[full.gaps["subject"] == "unit", "village_code"].dropna().iloc[0]
    scope = Scope(role=Role.GRID_CHIEF, village_codes=frozenset({village}), as_of=AS_OF)
    mine = scoped_gaps(perturbed, scope, as_of=AS_OF)
    unit_villages = pd.read_sql(text("SELECT id, village_code FROM units"), perturbed).set_index(
        "id"
    )["village_code"]
    units = mine.gaps["unit_id"].dropna().astype(int)
    assert len(mine.gaps) > 0
    assert set(unit_villages[units]) == {village}  # by the ledger: what scope_clause sees
    assert set(mine.gaps.loc[mine.gaps["subject"] == "village", "village_code"]) == {village}
    assert set(mine.villages["village_code"]) == {village}
    expected = full.gaps[
        full.gaps["unit_id"].isin(unit_villages[unit_villages == village].index)
        | ((full.gaps["subject"] == "village") & (full.gaps["village_code"] == village))
    ]
    assert len(mine.gaps[mine.gaps["subject"] != "staff"]) == len(expected)
    public = scoped_gaps(perturbed, Scope(role=Role.PUBLIC), as_of=AS_OF)
    assert public.gaps.empty

"""Coverage gaps on a hand-built town with known answers, and the covering optimiser."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from gis.analysis.coverage import (
    CoverageInputs,
    CoverageParams,
    GapType,
    coverage_report,
    fire_response_times,
    locate_units,
    suggest_micro_station_sites,
)
from gis.analysis.covering import greedy_cover, max_cover
from gis.analysis.inspection_frequency import add_months, inspection_status
from gis.analysis.road_graph import road_graph, travel_times

X0, Y0 = 500_000.0, 3_770_000.0
CRS = 4547
AS_OF = dt.date(2024, 12, 31)

RULES = pd.DataFrame(
    {
        "rule": ["high_risk_industry", "red_orange_risk", "fire_key_unit", "default"],
        "priority": [1, 2, 3, 9],
        "interval_months": [1, 1, 3, 3],
    }
)


def at(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def unit(uid: int, x: float, y: float, village: str | None = "V1", **kw: object) -> dict:
    row = {
        "id": uid,
        "code": f"QY{uid:06d}",
        "name": f"单位{uid}",
        "town_code": "T1",
        "village_code": village,
        "industry_code": "F52",
        "department_code": "SCJG",
        "fire_key_level": "none",
        "nine_small_category": None,
        "high_risk": False,
        "risk_color": "blue",
        "gas_use": "none",
        "status": "operating",
        "geometry": at(x, y),
    }
    row.update(kw)
    return row


def town() -> CoverageInputs:
    """Two villages sharing the edge x=1000, a road along y=500, two pipelines, one station."""
    villages = gpd.GeoDataFrame(
        {"code": ["V1", "V2"], "name": ["一村", "二村"], "town_code": ["T1", "T1"]},
        geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000), box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000)],
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        [
            unit(1, 500, 500),  # fully covered
            unit(2, 1000, 500),  # exactly on the shared boundary
            unit(3, 3000, 500, village=None),  # outside every grid
            unit(4, 1500, 500, village="V1"),  # lies in V2, registered in V1
            unit(5, 1500, 650, village="V2", fire_key_level="town"),  # key unit, team incomplete
            unit(6, 1800, 560, village="V2", gas_use="bottled"),  # 40 m from the medium main
            unit(7, 1200, 603, village="V2", industry_code="E47"),  # 3 m from the main: corridor
            unit(8, 300, 800, industry_code="P83"),  # school 100 m from the high-pressure line
            unit(9, 4500, 500, village=None, fire_key_level="county"),  # beyond fire cover
            unit(10, 600, 400, status="closed"),  # closed: no gaps at all
            unit(11, 700, 400, status="suspended"),  # suspended: no obligations either
        ],
        crs=CRS,
    )
    staff = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6, 7],
            "code": [f"RY000{i}" for i in range(1, 8)],
            "name": ["张一", "李二", "王三", "赵四", "钱五", "孙六", "周七"],
            "town_code": "T1",
            "role": [
                "town_cadre",
                "inspector",
                "village_staff",
                "inspector",
                "police",
                "professional",
                "inspector",
            ],
            "department_code": ["AJ", "SCJG", "AJ", "SCJG", "GA", "AJ", "AJ"],
            "home_village_code": [None, None, "V2", None, None, None, None],
            "capacity_units": [0, 1, 5, 5, 0, 0, 5],
            "capacity_teams": [5, 0, 5, 5, 5, 5, 5],
            "active": [True] * 7,
        },
        geometry=[at(100 * i, 100) for i in range(1, 8)],
        crs=CRS,
    )
    resp = pd.DataFrame(
        [
            (1, "grid_chief", "V1", None),
            (3, "grid_member", "V2", None),
            (2, "unit_inspector", None, 1),
            (2, "unit_inspector", None, 2),  # staff 2 holds 2 units with capacity 1
            *[(4, "unit_inspector", None, u) for u in (3, 4, 6, 7, 8, 9)],  # 6 at capacity 5
            (3, "team_village_staff", None, 5),
            (1, "team_town_cadre", None, 5),
            (4, "team_regulator", None, 9),
            (1, "team_town_cadre", None, 9),
            (3, "team_village_staff", None, 9),  # 王三 lives in V2; unit 9 is in no village
            (5, "team_fire_police", None, 9),
            (6, "team_professional", None, 9),
        ],
        columns=["staff_id", "role", "village_code", "unit_id"],
    )
    # unit 5 has no inspector and a partial team; unit 9's team has all five holders, but its
    # village-staff member is not from its village (it lies in none), so it is incomplete.
    last = pd.Series(
        {
            1: dt.date(2024, 12, 20),
            2: dt.date(2024, 12, 1),
            4: dt.date(2024, 9, 1),
            5: dt.date(2024, 10, 15),
            6: dt.date(2024, 11, 1),
            7: dt.date(2024, 11, 1),
            8: dt.date(2024, 11, 1),
            9: dt.date(2024, 11, 1),
            3: dt.date(2024, 11, 1),
        }
    )
    nodes = [(x, 500.0) for x in range(0, 5001, 500)]
    roads = gpd.GeoDataFrame(
        {
            "source": list(range(len(nodes) - 1)),
            "target": list(range(1, len(nodes))),
            "cost_s": [50.0] * (len(nodes) - 1),
            "reverse_cost_s": [50.0] * (len(nodes) - 1),
        },
        geometry=[
            LineString([(X0 + a[0], Y0 + a[1]), (X0 + b[0], Y0 + b[1])])
            for a, b in zip(nodes, nodes[1:], strict=False)
        ],
        crs=CRS,
    )
    pipelines = gpd.GeoDataFrame(
        {"code": ["MP1", "HP1"], "pressure_class": ["medium", "high"]},
        geometry=[
            LineString([(X0, Y0 + 600), (X0 + 2000, Y0 + 600)]),
            LineString([(X0, Y0 + 900), (X0 + 2000, Y0 + 900)]),
        ],
        crs=CRS,
    )
    stations = gpd.GeoDataFrame(
        {"code": ["XF1", "YJ1"], "kind": ["fire_station", "emergency_team"]},
        geometry=[at(0, 500), at(4500, 500)],  # the emergency team does not give fire cover
        crs=CRS,
    )
    return CoverageInputs(
        villages=villages,
        units=units,
        staff=staff,
        responsibilities=resp,
        last_inspected=last,
        frequency_rules=RULES,
        roads=roads,
        pipelines=pipelines,
        fire_stations=stations,
    )


EXPECTED = {
    GapType.UNIT_OUTSIDE_GRID: {3, 9},
    GapType.UNIT_ON_BOUNDARY: {2},
    GapType.UNIT_VILLAGE_MISMATCH: {4},
    GapType.UNIT_WITHOUT_INSPECTOR: {5},
    GapType.TEAM_INCOMPLETE: {5, 9},
    # never inspected: none; monthly (high risk/red/orange): none; quarterly: unit 4 (2024-09-01
    # + 3 months = 2024-12-01 < 2024-12-31)
    GapType.INSPECTION_OVERDUE: {4},
    GapType.BEYOND_FIRE_COVER: {9},
    GapType.GAS_BOTTLED_NEAR_MAIN: {6},
    GapType.GAS_IN_PROTECTION_CORRIDOR: {7},
    GapType.GAS_HIGH_CONSEQUENCE: {8},
}


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return coverage_report(town(), CoverageParams(as_of=AS_OF))


def test_every_gap_type_is_found(report) -> None:  # type: ignore[no-untyped-def]
    counts = report.counts()
    assert all(counts[t.value] > 0 for t in GapType), counts


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_unit_gaps_are_exactly_the_known_ones(report, kind: GapType) -> None:  # type: ignore[no-untyped-def]
    found = report.gaps.loc[report.gaps["gap_type"] == kind.value, "unit_id"]
    assert set(found.astype(int)) == EXPECTED[kind]


def test_grid_and_staff_gaps(report) -> None:  # type: ignore[no-untyped-def]
    g = report.gaps
    assert g.loc[g["gap_type"] == "village_without_chief", "village_code"].tolist() == ["V2"]
    assert g.loc[g["gap_type"] == "village_without_members", "village_code"].tolist() == ["V1"]
    over = g[g["gap_type"] == "staff_over_capacity"]
    # staff 2: 2 units at capacity 1; staff 4: 6 units at capacity 5
    assert sorted(over["staff_id"].astype(int)) == [2, 4]


def test_gap_rows_carry_reason_people_and_geometry(report) -> None:  # type: ignore[no-untyped-def]
    g = report.gaps
    assert g.crs.to_epsg() == 4490
    team = g[(g["gap_type"] == "team_incomplete") & (g["unit_id"] == 5)].iloc[0]
    assert "行业监管部门干部" in team["detail"] and "专业人员" in team["detail"]
    assert "乡镇干部" not in team["detail"]
    assert team["label"] == GapType.TEAM_INCOMPLETE.label
    roles = {p["role"] for p in team["responsible"]}
    assert {"team_village_staff", "team_town_cadre"} <= roles
    unit1 = g[g["unit_id"] == 4].iloc[0]  # in V1 by the ledger: V1's chief is responsible
    assert any(p["role"] == "grid_chief" and p["staff_id"] == 1 for p in unit1["responsible"])
    # Geometry is the unit point, back in CGCS2000 lon/lat.
    x, y = shapely.get_coordinates(unit1.geometry)[0]
    assert 113.9 < x < 114.1 and 34.0 < y < 34.1
    assert not g.geometry.isna().any()
    # The closed unit appears in no gap.
    assert 10 not in set(g["unit_id"].dropna().astype(int))


def test_boundary_point_names_both_villages(report) -> None:  # type: ignore[no-untyped-def]
    row = report.gaps[report.gaps["gap_type"] == "unit_on_boundary"].iloc[0]
    assert "V1" in row["detail"] and "V2" in row["detail"]


def test_village_summary_worst_first(report) -> None:  # type: ignore[no-untyped-def]
    s = report.villages
    assert list(s["village_code"]) == ["V2", "V1"]
    v2 = s.iloc[0]
    assert not v2["has_chief"] and v2["has_members"]
    assert v2["key_units"] == 1 and v2["team_complete_pct"] == 0.0
    v1 = s.iloc[1]
    # V1 (by ledger or location): units 1, 2, 4, 8 supervised, each with an inspector.
    assert v1["units"] == 4 and v1["inspector_pct"] == 100.0
    assert v1["counts"]["unit_village_mismatch"] == 1


def test_locate_units_tolerance() -> None:
    v = town().villages
    pts = gpd.GeoSeries([at(999.5, 10), at(998, 10), at(2000.4, 10), at(-5, -5)], crs=CRS)
    exact = locate_units(pts, v, tolerance_m=0)
    assert exact["on_boundary"].tolist() == [False, False, False, False]
    assert exact["grid_code"].tolist() == ["V1", "V1", None, None]
    loose = locate_units(pts, v, tolerance_m=1.0)
    assert loose["on_boundary"].tolist() == [True, False, True, False]
    assert loose["candidates"].tolist()[2] == "V2"


def test_locate_units_refuses_geographic_and_mismatched_crs() -> None:
    v = town().villages
    with pytest.raises(ValueError, match="share a CRS"):
        locate_units(gpd.GeoSeries([Point(114, 34)], crs=4490), v)
    with pytest.raises(ValueError, match="projected"):
        locate_units(gpd.GeoSeries([Point(114, 34)], crs=4490), v.to_crs(4490))


def test_fire_times_match_networkx_with_one_way_and_parallel_edges() -> None:
    roads = gpd.GeoDataFrame(
        {
            "source": [1, 2, 1, 3, 2],
            "target": [2, 3, 3, 4, 4],
            "cost_s": [10.0, 10.0, 50.0, 5.0, 40.0],
            "reverse_cost_s": [10.0, -1.0, 50.0, 5.0, 40.0],  # 3 -> 2 is closed
        },
        geometry=[
            LineString([(0, 0), (100, 0)]),
            LineString([(100, 0), (200, 0)]),
            LineString([(0, 0), (200, 0)]),
            LineString([(200, 0), (300, 0)]),
            LineString([(100, 0), (300, 0)]),
        ],
        crs=CRS,
    )
    graph = road_graph(roads)
    g = nx.DiGraph()
    for r in roads.itertuples():
        for a, b, w in ((r.source, r.target, r.cost_s), (r.target, r.source, r.reverse_cost_s)):
            if w >= 0 and (not g.has_edge(a, b) or g[a][b]["w"] > w):
                g.add_edge(a, b, w=w)
    for start in (1, 4):
        want = nx.single_source_dijkstra_path_length(g, start, weight="w")
        got = travel_times(graph, np.flatnonzero(graph.node_ids == start))
        for idx, node in enumerate(graph.node_ids):
            assert got[idx] == pytest.approx(want[node], abs=1e-5)
    # From node 4 back to 2: 4->2 directly (40) beats 4->3->2 (closed).
    units = gpd.GeoSeries([Point(100, 30)], crs=CRS)
    stations = gpd.GeoSeries([Point(300, 0)], crs=CRS)
    t = fire_response_times(graph, units, stations, access_speed_ms=3.0)
    assert t[0] == pytest.approx(40 + 30 / 3.0, abs=1e-5)


def test_micro_station_sites_cover_the_uncovered_key_unit() -> None:
    inputs = town()
    s = suggest_micro_station_sites(
        inputs.roads, inputs.units, inputs.fire_stations, k=1, fire_minutes=5
    )
    assert s.uncovered_before == 1  # unit 9 (the other key unit, 5, is within 150 s)
    assert s.solution.objective == 1 and s.solution.gap == 0.0
    assert s.sites["unit_ids"].iloc[0] == [9]
    assert s.sites.crs.to_epsg() == 4490


def test_max_cover_beats_greedy_on_the_classic_trap() -> None:
    # Greedy takes the big middle site (covers 4) then one more (2) = 6; the optimum pairs the
    # two side sites for 8.
    pairs = (
        [(0, d) for d in range(2, 6)]
        + [(1, d) for d in range(0, 4)]
        + [(2, d) for d in (4, 5, 6, 7)]
    )
    sites = np.array([p[0] for p in pairs])
    demands = np.array([p[1] for p in pairs])
    w = np.ones(8)
    greedy = greedy_cover(sites, demands, w, 2)
    exact = max_cover(sites, demands, w, 2)
    assert greedy.objective == 6
    assert exact.objective == 8 and exact.status == "OPTIMAL" and set(exact.sites) == {1, 2}


def test_overdue_rules_come_from_the_table() -> None:
    units = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "status": ["operating", "operating", "suspended", "operating"],
            "high_risk": [True, False, False, False],
            "risk_color": ["blue", "orange", "blue", "blue"],
            "fire_key_level": ["none", "none", "none", "none"],
        }
    )
    last = pd.Series({1: dt.date(2024, 11, 15), 2: dt.date(2024, 12, 10), 4: dt.date(2024, 10, 1)})
    st = inspection_status(units, last, RULES, dt.date(2024, 12, 31)).set_index("unit_id")
    assert 3 not in st.index  # suspended units are not obliged
    assert st.loc[1, "overdue"] and st.loc[1, "days_overdue"] == 16
    assert not st.loc[2, "overdue"]
    assert not st.loc[4, "overdue"]  # due 2025-01-01
    slower = RULES.assign(interval_months=[2, 2, 3, 3])
    st2 = inspection_status(units, last, slower, dt.date(2024, 12, 31)).set_index("unit_id")
    assert not st2.loc[1, "overdue"]
    with pytest.raises(ValueError, match="no meaning"):
        inspection_status(units, last, pd.concat([RULES, RULES.assign(rule="x")]), AS_OF)


def test_add_months_clips_to_month_end() -> None:
    got = add_months(pd.Series([dt.date(2024, 1, 31), dt.date(2024, 11, 30)]), pd.Series([1, 3]))
    assert got.tolist() == [dt.date(2024, 2, 29), dt.date(2025, 2, 28)]


@pytest.mark.parametrize("tolerance", [0.0, 1.0, 25.0])
def test_locate_units_matches_brute_force_distances(tolerance: float) -> None:
    rng = np.random.default_rng(3)
    v = town().villages
    # An L-shaped third village makes reflex corners for the shrunk cores.
    l_shape = shapely.difference(
        box(X0, Y0 + 1000, X0 + 2000, Y0 + 2000), box(X0 + 1000, Y0 + 1500, X0 + 2000, Y0 + 2000)
    )
    v = pd.concat(
        [v, gpd.GeoDataFrame({"code": ["V3"], "name": ["三村"]}, geometry=[l_shape], crs=CRS)],
        ignore_index=True,
    )
    xy = rng.uniform([-100, -100], [2100, 2100], (3000, 2))
    xy[:200, 0] = 1000.0  # on the V1/V2 edge
    xy[200:300, 1] = 1000.0 + rng.uniform(-tolerance, tolerance, 100)  # near V1|V2 / V3
    pts = gpd.GeoSeries(shapely.points(xy + [X0, Y0]), crs=CRS)
    got = locate_units(pts, v, tolerance_m=tolerance)
    for i, p in enumerate(pts):
        d_edge = v.boundary.distance(p)
        inside = v.geometry.contains(p)
        boundary = bool((d_edge <= tolerance).any()) if tolerance else bool((d_edge == 0).any())
        assert got["on_boundary"].iloc[i] == boundary, (i, xy[i])
        if not boundary:
            want = v["code"][inside].iloc[0] if inside.any() else None
            assert got["grid_code"].iloc[i] == want, (i, xy[i])


def _gaps_of(inputs: CoverageInputs, kind: GapType) -> pd.DataFrame:
    g = coverage_report(inputs, CoverageParams(as_of=AS_OF)).gaps
    return g[g["gap_type"] == kind.value]


def test_inspector_from_the_wrong_department_is_no_inspector() -> None:
    inputs = town()
    resp = inputs.responsibilities
    # 周七 is an inspector, but of 安监 (AJ); unit 1 is supervised by 市场监管 (SCJG).
    resp.loc[(resp["role"] == "unit_inspector") & (resp["unit_id"] == 1), "staff_id"] = 7
    gaps = _gaps_of(inputs, GapType.UNIT_WITHOUT_INSPECTOR)
    assert set(gaps["unit_id"].astype(int)) == {1, 5}
    row = gaps[gaps["unit_id"] == 1].iloc[0]
    assert "周七" in row["detail"] and "不符合条件" in row["detail"]
    # The record is still there: the gap names the person recorded as responsible.
    assert any(p["staff_id"] == 7 for p in row["responsible"])


def test_inactive_team_member_leaves_the_team_incomplete() -> None:
    inputs = town()
    # A key unit in V2 with a complete, valid team.
    extra = unit(12, 1600, 450, village="V2", fire_key_level="town")
    inputs.units = gpd.GeoDataFrame(
        pd.concat([inputs.units, gpd.GeoDataFrame([extra], crs=CRS)], ignore_index=True), crs=CRS
    )
    team = [
        (4, "team_regulator"),
        (1, "team_town_cadre"),
        (3, "team_village_staff"),
        (5, "team_fire_police"),
        (6, "team_professional"),
        (4, "unit_inspector"),
    ]
    inputs.responsibilities = pd.concat(
        [
            inputs.responsibilities,
            pd.DataFrame(
                [(s, r, None, 12) for s, r in team],
                columns=["staff_id", "role", "village_code", "unit_id"],
            ),
        ],
        ignore_index=True,
    )
    inputs.last_inspected = pd.concat([inputs.last_inspected, pd.Series({12: AS_OF})])
    assert set(_gaps_of(inputs, GapType.TEAM_INCOMPLETE)["unit_id"].astype(int)) == {5, 9}

    inputs.staff.loc[inputs.staff["id"] == 6, "active"] = False  # 孙六, the professional, left
    gaps = _gaps_of(inputs, GapType.TEAM_INCOMPLETE)
    assert set(gaps["unit_id"].astype(int)) == {5, 9, 12}
    detail = gaps.loc[gaps["unit_id"] == 12, "detail"].iloc[0]
    assert detail == "缺: 专业人员（孙六已不在岗）"


def test_ineligible_grid_chief_and_inactive_member_are_grid_gaps() -> None:
    inputs = town()
    resp = inputs.responsibilities
    # 李二 (a department inspector) as V1's chief; V2's only 网格员 王三 deactivated.
    resp.loc[resp["role"] == "grid_chief", "staff_id"] = 2
    inputs.staff.loc[inputs.staff["id"] == 3, "active"] = False
    g = coverage_report(inputs, CoverageParams(as_of=AS_OF)).gaps
    chiefs = g[g["gap_type"] == "village_without_chief"].set_index("village_code")["detail"]
    assert sorted(chiefs.index) == ["V1", "V2"]
    assert "李二不符合条件" in chiefs["V1"] and "包村干部" in chiefs["V1"]
    members = g[g["gap_type"] == "village_without_members"].set_index("village_code")["detail"]
    assert sorted(members.index) == ["V1", "V2"]
    assert "王三已不在岗" in members["V2"]


def _witness(pts: gpd.GeoSeries, v: gpd.GeoDataFrame, tol: float) -> pd.DataFrame:
    """on_boundary / grid_code / candidates by plain Shapely distances, one point at a time."""
    rows = []
    for p in pts:
        d_poly = v.geometry.distance(p).to_numpy()
        d_edge = v.boundary.distance(p).to_numpy()
        near = d_edge <= max(tol, 1e-3)
        inside = d_poly == 0
        on = bool(near.any()) or int(inside.sum()) >= 2
        # Named: the grids it lies in, or for a point outside them those within tolerance.
        touched = inside if inside.any() else d_poly <= max(tol, 1e-3)
        touched = touched if on else np.zeros(len(v), bool)
        rows.append(
            {
                "on_boundary": on,
                "grid_code": None if on or not inside.any() else v["code"][inside].iloc[0],
                "n_grids": int(inside.sum()),
                "candidates": ",".join(sorted(v["code"][touched])),
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("tolerance", [0.0, 1.0])
def test_locate_units_agrees_with_a_shapely_witness_near_edges_and_reflex_corners(
    tolerance: float,
) -> None:
    """Points on, 0.5 m from and 2 m from shared and outer edges, around convex and reflex
    corners, against per-point Shapely distances (the fast path's cores must not leak)."""
    v = town().villages
    # V3: an L (reflex corner at (1000, 1500)) on top of V1|V2; V4: a notched square whose notch
    # makes two reflex corners, with a sharp sliver corner on its outer edge.
    l_shape = shapely.difference(
        box(X0, Y0 + 1000, X0 + 2000, Y0 + 2000), box(X0 + 1000, Y0 + 1500, X0 + 2000, Y0 + 2000)
    )
    notched = shapely.Polygon(
        [
            (X0 + 2000, Y0),
            (X0 + 3000, Y0),
            (X0 + 3000, Y0 + 1000),
            (X0 + 2600, Y0 + 1000),
            (X0 + 2500, Y0 + 400),
            (X0 + 2400, Y0 + 1000),
            (X0 + 2000, Y0 + 1000),
        ]
    )
    v = pd.concat(
        [
            v,
            gpd.GeoDataFrame(
                {"code": ["V3", "V4"], "name": ["三村", "四村"], "town_code": "T1"},
                geometry=[l_shape, notched],
                crs=CRS,
            ),
        ],
        ignore_index=True,
    )
    corners = np.array(
        [
            (1000, 1500),
            (2000, 1500),
            (1000, 2000),
            (0, 1000),
            (1000, 1000),
            (2000, 1000),
            (2500, 400),
            (2400, 1000),
            (2600, 1000),
            (0, 0),
            (3000, 1000),
        ],
        dtype=float,
    )
    xy = []
    for cx, cy in corners:
        for r in (0.0, 0.5, 0.999, 1.001, 2.0):
            for a in np.linspace(0, 2 * np.pi, 16, endpoint=False):
                xy.append((cx + r * np.cos(a), cy + r * np.sin(a)))
    edges = [
        ((0, 500), (1, 0)),
        ((1000, 500), (1, 0)),
        ((1500, 1000), (0, 1)),
        ((500, 0), (0, 1)),
        ((1500, 1500), (0, 1)),
        ((1000, 1750), (1, 0)),
        ((2450, 700), (6, 1)),
        ((2000, 500), (1, 0)),
    ]
    for (ex, ey), (nx_, ny_) in edges:
        n = np.array([nx_, ny_], dtype=float) / np.hypot(nx_, ny_)
        for off in (-2.0, -0.5, 0.0, 0.5, 2.0):
            xy.append((ex + off * n[0], ey + off * n[1]))
    pts = gpd.GeoSeries(shapely.points(np.array(xy) + [X0, Y0]), crs=CRS)
    got = locate_units(pts, v, tolerance_m=tolerance).reset_index(drop=True)
    want = _witness(pts, v, tolerance)
    for col in ("on_boundary", "grid_code", "n_grids", "candidates"):
        g_col = [None if pd.isna(x) else x for x in got[col].tolist()]
        w_col = [None if pd.isna(x) else x for x in want[col].tolist()]
        bad = [
            (i, xy[i], g, w) for i, (g, w) in enumerate(zip(g_col, w_col, strict=True)) if g != w
        ]
        assert not bad, (col, bad[:5])


def test_a_point_inside_two_overlapping_grids_is_ambiguous() -> None:
    # Real village layers overlap at town borders (36 villages of the province dataset do): a
    # unit deep inside both is on no single grid; it is flagged with both codes.
    villages = gpd.GeoDataFrame(
        {"code": ["a", "b"]}, geometry=[box(0, 0, 100, 100), box(50, 0, 150, 100)], crs=4547
    )
    points = gpd.GeoSeries([Point(75, 50), Point(20, 50), Point(130, 50)], crs=4547)
    out = locate_units(points, villages, tolerance_m=1.0)
    # witness: plain Shapely containment
    inside = [[v.code for v in villages.itertuples() if v.geometry.contains(p)] for p in points]
    assert inside == [["a", "b"], ["a"], ["b"]]
    assert out["n_grids"].tolist() == [2, 1, 1]
    assert out["on_boundary"].tolist() == [True, False, False]
    assert out["grid_code"].tolist() == [None, "a", "b"]
    assert out["candidates"].iloc[0] == "a,b"

"""Coverage gaps: where grid, inspector, team, inspection, fire or gas coverage falls short.

Pure functions over GeoDataFrames. :func:`coverage_report` takes a town's (or county's) frames
and returns one row per gap — a stable English reason code, its Chinese label, the unit, grid or
person concerned, the people responsible and a geometry — plus per-unit facts and a per-village
summary. Distances and buffers are measured in EPSG:4547; containment is an in-memory STRtree
join (measured against PostGIS in ``bench/README.md``); fire cover is multi-source Dijkstra on
the road graph (:mod:`gis.analysis.road_graph`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.analysis.assignment_rules import (
    TEAM_ROLES,
    missing_slots,
    required_slots,
    seat_holders,
)
from gis.analysis.covering import CoveringSolution, greedy_cover, max_cover
from gis.analysis.inspection_frequency import inspection_status
from gis.analysis.road_graph import (
    TIME_EPS_S,
    RoadGraph,
    reach_matrix,
    road_graph,
    travel_times,
)
from gis.crs import METRIC_SRID, STORAGE_SRID
from gis.domain import (
    OPERATING_STATUSES,
    FireKeyLevel,
    FireStationKind,
    GasUse,
    LabelledEnum,
    NineSmallCategory,
    PressureClass,
    ResponsibilityRole,
)


class GapType(LabelledEnum):
    """Reason codes of coverage gaps: stable for clients, in the order reports list them."""

    UNIT_OUTSIDE_GRID = "unit_outside_grid", "单位不在任何村（社区）网格内"
    UNIT_ON_BOUNDARY = "unit_on_boundary", "单位位于网格边界上，归属不明"
    UNIT_VILLAGE_MISMATCH = "unit_village_mismatch", "单位登记村与所在网格不一致"
    VILLAGE_WITHOUT_CHIEF = "village_without_chief", "网格无网格长"
    VILLAGE_WITHOUT_MEMBERS = "village_without_members", "网格无网格员"
    UNIT_WITHOUT_INSPECTOR = "unit_without_inspector", "单位无责任监管人员"
    TEAM_INCOMPLETE = "team_incomplete", "消防安全重点单位“五包一”责任组不完整"
    STAFF_OVER_CAPACITY = "staff_over_capacity", "人员承担任务超出能力"
    INSPECTION_OVERDUE = "inspection_overdue", "单位检查逾期"
    BEYOND_FIRE_COVER = "beyond_fire_cover", "超出消防站（微型消防站）到场时间"
    GAS_BOTTLED_NEAR_MAIN = "gas_bottled_near_main", "瓶改管候选：瓶装液化气用户临近中压燃气管道"
    GAS_IN_PROTECTION_CORRIDOR = "gas_in_protection_corridor", "位于燃气管道保护范围内"
    GAS_HIGH_CONSEQUENCE = (
        "gas_high_consequence",
        "学校、医疗机构、人员密集场所位于燃气管道高后果区",
    )


#: Fire cover is given by fire stations and micro stations (not emergency teams).
COVER_STATION_KINDS = (FireStationKind.FIRE_STATION, FireStationKind.MICRO_STATION)
#: Pipelines whose monitoring buffer defines high-consequence areas.
HIGH_CONSEQUENCE_PRESSURES = (PressureClass.HIGH, PressureClass.SUB_HIGH)
#: Mains that bottled-gas users could be switched to (瓶改管).
CONVERSION_PRESSURES = (PressureClass.MEDIUM,)
#: Coordinates are kept to 1e-7° (~1 cm): closer to a boundary than this is "exactly on" it.
MIN_TOLERANCE_M = 1e-3
#: 建筑业 (GB/T 4754 section E): construction sites.
CONSTRUCTION_PREFIX = "E"

UNIT_COLUMNS = (
    "id",
    "code",
    "name",
    "village_code",
    "industry_code",
    "fire_key_level",
    "nine_small_category",
    "high_risk",
    "risk_color",
    "gas_use",
    "status",
)

#: What the assignment rules need besides: who may hold a unit's slots depends on its town and
#: supervising department (三管三必须).
SLOT_UNIT_COLUMNS = ("town_code", "department_code")

GAP_COLUMNS = [
    "gap_type",
    "label",
    "detail",
    "subject",
    "unit_id",
    "unit_code",
    "unit_name",
    "village_code",
    "staff_id",
    "responsible",
    "geometry",
]


@dataclass(frozen=True)
class CoverageParams:
    """Thresholds of the coverage rules; every distance in metres (EPSG:4547).

    ``boundary_tolerance_m``: a unit this close to a grid boundary is "on" it (coordinates are
    recorded to ~1 cm, positions are rarely better than a metre). ``fire_minutes``: response time
    a station must reach a unit in. ``access_speed_kmh``: speed over the straight leg between the
    road and a unit or station door. The gas distances are the 瓶改管 search radius, the
    pipeline protection corridor and the high-consequence monitoring buffer.
    """

    as_of: dt.date = field(default_factory=dt.date.today)
    boundary_tolerance_m: float = 1.0
    fire_minutes: float = 5.0
    access_speed_kmh: float = 15.0
    bottled_near_main_m: float = 100.0
    protection_corridor_m: float = 5.0
    monitoring_buffer_m: float = 200.0

    def __post_init__(self) -> None:
        for name in (
            "boundary_tolerance_m",
            "access_speed_kmh",
            "bottled_near_main_m",
            "protection_corridor_m",
            "monitoring_buffer_m",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.fire_minutes <= 0:
            raise ValueError(f"fire_minutes must be > 0, got {self.fire_minutes}")
        if self.access_speed_kmh == 0:
            raise ValueError("access_speed_kmh must be > 0")

    @property
    def fire_limit_s(self) -> float:
        return self.fire_minutes * 60.0

    @property
    def access_speed_ms(self) -> float:
        return self.access_speed_kmh / 3.6


@dataclass
class CoverageInputs:
    """The frames a coverage report reads (any CRS for geometry frames; all must agree).

    ``responsibilities`` holds the records current on the report date (``staff_id``, ``role``,
    ``village_code``, ``unit_id``); a record counts only if its holder is active and eligible
    under :mod:`gis.analysis.assignment_rules` (so ``villages``, ``units`` and ``staff`` carry
    ``town_code``; ``units`` and ``staff`` ``department_code``; ``staff`` ``role`` and
    ``home_village_code``); ``last_inspected`` the latest inspection date on or before it,
    indexed by unit id; ``frequency_rules`` the ``inspection_frequency_rules`` table.
    """

    villages: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    staff: gpd.GeoDataFrame
    responsibilities: pd.DataFrame
    last_inspected: pd.Series
    frequency_rules: pd.DataFrame
    roads: gpd.GeoDataFrame
    pipelines: gpd.GeoDataFrame
    fire_stations: gpd.GeoDataFrame


@dataclass
class CoverageReport:
    """Gaps (one row each, EPSG:4490), per-unit facts, a per-village summary and timings (s)."""

    gaps: gpd.GeoDataFrame
    units: pd.DataFrame
    villages: pd.DataFrame
    timings: dict[str, float]

    def counts(self) -> dict[str, int]:
        """Number of gaps per type, every type present (zeros included)."""
        found = self.gaps["gap_type"].value_counts()
        return {t.value: int(found.get(t.value, 0)) for t in GapType}


# --------------------------------------------------------------------------------------------
# Containment
# --------------------------------------------------------------------------------------------


def locate_units(
    points: gpd.GeoSeries, villages: gpd.GeoDataFrame, tolerance_m: float = 1.0
) -> pd.DataFrame:
    """Which village grid each point lies in, and whether it sits on a grid boundary.

    An in-memory STRtree join, in two passes. First every point against each polygon shrunk by
    ``tolerance_m``: a point in a shrunk core is inside that grid and clear of its edges. The
    rest (near an edge, or outside) against the polygons themselves: matching none, it is
    outside every grid; two or more, on a shared boundary; one, on the boundary if within
    ``tolerance_m`` of it; and an outside point within ``tolerance_m`` of a grid is on it too.
    ``bench/README.md`` compares this with a bare GeoPandas ``sjoin`` and with PostGIS.

    Parameters
    ----------
    points : geopandas.GeoSeries
        Unit points in a projected (metric) CRS.
    villages : geopandas.GeoDataFrame
        Village polygons with a ``code`` column, in the same CRS.
    tolerance_m : float
        How close to a boundary counts as on it; 0 means exactly on it (within
        ``MIN_TOLERANCE_M``).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``points``: ``grid_code`` (the containing village, None when outside or on
        a boundary), ``n_grids`` (polygons touched), ``on_boundary`` and ``candidates`` (for a
        point on a boundary, the codes of the villages it lies in or, outside them all, of those
        within tolerance; comma-separated, sorted; "" otherwise).

    Examples
    --------
    >>> sq = shapely.box(0, 0, 10, 10)
    >>> v = gpd.GeoDataFrame({"code": ["a"]}, geometry=[sq], crs=4547)
    >>> p = gpd.GeoSeries(shapely.points([[5, 5], [10, 5], [20, 5]]), crs=4547)
    >>> locate_units(p, v)["on_boundary"].tolist()
    [False, True, False]
    """
    if "code" not in villages.columns:
        raise ValueError("villages needs a code column")
    if points.crs is None or villages.crs is None or points.crs != villages.crs:
        raise ValueError(f"points ({points.crs}) and villages ({villages.crs}) must share a CRS")
    if not points.crs.is_projected:
        raise ValueError(f"containment in metres needs a projected CRS, got {points.crs}")
    if tolerance_m < 0:
        raise ValueError("tolerance_m must be >= 0")
    n = len(points)
    pts = points.to_numpy()
    polys = villages.geometry.to_numpy()
    codes = villages["code"].to_numpy(dtype=object)
    n_grids = np.zeros(n, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)
    on_boundary = np.zeros(n, dtype=bool)
    pairs_p: list[np.ndarray] = []
    pairs_g: list[np.ndarray] = []

    # Most points lie well inside a grid: one ``intersects`` pass (GEOS's fast point-in-polygon
    # path, as in a bare sjoin) against each polygon's core settles them; since grids do not
    # overlap a point is in at most one core. Only the few near an edge or outside every grid
    # take the exact boundary test. A core only needs to lie farther than the tolerance from its
    # polygon's edges (a smaller core just sends more points to the exact test), so the
    # results are exactly those of the distance rule; "exactly on" means within
    # ``MIN_TOLERANCE_M``, below the data's precision.
    tol = max(tolerance_m, MIN_TOLERANCE_M)
    cores = polygon_cores(polys, tol)
    cp, cg = shapely.STRtree(cores).query(pts, predicate="intersects")
    n_grids += np.bincount(cp, minlength=n)  # ``n_grids[cp] += 1`` would count a repeat once
    first[cp] = cg
    rest = np.flatnonzero(n_grids == 0)
    on_boundary[np.flatnonzero(n_grids >= 2)] = True  # overlapping grids: ambiguous too
    pairs_p.append(cp)
    pairs_g.append(cg)

    tree = shapely.STRtree(polys)
    rp, g_idx = tree.query(pts[rest], predicate="intersects")
    p_idx = rest[rp]
    n_grids[rest] = np.bincount(rp, minlength=rest.shape[0])
    first[p_idx] = g_idx
    pairs_p.append(p_idx)
    pairs_g.append(g_idx)
    on_boundary[rest[n_grids[rest] >= 2]] = True

    single = n_grids[p_idx] == 1
    if single.any():
        sp, sg = p_idx[single], g_idx[single]
        near = shapely.dwithin(shapely.boundary(polys[sg]), pts[sp], tol)
        on_boundary[sp[near]] = True

    outside = rest[n_grids[rest] == 0]
    if outside.size:
        op, og = tree.query(pts[outside], predicate="dwithin", distance=tol)
        on_boundary[outside[op]] = True
        pairs_p.append(outside[op])
        pairs_g.append(og)

    grid_code = np.where((n_grids == 1) & ~on_boundary, codes[np.maximum(first, 0)], None)
    candidates = np.full(n, "", dtype=object)
    flagged = on_boundary[np.concatenate(pairs_p)] if pairs_p else np.zeros(0, dtype=bool)
    if flagged.any():
        hits = pd.DataFrame(
            {
                "p": np.concatenate(pairs_p)[flagged],
                "code": codes[np.concatenate(pairs_g)[flagged]],
            }
        ).drop_duplicates()
        joined = hits.sort_values("code").groupby("p")["code"].agg(",".join)
        candidates[joined.index.to_numpy()] = joined.to_numpy()
    return pd.DataFrame(
        {
            "grid_code": pd.Series(grid_code, index=points.index, dtype=object),
            "n_grids": n_grids,
            "on_boundary": on_boundary,
            "candidates": candidates,
        },
        index=points.index,
    )


def polygon_cores(polygons: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Each polygon shrunk so that every point of its core lies farther than ``tolerance_m``
    from the polygon's boundary (None where no core is built).

    A core need not be the whole inward buffer, only inside it. For a single-ring polygon the
    core is the mitred inward offset, computed with numpy for all polygons at once (GEOS's
    ``buffer`` per polygon costs as much as a whole ``sjoin`` of 1M points): each edge moves
    inward by slightly more than the tolerance and each vertex to where its two moved edges
    meet. For a convex polygon whose edges all keep their direction this *is* the inward
    buffer (the intersection of the moved half-planes). At a reflex corner the mitre point
    lies beyond the rounded buffer, so the core is smaller, but a narrow neck could still let
    a moved edge pass another one; so every other core is checked with GEOS: no point of it
    within ``tolerance_m`` of the boundary (``dwithin``), its ring valid and inside the
    polygon. Polygons that fail, or have holes or several parts, get GEOS's mitred inward
    ``buffer``, checked the same way; a core that still fails is dropped.

    Parameters
    ----------
    polygons : numpy.ndarray
        Polygons or multipolygons, metric coordinates.
    tolerance_m : float
        Clearance from the boundary, > 0.

    Returns
    -------
    numpy.ndarray
        One core (a shapely geometry) or None per polygon.

    Examples
    --------
    >>> core = polygon_cores(np.array([shapely.box(0, 0, 10, 10)]), 1.0)[0]
    >>> [round(c, 3) for c in core.bounds]
    [1.0, 1.0, 9.0, 9.0]
    """
    if tolerance_m <= 0:
        raise ValueError("tolerance_m must be > 0")
    polygons = np.asarray(polygons, dtype=object)
    n = len(polygons)
    out = np.full(n, None, dtype=object)
    if n == 0:
        return out
    # Move edges a hair farther than the tolerance, so rounding in the offset arithmetic
    # (~1e-10 m at these coordinates) can never bring a core within the tolerance.
    offset = tolerance_m * (1 + 1e-7) + 1e-6
    # Single-ring polygons (one part, no holes), read from the coordinates alone: a valid ring
    # never revisits its first vertex before closing, so the first coordinate of a single-ring
    # geometry recurs only as its last. (Several rings, or rings touching at that vertex, fail
    # the test and take the GEOS path.)
    xy, geom = shapely.get_coordinates(polygons, return_index=True)
    count = np.bincount(geom, minlength=n)
    head = np.cumsum(count) - count
    tail = head + count - 1
    same = (xy[:, 0] == xy[head[geom], 0]) & (xy[:, 1] == xy[head[geom], 1])
    one_ring = (count >= 4) & (np.bincount(geom, weights=same, minlength=n) == 2)
    one_ring[one_ring] &= same[tail[one_ring]]
    idx = np.flatnonzero(one_ring)
    checked = np.zeros(n, dtype=bool)
    if idx.size:
        xy = xy[one_ring[geom]]
        count = count[idx]
        keep = np.ones(len(xy), dtype=bool)
        keep[np.cumsum(count) - 1] = False  # the closing repeat of each ring
        vx, vy = xy[keep, 0], xy[keep, 1]
        m = count - 1
        start = np.cumsum(m) - m
        end = start + m - 1
        nxt = np.arange(1, len(vx) + 1)
        nxt[end] = start
        prv = np.arange(-1, len(vx) - 1)
        prv[start] = end
        owner = np.repeat(np.arange(idx.size), m)
        ex, ey = vx[nxt] - vx, vy[nxt] - vy  # edge i runs from vertex i to vertex i + 1
        with np.errstate(divide="ignore", invalid="ignore"):
            length = np.sqrt(ex * ex + ey * ey)
            ux, uy = ex / length, ey / length
            # Orientation from the signed area, so that inward is to the left of a ccw ring.
            area2 = np.bincount(owner, weights=vx * vy[nxt] - vx[nxt] * vy, minlength=idx.size)
            side = np.where(area2 > 0, 1.0, -1.0)[owner]
            nx, ny = -side * uy, side * ux  # inward normal of edge i
            bx, by = nx[prv], ny[prv]  # ... and of the edge ending at vertex i
            f = offset / (1.0 + bx * nx + by * ny)
            mx, my = vx + f * (bx + nx), vy + f * (by + ny)
            turn = side * (ux[prv] * uy - uy[prv] * ux)  # < 0 at a reflex vertex
            kept_direction = (mx[nxt] - mx) * ex + (my[nxt] - my) * ey > 0
        good_vertex = np.isfinite(mx) & np.isfinite(my) & (length > 0) & kept_direction
        bad_vertices = np.bincount(owner, weights=~good_vertex, minlength=idx.size)
        buildable = (bad_vertices == 0) & (m >= 3)
        convex = buildable & (np.bincount(owner, weights=turn < 0, minlength=idx.size) == 0)
        closed = np.insert(np.arange(len(vx)), np.cumsum(m), start)
        ring_offsets = np.concatenate([[0], np.cumsum(m + 1)])
        rings_xy = np.column_stack([np.where(good_vertex, mx, vx), np.where(good_vertex, my, vy)])
        cores = shapely.from_ragged_array(
            shapely.GeometryType.POLYGON,
            rings_xy[closed],
            (ring_offsets, np.arange(idx.size + 1)),
        )
        out[idx[buildable]] = cores[buildable]
        checked[idx[convex]] = True
        # A non-convex ring's offset is still exact (up to the mitres) unless, before it has
        # moved by ``offset``, a reflex vertex runs into another edge (a "split event" of the
        # straight skeleton; edges shrinking to nothing are ruled out above). A vertex moves
        # ``offset * speed``, an edge no farther than its faster end, so a reflex vertex farther
        # from every other edge than the two together can hit none of them. Then the offset is
        # the skeleton's wavefront: its points are at least ``offset`` from every edge line by
        # the skeleton's roof height, which never rises faster than the distance to the
        # boundary. Rings that fail this cheap test are checked with GEOS instead.
        reflex = np.flatnonzero((turn < 0) & buildable[owner])
        if reflex.size:
            speed = np.sqrt((mx - vx) ** 2 + (my - vy) ** 2) / offset
            edge_speed = np.maximum(speed, speed[nxt])
            ring_of = owner[reflex]
            k = m[ring_of]
            r = np.repeat(reflex, k)
            j = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k - start[ring_of], k)
            with np.errstate(divide="ignore", invalid="ignore"):
                px, py = vx[r] - vx[j], vy[r] - vy[j]
                along = np.clip((px * ex[j] + py * ey[j]) / (length[j] ** 2), 0.0, 1.0)
                gap2 = (px - along * ex[j]) ** 2 + (py - along * ey[j]) ** 2
            reach = offset * (speed[r] + edge_speed[j]) * (1 + 1e-9)
            # The vertex's own two edges are where it starts from, not something it can hit.
            near = ~(gap2 > reach * reach) & (j != r) & (j != prv[r])
            clash = np.bincount(np.repeat(ring_of, k), weights=near, minlength=idx.size) > 0
        else:
            clash = np.zeros(idx.size, dtype=bool)
        checked[idx[buildable & ~convex & ~clash]] = True
        test_rings = buildable & ~convex & clash
        test = idx[test_rings]
        if test.size:  # prove it directly: valid, inside, clear of the edges
            ok = (
                shapely.is_valid(out[test])
                & shapely.contains_xy(polygons[test], mx[start[test_rings]], my[start[test_rings]])
                & ~shapely.dwithin(out[test], shapely.boundary(polygons[test]), tolerance_m)
            )
            checked[test[ok]] = True
    rest = np.flatnonzero(~checked)
    if rest.size:
        buffered = shapely.buffer(polygons[rest], -offset, join_style="mitre")
        ok = ~shapely.is_empty(buffered) & ~shapely.dwithin(
            buffered, shapely.boundary(polygons[rest]), tolerance_m
        )
        out[rest] = np.where(ok, buffered, None)
    return out


# --------------------------------------------------------------------------------------------
# Fire cover
# --------------------------------------------------------------------------------------------


def fire_response_times(
    graph: RoadGraph,
    units: gpd.GeoSeries,
    stations: gpd.GeoSeries,
    access_speed_ms: float,
    limit_s: float = np.inf,
) -> np.ndarray:
    """Seconds from the nearest station to each unit by road (inf beyond ``limit_s``).

    A station reaches the road at its nearest node, a unit is reached from its nearest node; the
    straight legs at either end are driven at ``access_speed_ms``. One multi-source Dijkstra.

    Parameters
    ----------
    graph : RoadGraph
        The road graph (metric CRS).
    units, stations : geopandas.GeoSeries
        Points in the graph's CRS.
    access_speed_ms : float
        Speed over the straight legs, m/s.
    limit_s : float
        Search horizon.

    Returns
    -------
    numpy.ndarray
        One time per unit.
    """
    if access_speed_ms <= 0:
        raise ValueError("access_speed_ms must be > 0")
    if len(units) == 0:
        return np.zeros(0)
    s_node, s_dist = graph.snap(stations.to_numpy()) if len(stations) else (np.zeros(0), None)
    offsets = None if s_dist is None else s_dist / access_speed_ms
    node_times = travel_times(graph, np.asarray(s_node), offsets, limit_s=limit_s)
    u_node, u_dist = graph.snap(units.to_numpy())
    times: np.ndarray = node_times[u_node] + u_dist / access_speed_ms
    times[times > limit_s + TIME_EPS_S] = np.inf
    return times


# --------------------------------------------------------------------------------------------
# Gas
# --------------------------------------------------------------------------------------------


def near_lines(points: gpd.GeoSeries, lines: gpd.GeoDataFrame, distance_m: float) -> pd.DataFrame:
    """Each point within ``distance_m`` of some line: the nearest such line and the distance.

    Returns a frame indexed by the positions of the matching points (``point``), with ``line``
    (position in ``lines``) and ``distance_m``.
    """
    if len(points) == 0 or len(lines) == 0:
        return pd.DataFrame({"point": [], "line": [], "distance_m": []})
    tree = shapely.STRtree(lines.geometry.to_numpy())
    p, g = tree.query(points.to_numpy(), predicate="dwithin", distance=distance_m)
    d = shapely.distance(points.to_numpy()[p], lines.geometry.to_numpy()[g])
    pairs = pd.DataFrame({"point": p, "line": g, "distance_m": d})
    nearest = pairs.sort_values(["point", "distance_m"]).drop_duplicates("point")
    return nearest.reset_index(drop=True)


def high_consequence_kind(units: pd.DataFrame) -> pd.Series:
    """学校 / 医疗机构 / 人员密集场所 for the units a pipeline accident would hurt most, else None.

    Schools: GB/T 4754 section P or 九小 school; clinics: section Q or 九小 clinic; crowded
    venues: fire-safety key units, section R (culture, sport, entertainment) and H61 (lodging).
    """
    industry = units["industry_code"].fillna("").astype(str)
    small = units["nine_small_category"]
    key = units["fire_key_level"].fillna(FireKeyLevel.NONE) != FireKeyLevel.NONE
    kind = pd.Series(None, index=units.index, dtype="object")
    crowded = key | industry.str.startswith("R") | industry.str.startswith("H61")
    kind[crowded] = "人员密集场所"
    kind[industry.str.startswith("Q") | (small == NineSmallCategory.CLINIC)] = "医疗机构"
    kind[industry.str.startswith("P") | (small == NineSmallCategory.SCHOOL)] = "学校"
    return kind


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _metric(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if frame.crs is None:
        raise ValueError(f"{name} has no CRS")
    if frame.crs.to_epsg() == METRIC_SRID:
        return frame
    return frame.to_crs(METRIC_SRID)


def _storage(frame: gpd.GeoDataFrame) -> gpd.GeoSeries:
    if frame.crs is not None and frame.crs.to_epsg() == STORAGE_SRID:
        return frame.geometry
    return frame.geometry.to_crs(STORAGE_SRID)


def _check_inputs(inputs: CoverageInputs) -> None:
    missing = [c for c in (*UNIT_COLUMNS, *SLOT_UNIT_COLUMNS) if c not in inputs.units.columns]
    if missing:
        raise ValueError(f"units lacks column(s) {missing}")
    for name, cols in (
        ("villages", ("code", "name", "town_code")),
        (
            "staff",
            (
                "id",
                "code",
                "name",
                "active",
                "capacity_units",
                "capacity_teams",
                "town_code",
                "department_code",
                "role",
                "home_village_code",
            ),
        ),
        ("responsibilities", ("staff_id", "role", "village_code", "unit_id")),
        ("pipelines", ("code", "pressure_class")),
        ("fire_stations", ("code", "kind")),
    ):
        frame = getattr(inputs, name)
        lacking = [c for c in cols if c not in frame.columns]
        if lacking:
            raise ValueError(f"{name} lacks column(s) {lacking}")
    crss = {
        name: getattr(inputs, name).crs
        for name in ("villages", "units", "roads", "pipelines", "fire_stations")
        if len(getattr(inputs, name))
    }
    if len({str(c) for c in crss.values()}) > 1:
        raise ValueError(f"geometry frames must share one CRS, got {crss}")


class _People:
    """Who is currently responsible for each unit and grid (active staff only)."""

    def __init__(self, staff: pd.DataFrame, resp: pd.DataFrame) -> None:
        active = staff[staff["active"].fillna(False).astype(bool)]
        info = active.set_index("id")[["code", "name"]]
        joined = resp.join(info, on="staff_id", how="inner")
        self.records = joined
        self.by_unit: dict[int, list[dict[str, Any]]] = {}
        self.by_village: dict[str, list[dict[str, Any]]] = {}
        labels = {r.value: r.label for r in ResponsibilityRole}
        columns = [joined[c].tolist() for c in ("staff_id", "code", "name", "role")]
        units = joined["unit_id"].tolist()
        villages = joined["village_code"].tolist()
        for staff_id, code, name, role, unit, village in zip(
            *columns, units, villages, strict=True
        ):
            person = {
                "staff_id": int(staff_id),
                "code": code,
                "name": name,
                "role": str(role),
                "role_label": labels[str(role)],
            }
            if unit is not None and unit == unit:
                self.by_unit.setdefault(int(unit), []).append(person)
            elif village is not None and village == village:
                self.by_village.setdefault(str(village), []).append(person)

    def chiefs(self, village: str | None) -> list[dict[str, Any]]:
        if village is None:
            return []
        chief = ResponsibilityRole.GRID_CHIEF
        return [p for p in self.by_village.get(village, []) if p["role"] == chief]

    def for_unit(self, unit_id: int, village: str | None) -> list[dict[str, Any]]:
        return self.by_unit.get(unit_id, []) + self.chiefs(village)


def _unit_gaps(
    kind: GapType,
    units: pd.DataFrame,
    mask: np.ndarray,
    details: Iterable[str] | str,
    people: _People,
    geometry: gpd.GeoSeries,
) -> pd.DataFrame:
    sel = units[mask]
    detail_list = [details] * len(sel) if isinstance(details, str) else list(details)
    villages = sel["grid"].tolist()
    ids = sel["id"].astype(int).tolist()
    return pd.DataFrame(
        {
            "gap_type": kind.value,
            "label": kind.label,
            "detail": detail_list,
            "subject": "unit",
            "unit_id": ids,
            "unit_code": sel["code"].tolist(),
            "unit_name": sel["name"].tolist(),
            "village_code": villages,
            "staff_id": None,
            "responsible": [people.for_unit(i, v) for i, v in zip(ids, villages, strict=True)],
            "geometry": geometry[mask].to_numpy(),
        }
    )


def _vacant_slots(inputs: CoverageInputs, units: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The slots the assignment rules require, and those without a valid holder.

    A unit's slots belong to its grid (``units["grid"]``: the ledger's village, else where it
    lies), so a unit outside every grid has no eligible 村（社区）工作人员. The vacant slots carry
    ``holder``: the staff id seated there though not valid (inactive or ineligible), if any.
    """
    slot_units = pd.DataFrame(
        {
            "id": units["id"].to_numpy(),
            "town_code": inputs.units["town_code"].to_numpy(),
            "village_code": units["grid"].to_numpy(),
            "department_code": inputs.units["department_code"].to_numpy(),
            "status": units["status"].astype(str).to_numpy(),
            "fire_key_level": units["fire_key_level"]
            .fillna(FireKeyLevel.NONE.value)
            .astype(str)
            .to_numpy(),
        }
    )
    slots = required_slots(inputs.villages, slot_units, inputs.staff)
    holders = inputs.responsibilities
    vacant = missing_slots(slots, holders, inputs.staff)
    # Who sits in the vacant slots: only the holders of those places matter for the seating.
    grid = vacant["unit_id"].isna()
    at_vacant = holders["unit_id"].isin(vacant.loc[~grid, "unit_id"].astype(int)) | (
        holders["unit_id"].isna() & holders["village_code"].isin(vacant.loc[grid, "village_code"])
    )
    seated = seat_holders(vacant, holders[at_vacant.to_numpy()]).set_index("slot")["staff_id"]
    vacant["holder"] = seated.reindex(vacant.index).astype("Int64")
    return slots, vacant


def _holder_notes(vacant: pd.DataFrame, staff: pd.DataFrame) -> pd.Series:
    """Why a held slot still counts as vacant ("张三已不在岗", "李四不符合条件（须为…）") or ""."""
    held = vacant["holder"].notna().to_numpy()
    out = pd.Series("", index=vacant.index, dtype=object)
    if not held.any():
        return out
    info = staff.set_index("id")
    ids = vacant["holder"][held].astype(int)
    names = ids.map(info["name"]).fillna("人员" + ids.astype(str))
    active = ids.map(info["active"].fillna(False).astype(bool)).fillna(False).astype(bool)
    out[held] = np.where(
        active.to_numpy(),
        names + "不符合条件（须为" + vacant["who"][held] + "）",
        names + "已不在岗",
    )
    return out


def coverage_report(inputs: CoverageInputs, params: CoverageParams | None = None) -> CoverageReport:
    """Every coverage gap of a town or county, per-unit facts and a per-village summary.

    Parameters
    ----------
    inputs : CoverageInputs
        Villages, units, staff, current responsibilities, last inspections, frequency rules,
        roads, gas pipelines and fire stations.
    params : CoverageParams, optional
        Thresholds and the report date (defaults: today, 5 minutes, 100/5/200 m).

    Returns
    -------
    CoverageReport
        ``gaps`` (GeoDataFrame in EPSG:4490, columns ``GAP_COLUMNS``, ordered by gap type,
        village, unit), ``units`` (one row per unit with its grid, coverage facts and response
        time), ``villages`` (see :func:`village_summary`) and ``timings``.
    """
    params = params or CoverageParams()
    _check_inputs(inputs)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    villages_m = _metric(inputs.villages, "villages")
    units_m = _metric(inputs.units, "units")
    unit_geom = _storage(inputs.units)
    village_geom = _storage(inputs.villages)
    lap("project")

    loc = locate_units(units_m.geometry, villages_m, params.boundary_tolerance_m)
    units = pd.DataFrame(inputs.units[list(UNIT_COLUMNS)]).copy()
    units["located"] = loc["grid_code"].to_numpy()
    units["grid"] = units["village_code"].where(units["village_code"].notna(), units["located"])
    units["grid"] = units["grid"].astype(object).where(units["grid"].notna(), None)
    lap("containment")

    people = _People(inputs.staff, inputs.responsibilities)
    parts: list[pd.DataFrame] = []

    outside = (loc["n_grids"].to_numpy() == 0) & ~loc["on_boundary"].to_numpy()
    parts.append(
        _unit_gaps(
            GapType.UNIT_OUTSIDE_GRID, units, outside, "不在任何村（社区）网格内", people, unit_geom
        )
    )
    boundary = loc["on_boundary"].to_numpy()
    parts.append(
        _unit_gaps(
            GapType.UNIT_ON_BOUNDARY,
            units,
            boundary,
            ("边界涉及: " + loc["candidates"][boundary]).tolist(),
            people,
            unit_geom,
        )
    )
    mismatch = (
        units["located"].notna()
        & units["village_code"].notna()
        & (units["located"] != units["village_code"])
    ).to_numpy()
    parts.append(
        _unit_gaps(
            GapType.UNIT_VILLAGE_MISMATCH,
            units,
            mismatch,
            (
                "登记 "
                + units["village_code"][mismatch].astype(str)
                + "，实际位于 "
                + units["located"][mismatch].astype(str)
            ).tolist(),
            people,
            unit_geom,
        )
    )
    lap("grid_gaps")

    # Staffing: grids, unit inspectors, 五包一 teams, capacity.
    current = people.records
    roles = current["role"].astype(str)
    supervised = units["status"].isin(OPERATING_STATUSES).to_numpy()
    key = (
        supervised
        & (units["fire_key_level"].fillna(FireKeyLevel.NONE) != FireKeyLevel.NONE).to_numpy()
    )
    # Which slots lack a valid holder: the assignment rules decide (an inactive or ineligible
    # holder does not count), so "covered" means the same here as in the assignment.
    slots, vacant = _vacant_slots(inputs, units)
    vacant["note"] = _holder_notes(vacant, inputs.staff)
    role_col = vacant["role"]

    village_rows = []
    for kind, role in (
        (GapType.VILLAGE_WITHOUT_CHIEF, ResponsibilityRole.GRID_CHIEF),
        (GapType.VILLAGE_WITHOUT_MEMBERS, ResponsibilityRole.GRID_MEMBER),
    ):
        # A grid lacks its chief, or its members, when none of that role's seats there has a
        # valid holder (one chief seat; one 网格员 seat per village staff member living there).
        seats = slots.loc[slots["role"] == role.value].groupby("village_code").size()
        empty = vacant[role_col == role.value]
        n_empty = empty.groupby("village_code").size().reindex(seats.index, fill_value=0)
        lacking_codes = set(seats.index[(n_empty == seats).to_numpy()].astype(str))
        notes = empty[empty["note"] != ""].groupby("village_code")["note"].agg("、".join).to_dict()
        lacking = inputs.villages["code"].astype(str).isin(lacking_codes).to_numpy()
        sel = inputs.villages[lacking]
        codes = sel["code"].astype(str).tolist()
        village_rows.append(
            pd.DataFrame(
                {
                    "gap_type": kind.value,
                    "label": kind.label,
                    "detail": [
                        f"{name} {role.label}{notes[c]}"
                        if c in notes
                        else f"{name} 未落实{role.label}"
                        for c, name in zip(codes, sel["name"], strict=True)
                    ],
                    "subject": "village",
                    "unit_id": None,
                    "unit_code": None,
                    "unit_name": None,
                    "village_code": codes,
                    "staff_id": None,
                    "responsible": [people.by_village.get(c, []) for c in codes],
                    "geometry": village_geom[lacking].to_numpy(),
                }
            )
        )
    parts.extend(village_rows)

    empty = vacant[role_col == ResponsibilityRole.UNIT_INSPECTOR.value]
    insp_note = pd.Series(empty["note"].to_numpy(), index=empty["unit_id"].astype(int).to_numpy())
    has_inspector = supervised & ~units["id"].isin(insp_note.index).to_numpy()
    no_inspector = supervised & ~has_inspector
    notes = insp_note.reindex(units["id"][no_inspector].astype(int)).fillna("")
    parts.append(
        _unit_gaps(
            GapType.UNIT_WITHOUT_INSPECTOR,
            units,
            no_inspector,
            [f"责任监管人员{n}" if n else "未明确负有监管职责的部门责任人" for n in notes.tolist()],
            people,
            unit_geom,
        )
    )

    empty = vacant[role_col.isin([r.value for r in TEAM_ROLES])]
    order = {r.value: k for k, r in enumerate(TEAM_ROLES)}
    labels = {r.value: r.label for r in TEAM_ROLES}
    # The holder's name only, not who is eligible: the missing roles' labels say that.
    short = empty["note"].str.replace(r"（须为.*）$", "", regex=True)
    text = empty["role"].map(labels) + np.where(short != "", "（" + short + "）", "")
    team_missing = (
        pd.DataFrame(
            {"unit_id": empty["unit_id"].astype(int), "o": empty["role"].map(order), "t": text}
        )
        .sort_values(["unit_id", "o"])
        .groupby("unit_id")["t"]
        .agg("、".join)
    )
    incomplete = key & units["id"].isin(team_missing.index).to_numpy()
    parts.append(
        _unit_gaps(
            GapType.TEAM_INCOMPLETE,
            units,
            incomplete,
            ("缺: " + team_missing.reindex(units["id"][incomplete].astype(int))).tolist(),
            people,
            unit_geom,
        )
    )

    staff = inputs.staff
    team = current[roles.isin([r.value for r in TEAM_ROLES]) & current["unit_id"].notna()]
    unit_load = (
        current[roles == ResponsibilityRole.UNIT_INSPECTOR.value]
        .groupby("staff_id")["unit_id"]
        .nunique()
    )
    # A grid chief post takes a team's worth of capacity (the assignment rules' pool).
    chief_load = (
        current[roles == ResponsibilityRole.GRID_CHIEF.value]
        .groupby("staff_id")["village_code"]
        .nunique()
    )
    team_load = team.groupby("staff_id")["unit_id"].nunique().add(chief_load, fill_value=0)
    load_u = staff["id"].map(unit_load).fillna(0).astype(int)
    load_t = staff["id"].map(team_load).fillna(0).astype(int)
    cap_u = staff["capacity_units"].fillna(0).astype(int)
    cap_t = staff["capacity_teams"].fillna(0).astype(int)
    over = ((load_u > cap_u) | (load_t > cap_t)).to_numpy()
    sel = staff[over]
    staff_geom = (
        _storage(staff).to_numpy()[over]
        if isinstance(staff, gpd.GeoDataFrame) and staff.crs is not None
        else [None] * int(over.sum())
    )
    parts.append(
        pd.DataFrame(
            {
                "gap_type": GapType.STAFF_OVER_CAPACITY.value,
                "label": GapType.STAFF_OVER_CAPACITY.label,
                "detail": [
                    f"{n}: 单位 {lu}/{cu}，五包一 {lt}/{ct}"
                    for n, lu, cu, lt, ct in zip(
                        sel["name"],
                        load_u[over],
                        cap_u[over],
                        load_t[over],
                        cap_t[over],
                        strict=True,
                    )
                ],
                "subject": "staff",
                "unit_id": None,
                "unit_code": None,
                "unit_name": None,
                "village_code": (
                    sel["home_village_code"].tolist() if "home_village_code" in sel else None
                ),
                "staff_id": sel["id"].astype(int).tolist(),
                "responsible": [
                    [{"staff_id": int(i), "code": c, "name": n, "role": None, "role_label": None}]
                    for i, c, n in zip(sel["id"], sel["code"], sel["name"], strict=True)
                ],
                "geometry": staff_geom,
            }
        )
    )
    lap("staffing")

    # Inspections overdue under the frequency rules.
    status = inspection_status(units, inputs.last_inspected, inputs.frequency_rules, params.as_of)
    overdue_ids = status.loc[
        status["overdue"],
        ["unit_id", "rule", "interval_months", "clause", "last_inspected_on", "days_overdue"],
    ]
    overdue_by_id = overdue_ids.set_index("unit_id")
    overdue_mask = units["id"].isin(overdue_by_id.index).to_numpy()
    facts = overdue_by_id.reindex(units["id"][overdue_mask])
    parts.append(
        _unit_gaps(
            GapType.INSPECTION_OVERDUE,
            units,
            overdue_mask,
            [
                (
                    f"从未检查（每{m}个月一次）"
                    if last is None or pd.isna(last)
                    else f"上次检查 {last}，逾期 {int(days)} 天（每{m}个月一次）"
                )
                # The clause the rule implements reaches the reader of the gap.
                + (f"；依据 {clause}" if isinstance(clause, str) and clause else "")
                for m, last, days, clause in zip(
                    facts["interval_months"],
                    facts["last_inspected_on"],
                    facts["days_overdue"],
                    facts["clause"],
                    strict=True,
                )
            ],
            people,
            unit_geom,
        )
    )
    obliged = units["id"].isin(status["unit_id"]).to_numpy()
    lap("inspections")

    # Fire cover by road.
    stations = _metric(inputs.fire_stations, "fire_stations")
    stations = stations[stations["kind"].isin(COVER_STATION_KINDS)]
    response = np.full(len(units), np.inf)
    if len(inputs.roads):
        graph = road_graph(_metric(inputs.roads, "roads"))
        response = fire_response_times(
            graph, units_m.geometry, stations.geometry, params.access_speed_ms, params.fire_limit_s
        )
    beyond = supervised & ~np.isfinite(response)
    parts.append(
        _unit_gaps(
            GapType.BEYOND_FIRE_COVER,
            units,
            beyond,
            f"{params.fire_minutes:g} 分钟内无消防站（微型消防站）可到达",
            people,
            unit_geom,
        )
    )
    lap("fire_cover")

    # Gas.
    pipes = _metric(inputs.pipelines, "pipelines")
    mains = pipes[pipes["pressure_class"].isin(CONVERSION_PRESSURES)].reset_index(drop=True)
    bottled_pos = np.flatnonzero(supervised & (units["gas_use"] == GasUse.BOTTLED).to_numpy())
    near = near_lines(units_m.geometry.iloc[bottled_pos], mains, params.bottled_near_main_m)
    mask = np.zeros(len(units), dtype=bool)
    mask[bottled_pos[near["point"].to_numpy(dtype=np.int64)]] = True
    parts.append(
        _unit_gaps(
            GapType.GAS_BOTTLED_NEAR_MAIN,
            units,
            mask,
            [
                f"距中压管道 {mains['code'].iloc[int(g)]} 约 {d:.0f} 米"
                for g, d in zip(near["line"], near["distance_m"], strict=True)
            ],
            people,
            unit_geom,
        )
    )

    all_pipes = pipes.reset_index(drop=True)
    sup_pos = np.flatnonzero(supervised)
    near = near_lines(units_m.geometry.iloc[sup_pos], all_pipes, params.protection_corridor_m)
    mask = np.zeros(len(units), dtype=bool)
    hit = sup_pos[near["point"].to_numpy(dtype=np.int64)]
    mask[hit] = True
    construction = (
        units["industry_code"].fillna("").astype(str).str.startswith(CONSTRUCTION_PREFIX).to_numpy()
    )
    parts.append(
        _unit_gaps(
            GapType.GAS_IN_PROTECTION_CORRIDOR,
            units,
            mask,
            [
                f"{'施工工地' if construction[u] else '单位'}距"
                f"{PressureClass(all_pipes['pressure_class'].iloc[int(g)]).label}管道 "
                f"{all_pipes['code'].iloc[int(g)]} {d:.1f} 米"
                f"（保护范围 {params.protection_corridor_m:g} 米）"
                for u, g, d in zip(hit, near["line"], near["distance_m"], strict=True)
            ],
            people,
            unit_geom,
        )
    )

    hc_kind = high_consequence_kind(units)
    hc_pos = np.flatnonzero(supervised & hc_kind.notna().to_numpy())
    trunk = pipes[pipes["pressure_class"].isin(HIGH_CONSEQUENCE_PRESSURES)].reset_index(drop=True)
    near = near_lines(units_m.geometry.iloc[hc_pos], trunk, params.monitoring_buffer_m)
    mask = np.zeros(len(units), dtype=bool)
    hit = hc_pos[near["point"].to_numpy(dtype=np.int64)]
    mask[hit] = True
    parts.append(
        _unit_gaps(
            GapType.GAS_HIGH_CONSEQUENCE,
            units,
            mask,
            [
                f"{hc_kind.iloc[u]}距{PressureClass(trunk['pressure_class'].iloc[int(g)]).label}"
                f"管道 {trunk['code'].iloc[int(g)]} {d:.0f} 米"
                for u, g, d in zip(hit, near["line"], near["distance_m"], strict=True)
            ],
            people,
            unit_geom,
        )
    )
    lap("gas")

    order = {t.value: i for i, t in enumerate(GapType)}
    gaps = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else pd.DataFrame(columns=GAP_COLUMNS)
    )
    gaps = (
        gaps.assign(_o=gaps["gap_type"].map(order))
        .sort_values(
            ["_o", "village_code", "unit_code", "staff_id"], na_position="last", kind="stable"
        )
        .drop(columns="_o")
        .reset_index(drop=True)
    )
    gaps_gdf = gpd.GeoDataFrame(gaps[GAP_COLUMNS], geometry="geometry", crs=STORAGE_SRID)

    team_complete = key & ~incomplete
    on_time = obliged & ~overdue_mask
    unit_facts = pd.DataFrame(
        {
            "unit_id": units["id"].to_numpy(),
            "village_code": units["grid"].to_numpy(),
            "supervised": supervised,
            "key_unit": key,
            "has_inspector": has_inspector & supervised,
            "team_complete": team_complete,
            "obliged": obliged,
            "inspected_on_time": on_time,
            "fire_response_s": response,
            "within_fire_cover": supervised & np.isfinite(response),
        }
    )
    summary = village_summary(inputs.villages, unit_facts, gaps_gdf)
    lap("assemble")
    return CoverageReport(gaps=gaps_gdf, units=unit_facts, villages=summary, timings=timings)


def gap_report(inputs: CoverageInputs, params: CoverageParams | None = None) -> gpd.GeoDataFrame:
    """The gaps alone: see :func:`coverage_report`."""
    return coverage_report(inputs, params).gaps


def village_summary(
    villages: pd.DataFrame, unit_facts: pd.DataFrame, gaps: pd.DataFrame
) -> pd.DataFrame:
    """Per-village coverage percentages and gap counts, worst village first.

    Percentages: units with an inspector (of supervised units), key units with a complete
    五包一 team, units inspected on time (of units under an inspection obligation), units within
    fire cover. ``score`` is their mean, with 0 for a grid without chief or members counted as
    one more term; villages sort by score, then by gap count, both worst first. A percentage over
    zero units is 100 (nothing to cover).
    """
    facts = unit_facts[unit_facts["supervised"]]
    grouped = facts.groupby("village_code")

    def pct(num: str, den: str | None = None) -> pd.Series:
        n = grouped[num].sum()
        d = grouped[den].sum() if den else grouped.size()
        return (100.0 * n / d.where(d > 0)).reindex(villages["code"]).fillna(100.0)

    counts = (
        gaps[gaps["village_code"].notna()]
        .groupby(["village_code", "gap_type"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=villages["code"], columns=[t.value for t in GapType], fill_value=0)
        .fillna(0)
        .astype(int)
    )
    out = pd.DataFrame(
        {
            "village_code": villages["code"].to_numpy(),
            "village_name": villages["name"].to_numpy(),
            "units": grouped.size().reindex(villages["code"]).fillna(0).astype(int).to_numpy(),
            "key_units": grouped["key_unit"]
            .sum()
            .reindex(villages["code"])
            .fillna(0)
            .astype(int)
            .to_numpy(),
            "has_chief": (counts[GapType.VILLAGE_WITHOUT_CHIEF.value] == 0).to_numpy(),
            "has_members": (counts[GapType.VILLAGE_WITHOUT_MEMBERS.value] == 0).to_numpy(),
            "inspector_pct": pct("has_inspector").to_numpy(),
            "team_complete_pct": pct("team_complete", "key_unit").to_numpy(),
            "on_time_pct": pct("inspected_on_time", "obliged").to_numpy(),
            "fire_cover_pct": pct("within_fire_cover").to_numpy(),
        }
    )
    grid_pct = 50.0 * (out["has_chief"].astype(int) + out["has_members"].astype(int))
    out["score"] = (
        out[["inspector_pct", "team_complete_pct", "on_time_pct", "fire_cover_pct"]].sum(axis=1)
        + grid_pct
    ) / 5.0
    out["gaps"] = counts.sum(axis=1).to_numpy()
    out["counts"] = [
        {k: int(v) for k, v in row.items() if v} for row in counts.to_dict(orient="records")
    ]
    return out.sort_values(
        ["score", "gaps", "village_code"], ascending=[True, False, True]
    ).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# New micro fire stations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSuggestion:
    """Chosen sites (GeoDataFrame, EPSG:4490), the solver's answer and the greedy baseline."""

    sites: gpd.GeoDataFrame
    solution: CoveringSolution
    baseline: CoveringSolution
    uncovered_before: int
    candidates: int


def suggest_micro_station_sites(
    roads: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    fire_stations: gpd.GeoDataFrame,
    k: int = 3,
    fire_minutes: float = 5.0,
    access_speed_kmh: float = 15.0,
    time_limit_s: float = 10.0,
) -> SiteSuggestion:
    """The best K road nodes for new micro fire stations: cover the most uncovered key units.

    Demand: operating fire-safety key units that no existing station reaches within
    ``fire_minutes``. Candidates: every road node that reaches at least one of them in time (one
    reverse Dijkstra per demand, bounded by the time left after the unit's access leg). Solved as
    a maximal covering model by :func:`gis.analysis.covering.max_cover`, with greedy reported
    alongside as the baseline.

    Parameters
    ----------
    roads, units, fire_stations : geopandas.GeoDataFrame
        In one CRS; ``units`` needs ``id``, ``fire_key_level`` and ``status``.
    k : int
        Number of new stations.
    fire_minutes, access_speed_kmh : float
        As in :class:`CoverageParams`.
    time_limit_s : float
        CP-SAT time limit.

    Returns
    -------
    SiteSuggestion
        ``sites`` has ``rank``, ``node_id``, ``covers`` (key units newly covered) and
        ``unit_ids``.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    params = CoverageParams(fire_minutes=fire_minutes, access_speed_kmh=access_speed_kmh)
    graph = road_graph(_metric(roads, "roads"))
    units_m = _metric(units, "units")
    stations = _metric(fire_stations, "fire_stations")
    stations = stations[stations["kind"].isin(COVER_STATION_KINDS)]
    key = (
        (units_m["fire_key_level"].fillna(FireKeyLevel.NONE) != FireKeyLevel.NONE)
        & units_m["status"].isin(OPERATING_STATUSES)
    ).to_numpy()
    key_units = units_m[key]
    times = fire_response_times(
        graph, key_units.geometry, stations.geometry, params.access_speed_ms, params.fire_limit_s
    )
    demand = key_units[~np.isfinite(times)].reset_index(drop=True)
    d_node, d_dist = (
        graph.snap(demand.geometry.to_numpy())
        if len(demand)
        else (np.zeros(0, dtype=np.int64), np.zeros(0))
    )
    slack = params.fire_limit_s - d_dist / params.access_speed_ms
    reachable = slack >= 0
    dem_idx, node_idx, secs = reach_matrix(
        graph, d_node[reachable], params.fire_limit_s, reverse=True
    )
    dem_pos = np.flatnonzero(reachable)[dem_idx]
    ok = secs <= slack[dem_pos] + TIME_EPS_S
    dem_pos, node_idx = dem_pos[ok], node_idx[ok]
    weights = np.ones(len(demand))
    solution = max_cover(node_idx, dem_pos, weights, k, time_limit_s=time_limit_s)
    baseline = greedy_cover(node_idx, dem_pos, weights, k)

    rows = []
    for rank, node in enumerate(solution.sites, start=1):
        covered = sorted(set(dem_pos[node_idx == node].tolist()))
        rows.append(
            {
                "rank": rank,
                "node_id": int(graph.node_ids[node]),
                "covers": len(covered),
                "unit_ids": [int(demand["id"].iloc[d]) for d in covered],
                "geometry": shapely.Point(graph.xy[node]),
            }
        )
    sites = gpd.GeoDataFrame(
        rows,
        columns=["rank", "node_id", "covers", "unit_ids", "geometry"],
        geometry="geometry",
        crs=METRIC_SRID,
    ).to_crs(STORAGE_SRID)
    return SiteSuggestion(
        sites=sites,
        solution=solution,
        baseline=baseline,
        uncovered_before=len(demand),
        candidates=int(np.unique(node_idx).shape[0]),
    )

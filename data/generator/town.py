"""Town extent, village tiling and micro-grids: exact tilings that survive rounding to 1e-7°."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.ops
from scipy.interpolate import CubicSpline
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Voronoi, cKDTree
from shapely.geometry.base import BaseGeometry

from data.generator.names import COMMUNITY_NAMES, village_name
from data.generator.projection import DECIMALS, geom_to_metres, to_lonlat
from gis.domain import VillageKind

#: Snap distance (degrees) that merges the same vertex computed twice by two clip operations.
_SNAP_DEG = 3e-7


@dataclass(frozen=True)
class TownSpec:
    """What distinguishes one generated town from another."""

    index: int
    code: str
    name: str
    county_code: str
    centre: tuple[float, float]
    area_km2: float = 73.4
    n_villages: int = 35
    n_seat: int = 4
    population: int = 64_000
    groups: int = 206

    @property
    def prefix9(self) -> str:
        return self.code[:9]

    @property
    def short_name(self) -> str:
        """The name without the sample-data marker, e.g. 五女店镇."""
        return self.name.split("（")[0]


@dataclass
class Village:
    """A village (村) or community (社区) grid cell; geometry canonical in lon/lat."""

    code: str
    name: str
    kind: VillageKind
    urban_rural_code: str
    population: int
    households: int
    groups_count: int
    seat: bool
    geom_ll: BaseGeometry
    geom_m: BaseGeometry
    seed_m: np.ndarray
    settlement: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def short_name(self) -> str:
        return self.name.removesuffix("村")


@dataclass
class Town:
    """The town polygon and its villages; ``geom_ll`` is exactly the union of the villages."""

    spec: TownSpec
    geom_ll: shapely.Polygon
    geom_m: shapely.Polygon
    villages: list[Village]

    @property
    def centre(self) -> np.ndarray:
        return np.asarray(self.spec.centre, dtype=float)


def town_outline(
    rng: np.random.Generator, centre: tuple[float, float], area_km2: float
) -> shapely.Polygon:
    """A smoothed random-radius star (12–16 control points, ±25 % radius), metres, given area."""
    k = int(rng.integers(12, 17))
    step = 2 * np.pi / k
    angles = np.arange(k) * step + rng.uniform(-0.2, 0.2, k) * step
    radii = 1.0 + rng.uniform(-0.25, 0.25, k)
    spline = CubicSpline(
        np.append(angles, angles[0] + 2 * np.pi), np.append(radii, radii[0]), bc_type="periodic"
    )
    theta = angles[0] + np.linspace(0, 2 * np.pi, 240, endpoint=False)
    r = np.clip(spline(theta), 0.4, None)
    # The bounding box of §5.1 is 12.0 × 10.5 km: stretch east–west.
    xy = np.column_stack([1.12 * r * np.cos(theta), 0.92 * r * np.sin(theta)])
    unit = shapely.Polygon(xy)
    xy *= np.sqrt(area_km2 * 1e6 / unit.area)
    return shapely.Polygon(xy + np.asarray(centre))


def _voronoi_regions(seeds: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """Voronoi vertices and the (bounded) vertex-index ring of every seed."""
    centre = seeds.mean(axis=0)
    # Four far sentinels put every real seed strictly inside the hull, so its region is bounded.
    far = centre + 1e6 * np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=float)
    vor = Voronoi(np.vstack([seeds, far]))
    regions = [vor.regions[vor.point_region[i]] for i in range(len(seeds))]
    if any(-1 in r or len(r) < 3 for r in regions):
        raise RuntimeError("unbounded Voronoi region despite sentinels")
    return vor.vertices, regions


def lloyd(
    seeds: np.ndarray,
    region_m: BaseGeometry,
    fixed: np.ndarray,
    iterations: int,
    keep_out: tuple[np.ndarray, float] | None = None,
) -> np.ndarray:
    """Lloyd relaxation of the seeds not marked ``fixed``, cells clipped to ``region_m``.

    ``keep_out`` (centre, radius) pushes moving seeds radially out of a disc, which keeps the
    fixed seat seeds' cells small.
    """
    seeds = seeds.copy()
    for _ in range(iterations):
        verts, regions = _voronoi_regions(seeds)
        polys = np.array([shapely.Polygon(verts[r]) for r in regions])
        cells = shapely.intersection(polys, region_m)
        cent = shapely.get_coordinates(shapely.centroid(cells))
        move = ~fixed & ~shapely.is_empty(cells)
        seeds[move] = cent[move]
        if keep_out is not None:
            d = seeds - keep_out[0]
            r = np.hypot(d[:, 0], d[:, 1])
            push = ~fixed & (r < keep_out[1])
            seeds[push] = keep_out[0] + d[push] * (keep_out[1] / np.maximum(r[push], 1.0))[:, None]
    return seeds


def _polygon_parts(geom: BaseGeometry) -> list[shapely.Polygon]:
    return [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]


def partition(region_ll: BaseGeometry, seeds_m: np.ndarray) -> list[BaseGeometry]:
    """Split a lon/lat region into the Voronoi cells of metre seeds, tiling it exactly.

    Voronoi vertices are projected and rounded once and shared by all cells; the few vertices
    that two clip operations computed separately are snapped together, so neighbouring cells
    carry bit-identical shared edges after rounding to 1e-7°.

    Parameters
    ----------
    region_ll
        The polygon to split, EPSG:4490, coordinates already on the 1e-7° grid.
    seeds_m
        (n, 2) EPSG:4547 seeds, each inside the region.

    Returns
    -------
    list of Polygon or MultiPolygon
        One cell per seed, in seed order.
    """
    seeds_m = np.asarray(seeds_m, dtype=float)
    verts, regions = _voronoi_regions(seeds_m)
    # Cut the cells to a box well beyond the region before projecting: the sentinels' far
    # vertices would otherwise leave the projection's domain and fold the polygons. Vertices
    # inside the box keep their exact coordinates, so shared edges stay bit-identical.
    box = shapely.box(*seeds_m.min(axis=0), *seeds_m.max(axis=0)).buffer(20_000, join_style=2)
    polys_m = shapely.intersection(np.array([shapely.Polygon(verts[r]) for r in regions]), box)
    polys = np.array([shapely.transform(p, to_lonlat) for p in polys_m])
    cells = shapely.intersection(polys, region_ll)
    parts = [_polygon_parts(c) for c in cells]
    rings: list[np.ndarray] = []
    owners: list[tuple[int, int, int]] = []
    for ci, polys in enumerate(parts):
        for pi, poly in enumerate(polys):
            for ri, ring in enumerate([poly.exterior, *poly.interiors]):
                rings.append(np.round(shapely.get_coordinates(ring), DECIMALS))
                owners.append((ci, pi, ri))
    allpts = np.vstack(rings)
    pairs = cKDTree(allpts).query_pairs(_SNAP_DEG, output_type="ndarray")
    if len(pairs):
        n = len(allpts)
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        # Representative of each cluster: its lexicographically smallest point.
        order = np.lexsort((allpts[:, 1], allpts[:, 0]))
        rep = np.full(labels.max() + 1, -1)
        for idx in order[::-1]:
            rep[labels[idx]] = idx
        allpts = allpts[rep[labels]]
    out_rings: dict[tuple[int, int], list[np.ndarray]] = {}
    start = 0
    for ring, (ci, pi, _ri) in zip(rings, owners, strict=True):
        pts = allpts[start : start + len(ring)]
        start += len(ring)
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
        pts = pts[keep]
        if len(pts) >= 4:
            out_rings.setdefault((ci, pi), []).append(pts)
    result: list[BaseGeometry] = []
    for ci, polys in enumerate(parts):
        built = []
        for pi in range(len(polys)):
            ring_list = out_rings.get((ci, pi))
            if not ring_list:
                continue
            poly = shapely.Polygon(ring_list[0], ring_list[1:])
            if not poly.is_valid:
                raise RuntimeError(
                    f"cell {ci} became invalid after rounding: {shapely.is_valid_reason(poly)}"
                )
            built.append(poly)
        result.append(built[0] if len(built) == 1 else shapely.MultiPolygon(built))
    return result


def _spread(total: int, weights: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Integers ∝ ``weights`` in [lo, hi] summing to ``total`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    raw = np.clip(total * w / w.sum(), lo, hi)
    out = np.floor(raw).astype(int)
    order = np.argsort(-(raw - out), kind="stable")
    i = 0
    while out.sum() < total:
        j = order[i % len(out)]
        if out[j] < hi:
            out[j] += 1
        i += 1
    while out.sum() > total:
        j = order[::-1][i % len(out)]
        if out[j] > lo:
            out[j] -= 1
        i += 1
    return out


def build_town(spec: TownSpec, rng: np.random.Generator) -> Town:
    """Draw the town outline and its villages (seat communities first), tiling it exactly.

    Seat communities keep fixed seeds ~550 m around the centre, so they stay small
    (0.6–1.2 km²); the other seeds get three Lloyd iterations.
    """
    outline_m = town_outline(rng, spec.centre, spec.area_km2)
    outline_ll = shapely.Polygon(to_lonlat(shapely.get_coordinates(outline_m.exterior)))
    centre = np.asarray(spec.centre, dtype=float)
    n_other = spec.n_villages - spec.n_seat
    ang = (
        np.pi / 4
        + np.arange(spec.n_seat) * 2 * np.pi / spec.n_seat
        + rng.uniform(-0.2, 0.2, spec.n_seat)
    )
    seat = centre + rng.uniform(300, 360, spec.n_seat)[:, None] * np.column_stack(
        [np.cos(ang), np.sin(ang)]
    )
    minx, miny, maxx, maxy = outline_m.bounds
    others: list[np.ndarray] = []
    tries = 0
    while len(others) < n_other:
        tries += 1
        p = rng.uniform([minx, miny], [maxx, maxy])
        # A minimum spacing gives Lloyd an even start, so 2–3 iterations suffice.
        spacing = 1250.0 if tries < 200 * n_other else 0.0
        if (
            np.hypot(*(p - centre)) > 1200
            and outline_m.contains(shapely.Point(p))
            and all(np.hypot(*(p - q)) > spacing for q in others)
        ):
            others.append(p)
    seeds = np.vstack([seat, np.array(others)])
    fixed = np.arange(len(seeds)) < spec.n_seat
    seeds = lloyd(seeds, outline_m, fixed, iterations=3, keep_out=(centre, 1050.0))
    cells = partition(outline_ll, seeds)
    town_ll = shapely.union_all(cells)
    if town_ll.geom_type != "Polygon" or len(town_ll.interiors) or not town_ll.is_valid:
        raise RuntimeError(f"town {spec.code} is not a simply connected polygon")

    # Village codes run north to south, west to east within 2 km bands, as in a census list.
    other_idx = np.arange(spec.n_seat, len(seeds))
    dist = np.hypot(*(seeds[other_idx] - centre).T)
    near_seat = set(other_idx[np.argsort(dist, kind="stable")[:6]].tolist())
    band = -np.floor(seeds[other_idx, 1] / 2000)
    other_idx = other_idx[np.lexsort((seeds[other_idx, 0], band))]

    seat_pop = rng.integers(2500, 4501, spec.n_seat)
    other_pop = _spread(
        spec.population - int(seat_pop.sum()), rng.uniform(1000, 2300, n_other), 1000, 2300
    )
    taken: set[str] = set()
    villages: list[Village] = []
    for i in range(spec.n_seat):
        villages.append(
            Village(
                code=f"{spec.prefix9}{i + 1:03d}",
                name=COMMUNITY_NAMES[i],
                kind=VillageKind.COMMUNITY,
                urban_rural_code="121" if i == 0 else "122",
                population=int(seat_pop[i]),
                households=0,
                groups_count=0,
                seat=True,
                geom_ll=cells[i],
                geom_m=geom_to_metres(cells[i]),
                seed_m=seeds[i],
            )
        )
    for n, i in enumerate(other_idx):
        villages.append(
            Village(
                code=f"{spec.prefix9}{201 + n:03d}",
                name=village_name(rng, taken) + "村",
                kind=VillageKind.VILLAGE,
                urban_rural_code="122" if int(i) in near_seat else "220",
                population=int(other_pop[i - spec.n_seat]),
                households=0,
                groups_count=0,
                seat=False,
                geom_ll=cells[i],
                geom_m=geom_to_metres(cells[i]),
                seed_m=seeds[i],
            )
        )
    pops = np.array([v.population for v in villages])
    groups = _spread(spec.groups, pops, 3, 10)
    for v, g in zip(villages, groups, strict=True):
        v.households = round(v.population / 3.3)
        v.groups_count = int(g)
    return Town(spec=spec, geom_ll=town_ll, geom_m=geom_to_metres(town_ll), villages=villages)


def place_settlements(town: Town, roads_m: BaseGeometry, rng: np.random.Generator) -> None:
    """Put each village's main settlement 20–35 % of the way from its centroid toward a road."""
    for v in town.villages:
        c = np.asarray(shapely.get_coordinates(v.geom_m.centroid)[0])
        if v.seat or roads_m.is_empty:
            target = c
        else:
            _, near = shapely.ops.nearest_points(shapely.Point(c), roads_m)
            target = c + rng.uniform(0.2, 0.35) * (np.array([near.x, near.y]) - c)
        inner = v.geom_m.buffer(-60)
        if inner.is_empty or not inner.contains(shapely.Point(target)):
            rp = shapely.point_on_surface(inner if not inner.is_empty else v.geom_m)
            target = np.array([rp.x, rp.y])
        v.settlement = target


@dataclass
class MicroGrid:
    """A 微网格 (村民小组) cell."""

    code: str
    village_code: str
    name: str
    geom_ll: BaseGeometry


def build_micro_grids(town: Town, rng: np.random.Generator) -> list[MicroGrid]:
    """Split each village into its 村民小组 count: Voronoi of seeds around the settlement."""
    grids: list[MicroGrid] = []
    for v in town.villages:
        seeds: list[np.ndarray] = []
        inner = v.geom_m.buffer(-20)
        minx, miny, maxx, maxy = inner.bounds
        tries = 0
        while len(seeds) < v.groups_count:
            tries += 1
            if tries < 400:
                p = v.settlement + rng.normal(0, 450, 2)
            else:
                p = rng.uniform([minx, miny], [maxx, maxy])
            if inner.contains(shapely.Point(p)) and all(np.hypot(*(p - s)) > 120 for s in seeds):
                seeds.append(p)
        cells = partition(v.geom_ll, np.array(seeds))
        # Number groups clockwise from north so 一组 is the northernmost, like a village map.
        ang = np.arctan2(
            np.array(seeds)[:, 0] - v.settlement[0], np.array(seeds)[:, 1] - v.settlement[1]
        ) % (2 * np.pi)
        for n, i in enumerate(np.argsort(ang, kind="stable")):
            grids.append(
                MicroGrid(
                    code=f"{v.code}{n + 1:02d}",
                    village_code=v.code,
                    name=f"{v.short_name}{_cn_number(n + 1)}组",
                    geom_ll=cells[i],
                )
            )
    return grids


def _cn_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("十" if tens == 1 else digits[tens] + "十") + (digits[ones] if ones else "")

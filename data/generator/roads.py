"""Road network: 省道/县道/乡道 through the seat plus a jittered 村道 grid, noded into one graph."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from data.generator.projection import geom_to_lonlat
from data.generator.town import Town
from gis.domain import RoadClass

SPEED_KMH = {RoadClass.S: 60, RoadClass.X: 50, RoadClass.Y: 40, RoadClass.C: 25}
_CLASS_ORDER = {RoadClass.S: 0, RoadClass.X: 1, RoadClass.Y: 2, RoadClass.C: 3}
#: Total length window of §5.3 (km); the 村道 grid spacing is tuned into it.
TOTAL_KM = (215.0, 245.0)


@dataclass
class RoadEdge:
    """One graph edge: a road piece between two intersections or ends."""

    code: str
    name: str
    road_class: RoadClass
    geom_m: shapely.LineString
    geom_ll: shapely.LineString
    source: int = 0
    target: int = 0

    @property
    def length_m(self) -> float:
        return float(self.geom_m.length)


@dataclass
class RoadNetwork:
    """The noded, connected network and the main (S/X/Y) lines used to place things."""

    edges: list[RoadEdge]
    main_m: BaseGeometry
    trunk_m: BaseGeometry

    @property
    def total_km(self) -> float:
        return sum(e.length_m for e in self.edges) / 1000


def _wiggle(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, step: float, amp: float
) -> np.ndarray:
    """Polyline from a to b with smooth perpendicular jitter (zero at both ends)."""
    length = float(np.hypot(*(b - a)))
    n = max(2, int(length // step) + 1)
    t = np.linspace(0, 1, n)
    u = (b - a) / length
    normal = np.array([-u[1], u[0]])
    off = rng.normal(0, amp, n)
    off = np.convolve(off, np.ones(3) / 3, mode="same")
    off[0] = off[-1] = 0.0
    return a + np.outer(t, b - a) + np.outer(off, normal)


def _clip_parts(line: np.ndarray, region: BaseGeometry) -> list[shapely.LineString]:
    clipped = shapely.intersection(shapely.LineString(line), region)
    return [
        p
        for p in shapely.get_parts(
            shapely.line_merge(clipped) if clipped.geom_type == "MultiLineString" else clipped
        )
        if p.geom_type == "LineString" and p.length > 1.0
    ]


def _main_roads(
    town: Town, rng: np.random.Generator
) -> list[tuple[RoadClass, str, str, np.ndarray]]:
    c = town.centre
    out: list[tuple[RoadClass, str, str, np.ndarray]] = []

    def ray(angle: float) -> np.ndarray:
        return c + 16_000 * np.array([np.cos(angle), np.sin(angle)])

    s_code = f"S{int(rng.integers(210, 330)):03d}"
    s_ang = np.deg2rad(rng.uniform(-8, 8))
    for half, ang in (("西", np.pi + s_ang), ("东", s_ang)):
        out.append((RoadClass.S, s_code, "许鄢公路", _wiggle(rng, c, ray(ang), 600, 60)))
        del half
    x_codes = sorted(rng.choice(np.arange(1, 60), size=2, replace=False))
    x1 = np.deg2rad(90 + rng.uniform(-10, 10))
    x2 = np.deg2rad(135 + rng.uniform(-10, 10))
    for code, name, ang in ((x_codes[0], "五张公路", x1), (x_codes[1], "五桥公路", x2)):
        for a in (ang, ang + np.pi):
            out.append((RoadClass.X, f"X{int(code):03d}", name, _wiggle(rng, c, ray(a), 500, 70)))
    return out


def build_roads(town: Town, rng: np.random.Generator, with_grid: bool = True) -> RoadNetwork:
    """Build the town's road graph (EPSG:4547), noded at every crossing and connected.

    Parameters
    ----------
    town
        The town whose polygon bounds the network.
    rng
        The roads layer generator.
    with_grid
        False leaves out the 村道 grid (large scales keep only S/X/Y).
    """
    region = town.geom_m.buffer(-2.0)
    lines: list[tuple[RoadClass, str, str, shapely.LineString]] = []
    for cls, code, name, pts in _main_roads(town, rng):
        lines += [(cls, code, name, p) for p in _clip_parts(pts, region)]
    n_y = 6
    y_codes = sorted(rng.choice(np.arange(1, 99), size=n_y, replace=False))
    for k in range(n_y):
        theta = (k + rng.uniform(0.2, 0.8)) * np.pi / n_y
        u = np.array([np.cos(theta), np.sin(theta)])
        n = np.array([-u[1], u[0]])
        d = rng.choice([-1, 1]) * rng.uniform(1500, 3600)
        base = town.centre + d * n
        pts = _wiggle(rng, base - 14_000 * u, base + 14_000 * u, 500, 60)
        parts = _clip_parts(pts, region)
        if not parts:
            continue
        longest = max(parts, key=lambda p: p.length)
        # 乡道 link village clusters rather than span the town: keep a middle stretch.
        keep = rng.uniform(0.6, 0.8)
        lo = rng.uniform(0, 1 - keep)
        longest = shapely.ops.substring(longest, lo, lo + keep, normalized=True)
        ends = [shapely.get_coordinates(longest)[i] for i in (0, -1)]
        names = [_village_at(town, e) for e in ends]
        lines.append((RoadClass.Y, f"Y{int(y_codes[k]):03d}", f"{names[0]}—{names[1]}路", longest))
    main = shapely.union_all([ln for *_, ln in lines])
    trunk = shapely.union_all([ln for cls, *_, ln in lines if cls in (RoadClass.S, RoadClass.X)])
    if not with_grid:
        return RoadNetwork(_node(town, lines), main, trunk)

    area = town.geom_m.area
    main_km = main.length / 1000
    target_km = (sum(TOTAL_KM) / 2) - main_km
    spacing = 2 * area / (target_km * 1000)
    grid_rng_state = rng.bit_generator.state
    for _ in range(4):
        rng.bit_generator.state = grid_rng_state
        grid = _grid(town, rng, region, spacing)
        net = RoadNetwork(_node(town, lines + grid), main, trunk)
        if TOTAL_KM[0] <= net.total_km <= TOTAL_KM[1]:
            break
        grid_km = net.total_km - main_km
        spacing *= grid_km / target_km
    return net


def _village_at(town: Town, xy: np.ndarray) -> str:
    p = shapely.Point(xy)
    best = min(town.villages, key=lambda v: v.geom_m.distance(p))
    return best.short_name


def _grid(
    town: Town, rng: np.random.Generator, region: BaseGeometry, spacing: float
) -> list[tuple[RoadClass, str, str, shapely.LineString]]:
    """Jittered orthogonal 村道 grid: Henan plain field roads run north–south and east–west."""
    minx, miny, maxx, maxy = town.geom_m.bounds
    out: list[tuple[RoadClass, str, str, shapely.LineString]] = []
    n = 0
    for axis in (0, 1):
        lo, hi = (minx, maxx) if axis == 0 else (miny, maxy)
        olo, ohi = (miny, maxy) if axis == 0 else (minx, maxx)
        k = int((hi - lo) // spacing) + 1
        start = lo + ((hi - lo) - (k - 1) * spacing) / 2
        for i in range(k):
            v = start + i * spacing + rng.uniform(-0.2, 0.2) * spacing
            a = np.array([v, olo - 100]) if axis == 0 else np.array([olo - 100, v])
            b = np.array([v, ohi + 100]) if axis == 0 else np.array([ohi + 100, v])
            b = b + rng.normal(0, 0.03 * spacing, 2) * (
                np.array([1, 0]) if axis == 0 else np.array([0, 1])
            )
            for part in _clip_parts(_wiggle(rng, a, b, 400, 25), region):
                n += 1
                mid = shapely.get_coordinates(part.interpolate(0.5, normalized=True))[0]
                out.append((RoadClass.C, f"C{n:03d}", f"{_village_at(town, mid)}村道", part))
    return out


def _node(
    town: Town, lines: list[tuple[RoadClass, str, str, shapely.LineString]]
) -> list[RoadEdge]:
    """Split lines at every crossing, label pieces from their source line, keep one component."""
    geoms = np.array([ln for *_, ln in lines])
    noded = shapely.get_parts(shapely.union_all(geoms))
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    tree = shapely.STRtree(geoms)
    # Nearest source line of each piece's midpoint; ties (shared crossing) go to the higher class.
    idx = tree.query_nearest(mids, all_matches=False)
    owner = idx[1]
    edges: list[RoadEdge] = []
    for piece, k in zip(noded, owner, strict=True):
        cls, code, name, _ = lines[int(k)]
        ll = geom_to_lonlat(piece)
        coords = shapely.get_coordinates(ll)
        if piece.length < 0.05 or np.array_equal(coords[0], coords[-1]):
            continue
        edges.append(RoadEdge(code, name, cls, piece, ll))
    keys = sorted({tuple(shapely.get_coordinates(e.geom_ll)[i]) for e in edges for i in (0, -1)})
    ids = {k: i + 1 for i, k in enumerate(keys)}
    for e in edges:
        c = shapely.get_coordinates(e.geom_ll)
        e.source, e.target = ids[tuple(c[0])], ids[tuple(c[-1])]
    graph = nx.Graph()
    graph.add_edges_from((e.source, e.target) for e in edges)
    biggest = max(nx.connected_components(graph), key=lambda comp: (len(comp), min(comp)))
    edges = [e for e in edges if e.source in biggest]
    edges.sort(key=lambda e: (_CLASS_ORDER[e.road_class], e.code, e.source, e.target))
    del town
    return edges

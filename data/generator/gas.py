"""Gas network (次高压 feed, 调压站, 中压 branches, valves, 调压柜) and fire stations."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from data.generator.projection import geom_to_lonlat
from data.generator.roads import RoadNetwork
from data.generator.town import Town
from gis.domain import FireStationKind, GasFacilityKind, PressureClass

OPERATOR = "许昌示例燃气有限公司（示例数据）"


@dataclass
class Pipeline:
    code: str
    name: str
    pressure_class: PressureClass
    dn: int
    material: str
    build_year: int
    geom_m: shapely.LineString


@dataclass
class PointFeature:
    """A gas facility or fire station: code, kind, name, metre location, extra properties."""

    code: str
    kind: str
    name: str
    xy: np.ndarray
    staff_count: int | None = None


@dataclass
class GasNetwork:
    pipelines: list[Pipeline]
    facilities: list[PointFeature]

    @property
    def medium_m(self) -> BaseGeometry:
        return shapely.union_all(
            [p.geom_m for p in self.pipelines if p.pressure_class is PressureClass.MEDIUM]
        )

    @property
    def all_m(self) -> BaseGeometry:
        return shapely.union_all([p.geom_m for p in self.pipelines])


def build_gas(town: Town, roads: RoadNetwork, rng: np.random.Generator) -> GasNetwork:
    """Lay the 次高压 feed from the west along the 省道, the 调压站, and 中压 branches.

    Branches follow the road graph's shortest-path tree from the station to the seat and to
    70–85 % of the villages (煤改气 coverage), so each branch is the new suffix of one path.
    """
    c = town.centre
    s_edges = [e for e in roads.edges if e.road_class.value == "S"]
    s_line = shapely.line_merge(shapely.union_all([e.geom_m for e in s_edges]))
    s_parts = sorted(shapely.get_parts(s_line), key=lambda g: -g.length)
    s_main = s_parts[0]
    station_on = s_main.interpolate(s_main.project(shapely.Point(c[0] - 1200, c[1])))
    station = np.array([station_on.x, station_on.y + 40.0])
    coords = shapely.get_coordinates(s_main)
    west_end = coords[0] if coords[0][0] < coords[-1][0] else coords[-1]
    feed = shapely.ops.substring(
        s_main,
        min(s_main.project(shapely.Point(west_end)), s_main.project(station_on)),
        max(s_main.project(shapely.Point(west_end)), s_main.project(station_on)),
    )
    feed = feed.offset_curve(25.0)
    pipelines = [
        Pipeline(
            "CGY-001",
            "次高压输气管线（西线）",
            PressureClass.SUB_HIGH,
            int(rng.choice([200, 250, 300])),
            "L245钢管",
            int(rng.integers(2012, 2017)),
            shapely.LineString(np.vstack([shapely.get_coordinates(feed), station])),
        )
    ]

    graph = nx.Graph()
    for e in roads.edges:
        graph.add_edge(e.source, e.target, weight=e.length_m, geom=e.geom_m)
    node_xy: dict[int, np.ndarray] = {}
    for e in roads.edges:
        cc = shapely.get_coordinates(e.geom_m)
        node_xy[e.source], node_xy[e.target] = cc[0], cc[-1]
    nodes = np.array(sorted(node_xy))
    pts = np.array([node_xy[n] for n in nodes])

    def nearest(xy: np.ndarray) -> int:
        return int(nodes[np.argmin(np.hypot(*(pts - xy).T))])

    root = nearest(station)
    _, paths = nx.single_source_dijkstra(graph, root, weight="weight")
    villages = [v for v in town.villages if not v.seat]
    share = rng.uniform(0.70, 0.85)
    chosen = rng.choice(len(villages), size=round(share * len(villages)), replace=False)
    targets = [(v.short_name, v.settlement) for v in town.villages if v.seat]
    targets += [(villages[i].short_name, villages[i].settlement) for i in sorted(chosen)]
    targets.sort(key=lambda t: float(np.hypot(*(t[1] - station))))
    used: set[tuple[int, int]] = set()
    branch_ends: list[tuple[str, np.ndarray]] = []
    for name, xy in targets:
        path = paths.get(nearest(xy))
        if path is None or len(path) < 2:
            continue
        new = [
            (a, b)
            for a, b in zip(path[:-1], path[1:], strict=True)
            if (min(a, b), max(a, b)) not in used
        ]
        if not new:
            continue
        used.update((min(a, b), max(a, b)) for a, b in new)
        merged = shapely.line_merge(shapely.union_all([graph.edges[a, b]["geom"] for a, b in new]))
        for part in shapely.get_parts(merged):
            n = len(pipelines)
            dn = 200 if n <= 2 else int(rng.choice([110, 160]))
            pipelines.append(
                Pipeline(
                    f"ZY-{n:03d}",
                    f"中压燃气支线（至{name}）",
                    PressureClass.MEDIUM,
                    dn,
                    "PE100",
                    int(rng.integers(2016, 2024)),
                    part,
                )
            )
        branch_ends.append((name, shapely.get_coordinates(merged)[-1]))

    facilities = [
        PointFeature(
            "TYZ-01",
            GasFacilityKind.REGULATOR_STATION.value,
            f"{town.spec.short_name}天然气调压站",
            station,
        )
    ]
    valves = 0
    for p in pipelines:
        step = rng.uniform(1000, 2000)
        for d in np.arange(step / 2, p.geom_m.length, step):
            valves += 1
            q = p.geom_m.interpolate(d)
            facilities.append(
                PointFeature(
                    f"FM-{valves:03d}",
                    GasFacilityKind.VALVE.value,
                    f"{p.name}{valves}号阀门井",
                    np.array([q.x, q.y]),
                )
            )
    far_ends = sorted(branch_ends, key=lambda t: -float(np.hypot(*(t[1] - station))))
    for k, (name, xy) in enumerate(far_ends[: int(rng.integers(2, 5))]):
        facilities.append(
            PointFeature(
                f"TYG-{k + 1:02d}",
                GasFacilityKind.REGULATOR_BOX.value,
                f"{name}村调压柜",
                xy + np.array([8.0, 8.0]),
            )
        )
    return GasNetwork(pipelines, facilities)


def build_fire_stations(town: Town, rng: np.random.Generator) -> list[PointFeature]:
    """One 专职消防队 and one 应急救援队 at the seat; 3–6 微型消防站 in seat and big villages."""
    c = town.centre
    seat = town.spec.short_name
    out = [
        PointFeature(
            "XFD-01",
            FireStationKind.FIRE_STATION.value,
            f"{seat}专职消防队",
            c + np.array([150.0, -120.0]),
            int(rng.integers(10, 16)),
        ),
        PointFeature(
            "YJD-01",
            FireStationKind.EMERGENCY_TEAM.value,
            f"{seat}应急救援队",
            c + np.array([-140.0, 110.0]),
            int(rng.integers(15, 31)),
        ),
    ]
    big = sorted((v for v in town.villages if not v.seat), key=lambda v: (-v.population, v.code))
    n_micro = int(rng.integers(3, 7))
    hosts = [town.villages[1]] + big[: n_micro - 1]
    for k, v in enumerate(hosts):
        out.append(
            PointFeature(
                f"WXZ-{k + 1:02d}",
                FireStationKind.MICRO_STATION.value,
                f"{v.short_name}微型消防站",
                v.settlement + rng.normal(0, 40, 2),
                int(rng.integers(6, 11)),
            )
        )
    return out


def point_ll(xy: np.ndarray) -> shapely.Point:
    """A rounded lon/lat point from metres."""
    return geom_to_lonlat(shapely.Point(xy))

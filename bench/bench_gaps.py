"""Benchmark: the coverage-gap report on the county or province dataset; containment on 1M units.

Run: ``.venv/bin/python -m bench.bench_gaps [--data DIR] [--points 1000000] [--repeat 3] [--pg]``.
Without ``--data`` the county dataset is generated into a temporary directory; ``--data`` may be
a province dataset too (``gridsafe generate --scale province``; use ``--points 0`` there, as
``bench.bench_province_containment`` measures containment on its real units). Baselines are
measured in the same run on the same frames, interleaved with gridsafe's runs:

* containment: a bare ``geopandas.sjoin(points, villages, predicate="intersects")``;
* the full report: a naive GeoPandas/networkx report (sjoin, buffer + sjoin per gas rule, a
  networkx multi-source Dijkstra) of the four gap types it can count;
* fire service areas (``--pg``): pgRouting ``pgr_drivingDistance`` on the same road graph in a
  throwaway cluster, against the in-memory scipy Dijkstra.

Responsibilities and inspections are synthesised (generated datasets above the town have none):
every slot of the assignment rules gets a random eligible person and 90 % of slots keep theirs;
a last inspection somewhere in 2024 for every unit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from data import REFERENCE_DIR
from gis.analysis.assignment_rules import candidate_pairs, required_slots
from gis.analysis.coverage import (
    CoverageInputs,
    CoverageParams,
    coverage_report,
    locate_units,
)
from gis.analysis.road_graph import road_graph, travel_times
from gis.crs import METRIC_SRID

AS_OF = dt.date(2024, 12, 31)


def timed(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def read(directory: Path, name: str) -> gpd.GeoDataFrame:
    path = directory / f"{name}.geojson"
    if not path.exists():
        return gpd.GeoDataFrame(geometry=[], crs=4490)
    frame = gpd.read_file(path)
    return frame.set_crs(4490, allow_override=True)


def dataset_inputs(directory: Path, seed: int = 7, keep: float = 0.9) -> CoverageInputs:
    """A generated dataset's frames, with responsibilities and last inspections synthesised.

    Every slot of the assignment rules (``required_slots``) gets one of its eligible people
    (``candidate_pairs``, ignoring capacity), drawn at random, and ``keep`` of the slots keep
    their holder; so the staffing gaps are the dropped slots plus slots nobody may fill.
    """
    rng = np.random.default_rng(seed)
    villages = read(directory, "villages")
    units = read(directory, "units")
    units.insert(0, "id", np.arange(1, len(units) + 1))
    staff = read(directory, "staff")
    staff.insert(0, "id", np.arange(1, len(staff) + 1))
    # Town-scale files leave the town out of units and staff (there is one); take it from the
    # village they belong to, as the loader does.
    town_of = dict(zip(villages["code"], villages["town_code"], strict=True))
    if "town_code" not in units:
        units["town_code"] = units["village_code"].map(town_of)
    if "town_code" not in staff:
        staff["town_code"] = villages["town_code"].iloc[0]
    roads = read(directory, "roads")
    # As the loader does (gis.io.dataset): seconds at the posted speed, -1 against a one-way.
    roads["cost_s"] = roads["length_m"].astype(float) / (roads["speed_kmh"].astype(float) / 3.6)
    roads["reverse_cost_s"] = np.where(roads["oneway"].astype(bool), -1.0, roads["cost_s"])
    pipelines = read(directory, "gas_pipelines")
    if "pressure_class" not in pipelines:
        pipelines = gpd.GeoDataFrame({"code": [], "pressure_class": []}, geometry=[], crs=4490)
    stations = read(directory, "fire_stations")

    slots = required_slots(villages, units, staff)
    pairs = candidate_pairs(slots, staff)
    chosen = pairs.sample(frac=1.0, random_state=rng).drop_duplicates("slot")
    chosen = chosen[rng.random(len(chosen)) < keep]
    held = slots.loc[chosen["slot"].to_numpy()]
    is_unit = held["unit_id"].notna().to_numpy()
    resp = pd.DataFrame(
        {
            "staff_id": chosen["staff_id"].to_numpy(),
            "role": held["role"].to_numpy(),
            "village_code": np.where(is_unit, None, held["village_code"].to_numpy()),
            "unit_id": np.where(is_unit, held["unit_id"].to_numpy(dtype=object), None),
        }
    ).astype({"unit_id": object, "village_code": object})
    days = rng.integers(0, 365, len(units))
    last = pd.Series(
        [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in days], index=units["id"]
    )
    rules = pd.read_csv(REFERENCE_DIR / "inspection_frequency.csv")
    return CoverageInputs(
        villages=villages,
        units=units,
        staff=staff,
        responsibilities=resp,
        last_inspected=last,
        frequency_rules=rules,
        roads=roads,
        pipelines=pipelines,
        fire_stations=stations,
    )


def naive_report(inputs: CoverageInputs, params: CoverageParams) -> dict[str, int]:
    """The obvious GeoPandas + networkx way: the baseline for the full report."""
    units = inputs.units.to_crs(METRIC_SRID)
    villages = inputs.villages.to_crs(METRIC_SRID)
    out: dict[str, int] = {}
    joined = gpd.sjoin(units, villages[["code", "geometry"]], predicate="intersects")
    hits = joined.groupby(level=0).size().reindex(units.index, fill_value=0)
    edges = gpd.GeoDataFrame(geometry=villages.boundary, crs=METRIC_SRID)
    near_edge = gpd.sjoin(
        units, edges, predicate="dwithin", distance=params.boundary_tolerance_m
    ).index.unique()
    out["unit_on_boundary"] = len(near_edge)
    out["unit_outside_grid"] = int(((hits == 0) & ~units.index.isin(near_edge)).sum())

    # Fire: networkx multi-source Dijkstra from the stations' nearest nodes.
    roads = inputs.roads.to_crs(METRIC_SRID)
    g = nx.DiGraph()
    xy: dict[int, tuple[float, float]] = {}
    for r in roads.itertuples():
        coords = r.geometry.coords
        xy[r.source], xy[r.target] = coords[0][:2], coords[-1][:2]
        if r.cost_s >= 0:
            g.add_edge(r.source, r.target, weight=r.cost_s)
        if r.reverse_cost_s >= 0:
            g.add_edge(r.target, r.source, weight=r.reverse_cost_s)
    nodes = gpd.GeoDataFrame(
        {"node": list(xy)},
        geometry=gpd.points_from_xy(*zip(*xy.values(), strict=True)),
        crs=METRIC_SRID,
    )
    stations = inputs.fire_stations.to_crs(METRIC_SRID)
    stations = stations[stations["kind"].isin(["fire_station", "micro_station"])]
    s_near = gpd.sjoin_nearest(stations, nodes, distance_col="d")
    for node, d in zip(s_near["node"], s_near["d"], strict=True):
        w = d / params.access_speed_ms
        if not g.has_edge("root", node) or g["root"][node]["weight"] > w:
            g.add_edge("root", node, weight=w)
    times = nx.single_source_dijkstra_path_length(
        g, "root", cutoff=params.fire_limit_s + 1e-3, weight="weight"
    )
    obliged = units[units["status"].isin(["operating", "seasonal"])]
    u_near = gpd.sjoin_nearest(obliged, nodes, distance_col="d")
    u_near = u_near[~u_near.index.duplicated()]
    t = u_near["node"].map(times).astype(float) + u_near["d"] / params.access_speed_ms
    out["beyond_fire_cover"] = int((~(t <= params.fire_limit_s + 1e-3)).sum())

    # Gas: buffer + sjoin.
    pipes = inputs.pipelines.to_crs(METRIC_SRID)
    if len(pipes):
        zone = gpd.GeoDataFrame(
            geometry=pipes.buffer(params.protection_corridor_m), crs=METRIC_SRID
        )
        out["gas_in_protection_corridor"] = int(
            gpd.sjoin(units, zone, predicate="intersects").index.nunique()
        )
    return out


def containment(
    villages: gpd.GeoDataFrame, n_points: int, seed: int = 11, outside_share: float = 0.02
) -> dict[str, float]:
    """>= 1M random unit points over the county's villages: locate_units against a bare sjoin.

    Points are uniform over the villages (2% outside them, as ledgers have a few strays). The
    three contenders run interleaved, three rounds, and each reports its median, so the load
    of the machine falls on all of them alike.
    """
    rng = np.random.default_rng(seed)
    v = villages.to_crs(METRIC_SRID)[["code", "geometry"]]
    minx, miny, maxx, maxy = v.total_bounds
    area = shapely.union_all(v.geometry.to_numpy())
    shapely.prepare(area)
    inside: list[np.ndarray] = []
    outside: list[np.ndarray] = []
    want_out = int(n_points * outside_share)
    while sum(map(len, inside)) < n_points - want_out or sum(map(len, outside)) < want_out:
        xy = rng.uniform([minx, miny], [maxx, maxy], (n_points, 2))
        hit = shapely.contains_xy(area, xy[:, 0], xy[:, 1])
        inside.append(xy[hit])
        outside.append(xy[~hit])
    xy = np.concatenate(
        [np.concatenate(inside)[: n_points - want_out], np.concatenate(outside)[:want_out]]
    )
    xy = xy[rng.permutation(len(xy))]
    pts = gpd.GeoSeries(shapely.points(xy), crs=METRIC_SRID)
    points = gpd.GeoDataFrame(geometry=pts)
    runs: dict[str, list[float]] = {"sjoin": [], "exact": [], "tol1m": []}
    contenders: dict[str, Callable[[], Any]] = {
        "sjoin": lambda: gpd.sjoin(points, v, predicate="intersects"),
        "exact": lambda: locate_units(pts, v, tolerance_m=0.0),
        "tol1m": lambda: locate_units(pts, v, tolerance_m=1.0),
    }
    results: dict[str, Any] = {}
    for _ in range(3):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            results[name] = fn()
            runs[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(t) for k, t in runs.items()}
    located = int((results["exact"]["n_grids"] > 0).sum())
    assert results["sjoin"].index.nunique() == located
    loc = results["tol1m"]
    return {
        "points": len(pts),
        "polygons": len(v),
        "sjoin_s": med["sjoin"],
        "locate_exact_s": med["exact"],
        "locate_tol1m_s": med["tol1m"],
        "ratio_exact": med["exact"] / med["sjoin"],
        "ratio_tol1m": med["tol1m"] / med["sjoin"],
        "outside": int((loc["n_grids"] == 0).sum()),
        "on_boundary": int(loc["on_boundary"].sum()),
    }


def pgrouting(inputs: CoverageInputs, params: CoverageParams) -> dict[str, float]:
    """Fire service area: scipy multi-source Dijkstra vs pgr_drivingDistance (same graph)."""
    from sqlalchemy import create_engine, text

    from gis.db.local_server import LocalServer

    roads = inputs.roads.to_crs(METRIC_SRID)
    graph = road_graph(roads)
    stations = inputs.fire_stations.to_crs(METRIC_SRID)
    stations = stations[stations["kind"].isin(["fire_station", "micro_station"])]
    s_node, _ = graph.snap(stations.geometry.to_numpy())
    starts = np.unique(s_node)
    scipy_s, times = timed(
        lambda: travel_times(graph, starts, limit_s=params.fire_limit_s), repeat=5
    )
    reached_scipy = int(np.isfinite(times).sum())

    work = Path(tempfile.mkdtemp(prefix="gridsafe-bench-gaps-"))
    work.chmod(0o755)
    server = LocalServer(work / "pg", durable=False)
    engine = create_engine(server.start())
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgrouting CASCADE"))
            conn.execute(
                text(
                    "CREATE TABLE bench_roads (id bigint, source bigint, target bigint,"
                    " cost float8, reverse_cost float8)"
                )
            )
            rows = [
                {"i": i, "s": int(s), "t": int(t), "c": float(c), "r": float(r)}
                for i, (s, t, c, r) in enumerate(
                    roads[["source", "target", "cost_s", "reverse_cost_s"]].itertuples(index=False)
                )
            ]
            conn.execute(text("INSERT INTO bench_roads VALUES (:i, :s, :t, :c, :r)"), rows)
        sql = text(
            "SELECT node, min(agg_cost) FROM pgr_drivingDistance("
            "'SELECT id, source, target, cost, reverse_cost FROM bench_roads',"
            " CAST(:starts AS bigint[]), :limit, directed => true, equicost => true)"
            " GROUP BY node"
        )
        ids = [int(graph.node_ids[i]) for i in starts]

        def run() -> int:
            with engine.connect() as conn:
                return len(conn.execute(sql, {"starts": ids, "limit": params.fire_limit_s}).all())

        pg_s, reached_pg = timed(run, repeat=5)
    finally:
        engine.dispose()
        server.destroy()
    return {
        "nodes": graph.n_nodes,
        "edges": len(roads),
        "sources": len(starts),
        "scipy_s": scipy_s,
        "pgr_drivingDistance_s": pg_s,
        "ratio_pg_over_scipy": pg_s / scipy_s,
        "reached_scipy": reached_scipy,
        "reached_pg": reached_pg,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data", type=Path, help="a county or province dataset directory (default: generate)"
    )
    parser.add_argument(
        "--points", type=int, default=1_000_000, help="synthetic containment points (0: skip)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="report runs (median)")
    parser.add_argument("--pg", action="store_true", help="also time pgr_drivingDistance")
    args = parser.parse_args()
    directory = args.data
    if directory is None:
        from data.generator.core import generate

        directory = Path(tempfile.mkdtemp(prefix="gridsafe-county-")) / "county"
        generate(directory, seed=2024, scale="county")
    t0 = time.perf_counter()
    inputs = dataset_inputs(directory)
    read_s = time.perf_counter() - t0
    params = CoverageParams(as_of=AS_OF)
    load_before = os.getloadavg()
    # Interleaved: report, baseline, report, ... so both see the same machine.
    report_runs: list[float] = []
    naive_runs: list[float] = []
    for _ in range(args.repeat):
        t1 = time.perf_counter()
        report = coverage_report(inputs, params)
        report_runs.append(time.perf_counter() - t1)
        t1 = time.perf_counter()
        naive = naive_report(inputs, params)
        naive_runs.append(time.perf_counter() - t1)
    report_s, naive_s = statistics.median(report_runs), statistics.median(naive_runs)
    counts = report.counts()
    # Both count these types; they agree unless grids overlap (the province has 36 overlapping
    # village polygons, where a unit inside one and near another's edge is "inside" for
    # locate_units, which assumes a tiling, and "on a boundary" for the naive distance test).
    disagree = {k: [counts[k], v] for k, v in naive.items() if counts[k] != v}
    result: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "units": len(inputs.units),
        "villages": len(inputs.villages),
        "staff": len(inputs.staff),
        "road_edges": len(inputs.roads),
        "responsibilities": len(inputs.responsibilities),
        "read_and_synthesise_s": round(read_s, 1),
        "report_s": report_s,
        "report_runs_s": [round(t, 2) for t in report_runs],
        "report_stages_s": {k: round(v, 3) for k, v in report.timings.items()},
        "naive_subset_s": naive_s,
        "naive_runs_s": [round(t, 2) for t in naive_runs],
        "ratio_report_over_naive_subset": report_s / naive_s,
        "gaps": counts,
        "naive_disagrees_gridsafe_vs_naive": disagree,
        "load_average_1_5_15": {"before": load_before, "after": os.getloadavg()},
        "max_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }
    if args.points:
        result["containment"] = containment(inputs.villages, args.points)
    if args.pg:
        result["fire_service_area"] = pgrouting(inputs, params)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

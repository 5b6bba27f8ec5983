"""Benchmark: inspection routes against nearest neighbour, OR-Tools, pyvroom, PyVRP and LKH-3.

Run: ``.venv/bin/python -m bench.bench_routes [--graph demo|grid] [--sizes 10 30 60 100 200]
[--budget 1.0] [--vrptw]``. Everything runs in memory (no database): the demo town's roads from
``data/demo`` (or a generated ~3,000-junction town grid with one-way streets), units joined onto
the roads at the nearest point on an edge, the door-to-door matrix from the split graph, then
every solver on the very same matrix in the same run. "best" is the least tour any solver found
(LKH-3 via elkai with 50 runs among them, where elkai is installed — it is a benchmark peer
only: its licence is non-commercial). Prints one JSON object.

pyvroom and elkai are not dependencies: ``pip install pyvroom elkai`` into the bench venv.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from data import DEMO_DIR
from gis.analysis import road_graph as rg
from gis.analysis.inspection_routes import DayWindow, Inspector, plan_routes
from gis.crs import METRIC_SRID
from gis.io.dataset import read_layer

FAR = DayWindow(start_s=0, end_s=47 * 3600, lunch_start_s=None, lunch_end_s=None)


def tour_length(travel_s: np.ndarray, tour: list[int]) -> float:
    """Seconds of a closed tour over place indices (back to the first)."""
    seq = [*tour, tour[0]]
    return float(sum(travel_s[a, b] for a, b in zip(seq[:-1], seq[1:], strict=True)))


# --- instances -----------------------------------------------------------------------------------


def demo_roads() -> tuple[gpd.GeoDataFrame, np.ndarray]:
    roads = read_layer(DEMO_DIR / "roads.geojson").to_crs(METRIC_SRID)
    cost = roads["length_m"] / (roads["speed_kmh"] / 3.6)
    roads = roads.assign(
        cost_s=cost, reverse_cost_s=np.where(roads["oneway"].astype(bool), -1.0, cost)
    )
    units = read_layer(DEMO_DIR / "units.geojson").to_crs(METRIC_SRID)
    return roads, shapely.get_coordinates(units.geometry.to_numpy())


def grid_roads(side: int = 55, seed: int = 7) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """A jittered ``side × side`` grid (3,025 junctions at 55): every 5th line a county road at
    60 km/h, others village roads at 30 km/h; 8 % of edges one-way; 5 % removed."""
    rng = np.random.default_rng(seed)
    step = 300.0
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2) * step
    xy = xy + rng.normal(0, 40, xy.shape) + 500_000
    node = np.arange(side * side).reshape(side, side)
    pairs = [(node[i, j], node[i, j + 1], i % 5 == 0) for i in range(side) for j in range(side - 1)]
    pairs += [
        (node[i, j], node[i + 1, j], j % 5 == 0) for i in range(side - 1) for j in range(side)
    ]
    keep = [p for p in pairs if rng.random() > 0.05 or p[2]]
    src = np.array([p[0] for p in keep])
    dst = np.array([p[1] for p in keep])
    fast = np.array([p[2] for p in keep])
    lines = shapely.linestrings(np.stack([xy[src], xy[dst]], 1))
    length = shapely.length(lines)
    cost = length / np.where(fast, 60 / 3.6, 30 / 3.6)
    oneway = (rng.random(len(keep)) < 0.08) & ~fast
    roads = gpd.GeoDataFrame(
        {
            "source": src,
            "target": dst,
            "cost_s": cost,
            "reverse_cost_s": np.where(oneway, -1, cost),
        },
        geometry=lines,
        crs=METRIC_SRID,
    )
    lo, hi = xy.min(0), xy.max(0)
    units = rng.uniform(lo, hi, (2000, 2))
    return roads, units


def instance(
    roads: gpd.GeoDataFrame, units: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, float]:
    """n random units and a base (the last place): the door-to-door matrix and its build time."""
    rng = np.random.default_rng(seed)
    pick = units[rng.choice(len(units), n + 1, replace=False)]
    t0 = time.perf_counter()
    net = rg.road_network(roads)
    split = rg.split_at(net, rg.snap_to_roads(net, pick))
    matrix = rg.place_travel_matrix(split)
    return np.rint(matrix).astype(np.int64), time.perf_counter() - t0


# --- solvers (each returns a closed tour over place indices starting at the base) ----------------


def ours(t: np.ndarray, budget: float) -> list[int]:
    n = len(t) - 1
    plan = plan_routes(t, range(n), np.zeros(n), [Inspector(base=n)], FAR, time_limit_s=budget)
    return [n, *plan.routes[0].stops]


def nearest_neighbour(t: np.ndarray, _: float) -> list[int]:
    n = len(t) - 1
    tour, left = [n], set(range(n))
    while left:
        here = tour[-1]
        nxt = min(left, key=lambda j: t[here, j])
        tour.append(nxt)
        left.remove(nxt)
    return tour


def ortools_gls(t: np.ndarray, budget: float) -> list[int]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(t)
    manager = pywrapcp.RoutingIndexManager(n, 1, n - 1)
    routing = pywrapcp.RoutingModel(manager)
    cb = routing.RegisterTransitCallback(
        lambda i, j: int(t[manager.IndexToNode(i), manager.IndexToNode(j)])
    )
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(budget * 1000))
    sol = routing.SolveWithParameters(params)
    idx, tour = routing.Start(0), []
    while not routing.IsEnd(idx):
        tour.append(manager.IndexToNode(idx))
        idx = sol.Value(routing.NextVar(idx))
    return tour


def pyvroom(t: np.ndarray, _: float) -> list[int]:
    import vroom

    n = len(t)
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=t.astype(np.uint32))
    problem.add_vehicle(vroom.Vehicle(0, start=n - 1, end=n - 1))
    problem.add_job([vroom.Job(j + 1, location=j) for j in range(n - 1)])
    sol = problem.solve(exploration_level=5, nb_threads=1)
    jobs = sol.routes[sol.routes["type"] == "job"]["location_index"].astype(int).tolist()
    return [n - 1, *jobs]


def pyvrp_direct(t: np.ndarray, budget: float) -> list[int]:
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    n = len(t)
    m = Model()
    locs = [m.add_location(x=0, y=0) for _ in range(n)]
    depot = m.add_depot(locs[n - 1])
    for j in range(n - 1):
        m.add_client(locs[j])
    m.add_vehicle_type(1, start_depot=depot, end_depot=depot)
    for a in range(n):
        for b in range(n):
            if a != b:
                m.add_edge(locs[a], locs[b], distance=int(t[a, b]), duration=int(t[a, b]))
    res = m.solve(MaxRuntime(budget), display=False)
    (route,) = res.best.routes()
    return [n - 1, *[a.idx for a in route.schedule() if a.is_client()]]


def lkh(runs: int) -> Callable[[np.ndarray, float], list[int]]:
    def solve(t: np.ndarray, _: float) -> list[int]:
        import elkai

        n = len(t)
        order = np.r_[n - 1, np.arange(n - 1)]  # elkai starts its tour at city 0: the base
        tour = elkai.DistanceMatrix(t[np.ix_(order, order)].tolist()).solve_tsp(runs=runs)
        return [int(order[c]) for c in tour[:-1]]

    return solve


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def bench_tsp(graph: str, sizes: list[int], budget: float, repeats: int) -> dict[str, Any]:
    roads, units = demo_roads() if graph == "demo" else grid_roads()
    solvers: dict[str, Callable[[np.ndarray, float], list[int]]] = {
        "gridsafe (PyVRP, 0.2 s)": lambda t, _: ours(t, 0.2),
        f"gridsafe (PyVRP, {budget:g} s)": ours,
        "nearest neighbour": nearest_neighbour,
        f"OR-Tools GLS {budget:g} s": ortools_gls,
        f"PyVRP direct {budget:g} s": pyvrp_direct,
    }
    if _available("vroom"):
        solvers["pyvroom (x=5)"] = pyvroom
    if _available("elkai"):
        solvers["LKH-3 (elkai, 1 run)"] = lkh(1)
        solvers["LKH-3 (elkai, 50 runs)"] = lkh(50)
    out: dict[str, Any] = {}
    for n in sizes:
        rows: dict[str, list[tuple[float, float]]] = {k: [] for k in solvers}
        matrix_s = []
        for rep in range(repeats):
            t, built = instance(roads, units, n, seed=1000 * n + rep)
            matrix_s.append(built)
            for name, solve in solvers.items():
                t0 = time.perf_counter()
                tour = solve(t, budget)
                secs = time.perf_counter() - t0
                assert sorted(tour) == list(range(n + 1)), name
                rows[name].append((tour_length(t, tour), secs))
        best = np.min([[c for c, _ in rows[k]] for k in rows], axis=0)
        out[str(n)] = {
            "matrix_s": round(float(np.mean(matrix_s)), 3),
            **{
                k: {
                    "gap_pct": round(
                        float(
                            np.mean([(c / b - 1) * 100 for (c, _), b in zip(v, best, strict=True)])
                        ),
                        2,
                    ),
                    "seconds": round(float(np.mean([s for _, s in v])), 3),
                }
                for k, v in rows.items()
            },
        }
        print(json.dumps({n: out[str(n)]}, ensure_ascii=False), flush=True)
    return out


# --- VRPTW: 100 stops × 5 inspectors --------------------------------------------------------------


def bench_vrptw(graph: str, budget: float, seed: int = 5) -> dict[str, Any]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    roads, units = demo_roads() if graph == "demo" else grid_roads()
    n, k = 100, 5
    rng = np.random.default_rng(seed)
    pick = units[rng.choice(len(units), n + k, replace=False)]
    net = rg.road_network(roads)
    t = np.rint(rg.place_travel_matrix(rg.split_at(net, rg.snap_to_roads(net, pick))))
    t = t.astype(np.int64)
    service = rng.integers(10, 31, n) * 60  # 10–30 min: the day holds most stops
    day = DayWindow(start_s=8 * 3600, end_s=17 * 3600 + 1800, lunch_start_s=None, lunch_end_s=None)
    opens = [None] * n
    closes = [None] * n
    for j in rng.choice(n, 30, replace=False):  # 30 stops with a 2-hour window
        a = int(rng.integers(8, 15)) * 3600
        opens[j], closes[j] = a, a + 7200
    ins = [Inspector(base=n + i, max_stops=25) for i in range(k)]
    result: dict[str, Any] = {}
    t0 = time.perf_counter()
    plan = plan_routes(
        t, range(n), service, ins, day, open_s=opens, close_s=closes, time_limit_s=budget
    )
    result["gridsafe (PyVRP)"] = {
        "travel_s": plan.travel_s,
        "unplanned": len(plan.unplanned),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    result["PyVRP direct (Model API)"] = _pyvrp_vrptw(t, n, k, service, day, opens, closes, budget)
    # OR-Tools: time dimension with service at the origin node, windows, 25 stops per vehicle.
    size = n + k
    manager = pywrapcp.RoutingIndexManager(
        size, k, [n + i for i in range(k)], [n + i for i in range(k)]
    )
    routing = pywrapcp.RoutingModel(manager)
    svc = np.r_[service, np.zeros(k, dtype=np.int64)]
    arc = routing.RegisterTransitCallback(
        lambda i, j: int(t[manager.IndexToNode(i), manager.IndexToNode(j)])
    )
    timed = routing.RegisterTransitCallback(
        lambda i, j: int(
            t[manager.IndexToNode(i), manager.IndexToNode(j)] + svc[manager.IndexToNode(i)]
        )
    )
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    routing.AddDimension(timed, 24 * 3600, day.end_s, False, "time")
    dim = routing.GetDimensionOrDie("time")
    for j in range(n):
        idx = manager.NodeToIndex(j)
        dim.CumulVar(idx).SetRange(opens[j] or day.start_s, closes[j] or day.end_s)
        routing.AddDisjunction([idx], 10_000_000)
    for v in range(k):
        dim.CumulVar(routing.Start(v)).SetRange(day.start_s, day.end_s)
        dim.CumulVar(routing.End(v)).SetRange(day.start_s, day.end_s)
    one = routing.RegisterUnaryTransitCallback(lambda i: 0 if manager.IndexToNode(i) >= n else 1)
    routing.AddDimensionWithVehicleCapacity(one, 0, [25] * k, True, "stops")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(budget * 1000))
    t0 = time.perf_counter()
    sol = routing.SolveWithParameters(params)
    travel, dropped = 0, 0
    for v in range(k):
        idx = routing.Start(v)
        while not routing.IsEnd(idx):
            nxt = sol.Value(routing.NextVar(idx))
            travel += int(t[manager.IndexToNode(idx), manager.IndexToNode(nxt)])
            idx = nxt
    for j in range(n):
        idx = manager.NodeToIndex(j)
        if sol.Value(routing.NextVar(idx)) == idx:
            dropped += 1
    result["OR-Tools GLS"] = {
        "travel_s": travel,
        "unplanned": dropped,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return result


def _pyvrp_vrptw(
    t: np.ndarray,
    n: int,
    k: int,
    service: np.ndarray,
    day: DayWindow,
    opens: list[int | None],
    closes: list[int | None],
    budget: float,
) -> dict[str, Any]:
    """PyVRP as its documentation models a VRPTW: every stop optional at a large prize."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    t0 = time.perf_counter()
    m = Model()
    locs = [m.add_location(x=0, y=0) for _ in range(n + k)]
    depots = [m.add_depot(locs[n + i]) for i in range(k)]
    for j in range(n):
        m.add_client(
            locs[j],
            delivery=[1],
            service_duration=int(service[j]),
            tw_early=opens[j] or day.start_s,
            tw_late=closes[j] or day.end_s,
            prize=10_000_000,
            required=False,
        )
    for i in range(k):
        m.add_vehicle_type(
            1,
            capacity=[25],
            start_depot=depots[i],
            end_depot=depots[i],
            tw_early=day.start_s,
            tw_late=day.end_s,
        )
    for a in range(n + k):
        for b in range(n + k):
            if a != b:
                m.add_edge(locs[a], locs[b], distance=int(t[a, b]), duration=int(t[a, b]))
    res = m.solve(MaxRuntime(budget), display=False)
    best = res.best
    return {
        "travel_s": int(best.distance()),
        "unplanned": n - sum(r.num_clients() for r in best.routes()),
        "feasible": bool(best.is_feasible()),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--graph", choices=["demo", "grid"], default="demo")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 60, 100, 200])
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vrptw", action="store_true")
    args = ap.parse_args()
    out: dict[str, Any] = {
        "graph": args.graph,
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
        "tsp": bench_tsp(args.graph, args.sizes, args.budget, args.repeats),
    }
    if args.vrptw:
        out["vrptw_100x5"] = {
            f"{b:g} s": bench_vrptw(args.graph, b) for b in (args.budget, 5 * args.budget)
        }
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

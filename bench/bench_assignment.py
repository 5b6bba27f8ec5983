"""Benchmark: the assignment engine on a county or province against a naive greedy baseline.

Run: ``.venv/bin/python -m bench.bench_assignment [--data DIR] [--cpsat S]``. Without ``--data``
the county dataset is generated into a temporary directory first (``gridsafe generate --scale
county``; pass a ``--scale province`` directory for ≥1M units). Everything runs in memory from
the dataset files (no database): rules → candidate pairs → network travel (scipy Dijkstra per
town) → the exact min-cost-flow engine, then the greedy baseline on the very same problem and,
with ``--cpsat S``, the CP-SAT model with S seconds per stage and component. Prints one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gis.analysis import assignment as core
from gis.analysis import assignment_rules as rules
from gis.analysis import road_graph as rg
from gis.crs import METRIC_SRID, STORAGE_SRID, transformer
from gis.io.dataset import read_layer


def _xy(geoms: object) -> np.ndarray:
    pts = np.array([(g.x, g.y) for g in geoms])  # type: ignore[attr-defined]
    x, y = transformer(STORAGE_SRID, METRIC_SRID).transform(pts[:, 0], pts[:, 1])
    return np.column_stack([x, y])


def load(data: Path) -> dict[str, pd.DataFrame]:
    villages = read_layer(data / "villages.geojson")
    units = read_layer(data / "units.geojson")
    staff = read_layer(data / "staff.geojson")
    roads = read_layer(data / "roads.geojson")
    town_of = dict(zip(villages["code"], villages["town_code"], strict=True))
    units = units.assign(
        id=np.arange(1, len(units) + 1), town_code=units["village_code"].map(town_of)
    )
    staff = staff.assign(id=np.arange(1, len(staff) + 1))
    if "town_code" not in staff:
        staff["town_code"] = staff["home_village_code"].map(town_of)
    # Node ids restart in every town: make them county-unique.
    town_no = pd.factorize(roads["town_code"])[0].astype(np.int64) * 10_000_000
    first = _xy([g.interpolate(0) for g in roads.geometry])
    last = _xy([g.interpolate(1, normalized=True) for g in roads.geometry])
    cost = roads["length_m"].astype(float) / (roads["speed_kmh"].astype(float) / 3.6)
    edges = pd.DataFrame(
        {
            "source": roads["source"].astype(np.int64) + town_no,
            "target": roads["target"].astype(np.int64) + town_no,
            "cost_s": cost,
            "reverse_cost_s": np.where(roads["oneway"].astype(bool), -1.0, cost),
            "x0": first[:, 0],
            "y0": first[:, 1],
            "x1": last[:, 0],
            "y1": last[:, 1],
        }
    )
    return {
        "villages": villages.assign(xy=list(_xy(villages.geometry.representative_point()))),
        "units": units.assign(xy=list(_xy(units.geometry))),
        "staff": staff.assign(xy=list(_xy(staff.geometry))),
        "edges": edges,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="a generated dataset directory")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--cpsat",
        type=float,
        metavar="S",
        help="also run the CP-SAT model, S seconds per stage and component",
    )
    args = parser.parse_args()
    data = args.data
    t_gen = 0.0
    if data is None or not (data / "units.geojson").exists():
        from data.generator.core import generate

        data = data or Path(tempfile.mkdtemp(prefix="gridsafe-assign-bench-")) / "county"
        t0 = time.perf_counter()
        generate(data, seed=args.seed, scale="county")
        t_gen = time.perf_counter() - t0

    t0 = time.perf_counter()
    f = load(data)
    t_load = time.perf_counter() - t0

    t0 = time.perf_counter()
    slots = rules.required_slots(f["villages"], f["units"], f["staff"])
    pairs = rules.candidate_pairs(slots, f["staff"])
    t_rules = time.perf_counter() - t0

    t0 = time.perf_counter()
    graph = rg.graph_from_edges(f["edges"])
    places = pd.concat(
        [
            pd.DataFrame({"place": "u" + f["units"]["id"].astype(str), "xy": f["units"]["xy"]}),
            pd.DataFrame({"place": "v" + f["villages"]["code"], "xy": f["villages"]["xy"]}),
        ],
        ignore_index=True,
    )
    place_index = pd.Series(np.arange(len(places)), index=places["place"])
    person_index = pd.Series(np.arange(len(f["staff"])), index=f["staff"]["id"].to_numpy())
    dest = place_index[rules.place_key(slots)[pairs["slot"]].to_numpy()].to_numpy()
    origin = person_index[pairs["staff_id"]].to_numpy()
    pairs["cost"] = rg.pair_travel_seconds(
        graph,
        np.stack(f["staff"]["xy"].to_numpy()),
        np.stack(places["xy"].to_numpy()),
        origin,
        dest,
    )
    t_travel = time.perf_counter() - t0

    problem = core.from_frames(slots, f["staff"], pairs)

    def summary(sol: core.Solution, seconds: float) -> dict[str, object]:
        return {
            "filled": sol.filled,
            "travel_s": sol.travel,
            "travel_best_s": sol.travel_best,
            "travel_bound_s": sol.travel_bound,
            "gap": round(sol.gap, 5),
            "max_load_permille": sol.max_load_permille,
            "seconds": round(seconds, 2),
            "stages_s": {k: round(v, 2) for k, v in sol.seconds.items()},
        }

    t0 = time.perf_counter()
    best = core.solve(problem)
    t_solve = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy = core.solve_greedy(problem)
    t_greedy = time.perf_counter() - t0
    witness = {}
    if args.cpsat:
        t0 = time.perf_counter()
        cpsat = core.solve_cpsat(problem, time_limit_s=args.cpsat, gap_limit=1e-3)
        witness = {"cp_sat": summary(cpsat, time.perf_counter() - t0) | {"optimal": cpsat.optimal}}

    counts = slots.groupby("role").size().to_dict()
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {platform.python_version()}",
                "data": str(data),
                "generate_s": round(t_gen, 1),
                "units": len(f["units"]),
                "staff": len(f["staff"]),
                "villages": len(f["villages"]),
                "road_edges": len(f["edges"]),
                "slots": len(slots),
                "slots_by_role": counts,
                "pairs": len(pairs),
                "components": best.components,
                "load_s": round(t_load, 2),
                "rules_s": round(t_rules, 2),
                "travel_s": round(t_travel, 2),
                "flow": summary(best, t_solve) | {"optimal": best.optimal},
                "greedy": summary(greedy, t_greedy),
                "flow_vs_greedy": {
                    "filled": best.filled - greedy.filled,
                    "travel": round(best.travel / max(greedy.travel, 1), 4),
                    "seconds": round(t_solve / max(t_greedy, 1e-9), 1),
                },
                **witness,
                "total_engine_s": round(t_rules + t_travel + t_solve, 2),
            },
            ensure_ascii=False,
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Benchmark: which grid each unit of the province dataset lies in (>= 1M units, 70k polygons).

Run: ``.venv/bin/python -m bench.bench_province_containment [--data DIR]`` (without ``--data``
the province dataset is generated into a temporary directory, a few minutes on 2 cores).
Contenders, interleaved over three rounds, medians reported: a bare GeoPandas ``sjoin``
(the baseline) and gridsafe's ``locate_units`` (exact, and with the 1 m boundary tolerance the
gap report uses), all on the same projected frames.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pyogrio

from data.generator.core import generate
from gis.analysis.coverage import locate_units
from gis.crs import METRIC_SRID


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, help="a province dataset directory")
    args = parser.parse_args()
    data = args.data
    if data is None:
        data = Path(tempfile.mkdtemp(prefix="gridsafe-province-")) / "province"
        t0 = time.perf_counter()
        generate(data, seed=2024, scale="province")
        print(f"generated in {time.perf_counter() - t0:.0f} s", flush=True)

    t0 = time.perf_counter()
    villages = gpd.read_file(data / "villages.geojson", columns=["code"]).to_crs(METRIC_SRID)
    units = pyogrio.read_dataframe(data / "units.geojson", columns=["code"])
    points = units.geometry.to_crs(METRIC_SRID)
    frame = gpd.GeoDataFrame(geometry=points)
    read_s = time.perf_counter() - t0

    contenders = {
        "sjoin": lambda: gpd.sjoin(frame, villages, predicate="intersects"),
        "exact": lambda: locate_units(points, villages, tolerance_m=0.0),
        "tol1m": lambda: locate_units(points, villages, tolerance_m=1.0),
    }
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    results = {}
    load_before = os.getloadavg()
    for _ in range(3):
        for name, run in contenders.items():
            t0 = time.perf_counter()
            results[name] = run()
            runs[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(times) for name, times in runs.items()}
    located = int((results["exact"]["n_grids"] > 0).sum())
    assert results["sjoin"].index.nunique() == located  # both find the same units inside
    print(
        json.dumps(
            {
                "units": len(points),
                "villages": len(villages),
                "read_s": round(read_s, 1),
                "median_s": {k: round(v, 2) for k, v in med.items()},
                "exact_vs_sjoin": round(med["exact"] / med["sjoin"], 2),
                "tol1m_vs_sjoin": round(med["tol1m"] / med["sjoin"], 2),
                "units_in_a_grid": located,
                "on_boundary_tol1m": int(results["tol1m"]["on_boundary"].sum()),
                "load_average_1_5_15": {"before": load_before, "after": os.getloadavg()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

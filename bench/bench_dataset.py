"""Benchmark: generate the county dataset and load it into PostGIS; baseline GeoPandas to_postgis.

Run: ``.venv/bin/python -m bench.bench_dataset [--scale county] [--seed 2024]``. Starts its own
throwaway cluster; prints a Markdown table row set for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import geopandas as gpd
from sqlalchemy import create_engine, text

from data import REFERENCE_DIR
from data.generator.core import generate
from gis.audit import Actor
from gis.db.bootstrap import prepare
from gis.db.local_server import LocalServer
from gis.io.dataset import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="county", choices=["town", "county", "province"])
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridsafe-bench-"))
    work.chmod(0o755)
    out = work / args.scale
    started = time.perf_counter()
    manifest = generate(out, seed=args.seed, scale=args.scale)
    generate_s = time.perf_counter() - started
    counts = {name: info["count"] for name, info in manifest["files"].items()}
    total_rows = sum(counts.values())

    server = LocalServer(work / "pg", durable=False)
    engine = create_engine(server.start())
    try:
        prepare(engine, REFERENCE_DIR, actor=Actor.system("bench:dataset"))
        with engine.begin() as conn:
            report = load_dataset(conn, out)

        # Baseline in the same run: the units file read by GeoPandas and written with to_postgis
        # (COPY into a new table with no constraints, foreign keys or indexes but the GiST one).
        started = time.perf_counter()
        units = gpd.read_file(out / "units.geojson")
        read_s = time.perf_counter() - started
        units.to_postgis("units_baseline", engine, if_exists="replace", chunksize=10_000)
        baseline_s = time.perf_counter() - started
        with engine.connect() as conn:
            loaded_units = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
    finally:
        engine.dispose()
        server.destroy()

    units_rate = report.rows["units"] / report.seconds
    result = {
        "scale": args.scale,
        "machine": f"{platform.machine()} {platform.python_version()}",
        "files": counts,
        "rows_generated": total_rows,
        "generate_s": round(generate_s, 2),
        "generate_rows_per_s": round(total_rows / generate_s),
        "load_s": round(report.seconds, 2),
        "load_rows": report.total_rows,
        "load_rows_per_s": round(report.total_rows / report.seconds),
        "units_loaded": loaded_units,
        "baseline_read_plus_to_postgis_units_s": round(baseline_s, 2),
        "baseline_read_units_s": round(read_s, 2),
        "baseline_units_rows_per_s": round(len(units) / baseline_s),
        "load_all_layers_vs_baseline_units_only": round(report.seconds / baseline_s, 2),
        "units_rows_per_s_ours_overall": round(units_rate),
        "units_layer_s": round(report.table_seconds["units"], 2),
        "units_layer_rows_per_s": round(report.rows["units"] / report.table_seconds["units"]),
        "units_layer_vs_baseline": round(report.table_seconds["units"] / baseline_s, 2),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

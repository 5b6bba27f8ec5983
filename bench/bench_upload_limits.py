"""Benchmark: the upload bounds check of a county ledger against reading it (same process).

Run: ``.venv/bin/python -m bench.bench_upload_limits [--units 52000]``. Writes a county-size unit
ledger (xlsx, CSV and GeoJSON, ~26 columns) to a temp dir, then times per format the bounds check
(``gis.io.readers.prepare_upload`` with the default Settings limits) against the baseline of
reading the same file (``read_source``, what every import does next). The check must pass — the
limits are meant to admit a county — and cost a small fraction of the read.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import tempfile
import time
from pathlib import Path

import openpyxl

from gis.io.ledger import UNIT_LEDGER
from gis.io.readers import prepare_upload, read_source
from gis.settings import UploadLimits
from tests.gis.io.factories import UNIT_HEADERS, unit_row


def _rows(n: int) -> list[list[object]]:
    out = []
    for i in range(1, n + 1):
        row = unit_row(i, 经度=113.9 + (i % 997) * 1e-4, 纬度=34.0 + (i % 991) * 1e-4)
        out.append([row.get(h) for h in UNIT_HEADERS])
    return out


def write_files(work: Path, n: int) -> dict[str, Path]:
    rows = _rows(n)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(["某县生产经营单位台账（示例数据）"])
    sheet.append(UNIT_HEADERS)
    for row in rows:
        sheet.append(row)
    xlsx = work / "county.xlsx"
    book.save(xlsx)
    csv_path = work / "county.csv"
    with csv_path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(UNIT_HEADERS)
        writer.writerows(rows)
    lon, lat = UNIT_HEADERS.index("经度"), UNIT_HEADERS.index("纬度")
    features = [
        {
            "type": "Feature",
            "properties": dict(zip(UNIT_HEADERS, row, strict=True)),
            "geometry": {"type": "Point", "coordinates": [row[lon], row[lat]]},
        }
        for row in rows
    ]
    geojson = work / "county.geojson"
    geojson.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    )
    return {"xlsx": xlsx, "csv": csv_path, "geojson": geojson}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=52_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridsafe-bench-limits-"))
    files = write_files(work, args.units)
    print("| format | size MB | check s | read s (baseline) | check/read | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for fmt, path in files.items():
        started = time.perf_counter()
        prepare_upload(path, UploadLimits())
        check_s = time.perf_counter() - started
        started = time.perf_counter()
        table = read_source(path, header_keys=UNIT_LEDGER.header_keys)
        read_s = time.perf_counter() - started
        assert len(table.rows) == args.units, (fmt, len(table.rows))
        size = path.stat().st_size / (1 << 20)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # so far, this process
        print(
            f"| {fmt} | {size:.1f} | {check_s:.3f} | {read_s:.2f} | {check_s / read_s:.2%} "
            f"| {rss:.0f} |"
        )


if __name__ == "__main__":
    main()

"""Benchmark: the monthly report (月调度) for a county against a pandas baseline of the same run.

Run: ``.venv/bin/python -m bench.bench_hazard_stats [--data DIR] [--per-unit 4] [--repeat 5]``.
Starts its own throwaway cluster and loads the county dataset (generated unless ``--data``). The
generated county has units but no activity yet, so a year of inspections (``--per-unit`` per unit,
on random days of 2024) and their hazards (0–3 each; 85 % signed off within 0–20 days, 2 %
major) is added by SQL with a fixed seed. Then, interleaved, ``repeat`` times each:

* gridsafe: ``periodic_report(monthly, 2024-06)``, the six GROUP BY tables and the workbook;
* baseline: pandas reads the month's hazards, inspections and the units as plain rows
  (``read_sql``), computes the same six tables with ``groupby`` and writes them with
  ``DataFrame.to_excel`` — the spreadsheet an analyst would script by hand.

The two totals are compared, so the baseline is checked to do the same work.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, create_engine, text

from data import REFERENCE_DIR
from data.generator.core import generate
from gis.access import Scope
from gis.audit import Actor
from gis.db.bootstrap import prepare
from gis.db.local_server import LocalServer
from gis.io.dataset import load_dataset
from gis.io.periodic_reports import (
    ReportKind,
    periodic_report,
    report_tables,
    write_periodic_report,
)
from gis.queries.hazard_stats import Dimension, hazard_stats, parse_period

ACTIVITY_SQL = """
SELECT setseed(0.2024);
INSERT INTO inspections (town_code, code, unit_id, village_code, inspected_on, kind,
                         inspector_codes, hazard_count, result)
SELECT u.town_code, 'BI' || lpad((row_number() OVER (ORDER BY u.id, g))::text, 12, '0'),
       u.id, u.village_code, date '2024-01-01' + floor(random() * 366)::int, 'department',
       '[]'::jsonb, floor(random() * 4)::int, 'bench'
FROM units u CROSS JOIN generate_series(1, :per_unit) g
ORDER BY u.id, g;
INSERT INTO hazards (town_code, code, unit_id, village_code, inspection_id, source, category,
                     level, major_basis, description, found_on, deadline, rectified_on,
                     closed_on, status, supervised, geom, version)
SELECT town_code, 'BH' || lpad((row_number() OVER (ORDER BY id, g))::text, 12, '0'), unit_id,
       village_code, id, 'department', category,
       CASE WHEN r_major < 0.02 THEN 'major' ELSE 'general' END,
       CASE WHEN r_major < 0.02 THEN 'bench' END, 'bench hazard', inspected_on,
       inspected_on + 15,
       CASE WHEN r_closed < 0.85 THEN inspected_on + days END,
       CASE WHEN r_closed < 0.85 THEN inspected_on + days END,
       CASE WHEN r_closed < 0.85 THEN 'closed' ELSE 'rectifying' END, false, geom, 0
FROM (
    SELECT i.*, g, u.geom, random() AS r_major, random() AS r_closed,
           floor(random() * 21)::int AS days,
           (ARRAY['fire', 'electrical', 'gas', 'management', 'special_equipment'])
               [1 + floor(random() * 5)::int] AS category
    FROM inspections i JOIN units u ON u.id = i.unit_id
    CROSS JOIN LATERAL generate_series(1, i.hazard_count) g
    WHERE i.result = 'bench'
    ORDER BY i.id, g
) s;
ANALYZE inspections; ANALYZE hazards;
"""


def add_activity(conn: Connection, per_unit: int) -> tuple[int, int]:
    for statement in ACTIVITY_SQL.split(";"):
        if statement.strip():
            conn.execute(text(statement), {"per_unit": per_unit})
    inspections = conn.execute(text("SELECT count(*) FROM inspections")).scalar_one()
    hazards = conn.execute(text("SELECT count(*) FROM hazards")).scalar_one()
    return int(inspections), int(hazards)


def pandas_report(conn: Connection, start: str, end: str) -> tuple[bytes, int]:
    """The baseline: plain rows out, six groupby tables, ``to_excel``; returns (xlsx, found)."""
    h = pd.read_sql(
        text(
            "SELECT village_code, unit_id, category, level, source, found_on, deadline, "
            "closed_on FROM hazards WHERE found_on BETWEEN :a AND :b AND status <> 'rejected'"
        ),
        conn,
        params={"a": start, "b": end},
        parse_dates=["found_on", "deadline", "closed_on"],
    )
    i = pd.read_sql(
        text(
            "SELECT village_code, unit_id, hazard_count FROM inspections "
            "WHERE inspected_on BETWEEN :a AND :b"
        ),
        conn,
        params={"a": start, "b": end},
    )
    units = pd.read_sql(
        text(
            "SELECT id AS unit_id, left(industry_code, 1) AS industry, department_code FROM units"
        ),
        conn,
    )
    h = h.merge(units, on="unit_id", how="left")
    i = i.merge(units, on="unit_id", how="left")
    cut = pd.Timestamp(end)
    closed = h["closed_on"].notna() & (h["closed_on"] <= cut)
    major = h["level"] == "major"
    h = h.assign(
        found=1,
        rectified=closed,
        overdue=(h["deadline"] < cut) & ~closed,
        major_found=major,
        major_cleared=major & closed,
        days=(h["closed_on"] - h["found_on"]).dt.days.where(closed, 0),
    )
    metrics = ["found", "rectified", "overdue", "major_found", "major_cleared", "days"]
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for key in ("village_code", "industry", "department_code", "category", "level", "source"):
            table = h.groupby(key, dropna=False)[metrics].sum()
            if key in i.columns:
                table = table.join(
                    i.groupby(key, dropna=False)["hazard_count"].agg(["count", "sum"]), how="outer"
                )
            table["rate"] = table["rectified"] / table["found"]
            table.loc["合计"] = table.sum(numeric_only=True)
            table.to_excel(writer, sheet_name=key[:30])
    return out.getvalue(), int(h["found"].sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, help="a county dataset directory (default: generate)")
    parser.add_argument("--per-unit", type=int, default=4, help="inspections per unit in 2024")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridsafe-bench-stats-"))
    work.chmod(0o755)
    directory = args.data
    if directory is None:
        directory = work / "county"
        generate(directory, seed=2024, scale="county")
    server = LocalServer(work / "pg", durable=False)
    engine = create_engine(server.start())
    try:
        prepare(engine, REFERENCE_DIR, actor=Actor.system("bench:hazard-stats"))
        with engine.begin() as conn:
            load_dataset(conn, directory)
            inspections, hazards = add_activity(conn, args.per_unit)
            units = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
            towns = conn.execute(text("SELECT count(*) FROM towns")).scalar_one()
        period = parse_period("2024-06")
        scope = Scope.unrestricted()
        ours: list[float] = []
        base: list[float] = []
        with engine.connect() as conn:
            for _ in range(args.repeat):
                started = time.perf_counter()
                workbook = periodic_report(conn, scope, ReportKind.MONTHLY, period)
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                baseline, found = pandas_report(conn, "2024-06-01", "2024-06-30")
                base.append(time.perf_counter() - started)
            total = hazard_stats(conn, scope, period, Dimension.VILLAGE).total
            started = time.perf_counter()
            tables = report_tables(conn, scope, ReportKind.MONTHLY, period)
            query_s = time.perf_counter() - started
            started = time.perf_counter()
            write_periodic_report(ReportKind.MONTHLY, "county", tables)
            write_s = time.perf_counter() - started
        assert total.found == found, (total.found, found)
        ours_s, base_s = statistics.median(ours), statistics.median(base)
        print(
            f"county: {towns} towns, {units} units; 2024: {inspections} inspections, "
            f"{hazards} hazards; June: {found} found"
        )
        print(f"| monthly report, county, 2024-06 (median of {args.repeat}) | s | × pandas |")
        print("|---|---|---|")
        print(f"| pandas baseline: read_sql + 6 groupby + to_excel | {base_s:.3f} | 1 |")
        print(
            f"| gridsafe periodic_report (6 scoped GROUP BYs + workbook, {len(workbook)} B) "
            f"| {ours_s:.3f} | {ours_s / base_s:.2f} |"
        )
        print(f"(of one run: queries {query_s:.3f} s, workbook {write_s:.3f} s)")
        print(f"(baseline workbook {len(baseline)} B; all runs ours {ours}, base {base})")
    finally:
        engine.dispose()
        server.destroy()


if __name__ == "__main__":
    main()

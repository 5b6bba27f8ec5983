"""Benchmark: what the data-version triggers cost a bulk write (issue 8 §5).

Run: ``.venv/bin/python -m bench.bench_versions --data DIR [--repeat 5]``. Loads the dataset
(e.g. the county: 52 000 units in 100 towns) into a throwaway cluster, then times the same
bulk statements with the statement-level triggers enabled and disabled
(``ALTER TABLE … DISABLE TRIGGER USER``), interleaved, each in a transaction rolled back:
an UPDATE of every unit, and a COPY-like INSERT … SELECT of every unit into ``units`` (new codes).
Prints medians, their ratio and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

from data import REFERENCE_DIR
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once, prepare
from gis.db.local_server import LocalServer

UPDATE = "UPDATE units SET employees = coalesce(employees, 0) + 1"


def _timed(conn: Connection, sql: str, triggers: bool) -> float:
    trans = conn.begin()
    try:
        if not triggers:
            conn.execute(text("ALTER TABLE units DISABLE TRIGGER USER"))
        started = time.perf_counter()
        conn.execute(text(sql))
        return time.perf_counter() - started
    finally:
        trans.rollback()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridsafe-versions-"))
    work.chmod(0o755)
    server = LocalServer(work / "pg", durable=False)
    try:
        engine = create_engine(server.start())
        actor = Actor.system("bench:versions")
        prepare(engine, REFERENCE_DIR, actor=actor)
        load_dataset_once(engine, args.data, actor=actor)
        with engine.connect() as conn:
            columns = [
                c
                for c in conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'units' AND column_name NOT IN ('id', 'code', 'uscc')"
                        " ORDER BY ordinal_position"
                    )
                ).scalars()
            ]
            cols = ", ".join(columns)
            insert = (
                f"INSERT INTO units (code, uscc, {cols}) "
                f"SELECT 'B' || id, 'Z' || lpad(id::text, 17, '0'), {cols} FROM units"
            )
            rows = conn.execute(text("SELECT count(*) FROM units")).scalar_one()
            towns = conn.execute(text("SELECT count(DISTINCT town_code) FROM units")).scalar_one()
            conn.rollback()
            print(f"{rows} units in {towns} towns; load average {os.getloadavg()}")
            for label, sql in (
                ("UPDATE every unit", UPDATE),
                ("INSERT a copy of every unit", insert),
            ):
                with_t, without = [], []
                for _ in range(args.repeat):
                    with_t.append(_timed(conn, sql, True))
                    without.append(_timed(conn, sql, False))
                a, b = statistics.median(with_t), statistics.median(without)
                print(
                    f"{label}: with triggers {a * 1000:.0f} ms, without {b * 1000:.0f} ms, "
                    f"ratio {a / b:.2f}"
                )
        print(f"load average {os.getloadavg()}")
        engine.dispose()
        return 0
    finally:
        server.destroy()


if __name__ == "__main__":
    raise SystemExit(main())

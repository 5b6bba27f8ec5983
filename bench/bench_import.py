"""Benchmark: import a county's 52 000 units over HTTP in one transaction; baseline GeoPandas
``to_postgis`` of the same rows into a bare table, in the same run.

Run: ``.venv/bin/python -m bench.bench_import [--data /tmp/county]``. Starts its own throwaway
cluster. The county dataset (generated when ``--data`` is not given) is loaded, then its 100
towns are merged into one town holding all 3 500 villages and no units, so that the county's
52 000 units form one ledger of one town (a ``POST /api/v1/imports/units`` names one town).
The ledger is written as the CSV an office would upload (Chinese headers, enum labels).
Prints JSON with the timings and ratios for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, text

from api.main import create_app
from data import REFERENCE_DIR
from data.generator.core import generate
from gis.access import Role
from gis.audit import Actor
from gis.auth import hash_password, issue_token
from gis.db.access_models import Account
from gis.db.bootstrap import prepare
from gis.db.local_server import LocalServer
from gis.domain import FireKeyLevel, GasUse, NineSmallCategory, OperatingStatus, RiskColor
from gis.io.dataset import load_dataset
from gis.settings import Settings

BIG_TOWN = "411003999000"
LABELS = {
    "risk_color": RiskColor,
    "fire_key_level": FireKeyLevel,
    "nine_small_category": NineSmallCategory,
    "gas_use": GasUse,
    "status": OperatingStatus,
}
HEADERS = {
    "name": "单位名称",
    "uscc": "统一社会信用代码",
    "village_code": "所属村(社区)",
    "address": "详细地址",
    "lon": "经度",
    "lat": "纬度",
    "industry_code": "行业代码",
    "risk_color": "风险等级",
    "fire_key_level": "消防安全重点单位",
    "nine_small_category": "九小场所",
    "gas_use": "燃气使用",
    "status": "经营状态",
    "employees": "从业人员数",
    "floor_area_m2": "建筑面积(m²)",
}


def write_ledger(units: gpd.GeoDataFrame, path: Path) -> None:
    """The county's units as an office CSV ledger (unit codes left to the importer: the
    generator numbers units per town, so they repeat across the merged towns)."""
    frame = pd.DataFrame(units.drop(columns="geometry"))
    frame["lon"] = units.geometry.x
    frame["lat"] = units.geometry.y
    for column, enum in LABELS.items():
        frame[column] = frame[column].map(
            lambda v, e=enum: e(v).label if isinstance(v, str) and v else None
        )
    frame = frame[list(HEADERS)].rename(columns=HEADERS)
    frame.to_csv(path, index=False, encoding="utf-8-sig")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, help="a generated county directory")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridsafe-bench-import-"))
    work.chmod(0o755)
    data = args.data
    if data is None:
        data = work / "county"
        generate(data, seed=args.seed, scale="county")
    units = gpd.read_file(data / "units.geojson")
    ledger = work / "units.csv"
    write_ledger(units, ledger)

    server = LocalServer(work / "pg", durable=False)
    url = server.start()
    engine = create_engine(url)
    try:
        prepare(engine, REFERENCE_DIR, actor=Actor.system("bench:import"))
        with engine.begin() as conn:
            load_dataset(conn, data)
            conn.execute(text("DELETE FROM units"))
            conn.execute(
                text(
                    "INSERT INTO towns (code, name, county_code, is_sample, geom) "
                    "SELECT :t, '合并测试镇', min(county_code), true, ST_Multi(ST_Union(geom)) "
                    "FROM towns"
                ),
                {"t": BIG_TOWN},
            )
            # Only the villages move: unit imports look up the town's villages; staff, roads
            # and stations keep their towns (their codes repeat across towns).
            conn.execute(text("UPDATE villages SET town_code = :t"), {"t": BIG_TOWN})
            account_id = conn.execute(
                insert(Account)
                .values(
                    username="bench-admin",
                    password_hash=hash_password("bench-password-123"),
                    role=Role.TOWN_ADMIN,
                    town_code=BIG_TOWN,
                    active=True,
                    is_demo=False,
                    token_version=0,
                    failed_logins=0,
                )
                .returning(Account.id)
            ).scalar_one()
            conn.execute(text("ANALYZE"))
        # A throwaway key: serving refuses a missing or default one.
        settings = Settings(database_url=url, town_code=BIG_TOWN, secret_key=secrets.token_hex(32))
        token, _ = issue_token(account_id, 0, settings.signing_secret())
        client = TestClient(
            create_app(settings, engine), headers={"Authorization": f"Bearer {token}"}
        )

        def post() -> tuple[float, dict[str, object]]:
            started = time.perf_counter()
            with ledger.open("rb") as fh:
                response = client.post(
                    "/api/v1/imports/units",
                    files={"file": ("units.csv", fh, "text/csv")},
                )
            seconds = time.perf_counter() - started
            assert response.status_code == 200, response.text[:2000]
            return seconds, response.json()

        first_s, first = post()
        again_s, again = post()
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*) FROM units WHERE town_code = :t"), {"t": BIG_TOWN}
            ).scalar_one()

        # Baseline, same run: the same ledger read by pandas, points built by GeoPandas and
        # written with to_postgis (COPY into a new table: no keys, constraints or lookups).
        started = time.perf_counter()
        frame = pd.read_csv(ledger, encoding="utf-8-sig")
        points = gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["经度"], frame["纬度"]), crs=4490
        )
        points.to_postgis("units_baseline", engine, if_exists="replace", chunksize=10_000)
        baseline_s = time.perf_counter() - started
    finally:
        engine.dispose()
        server.destroy()

    result = {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "rows": len(units),
        "ledger_mb": round(ledger.stat().st_size / 2**20, 1),
        "import_http_s": round(first_s, 2),
        "import_inserted": first["inserted"],
        "import_rows_per_s": round(len(units) / first_s),
        "reimport_http_s": round(again_s, 2),
        "reimport_unchanged": again["unchanged"],
        "stored_units": stored,
        "baseline_read_csv_to_postgis_s": round(baseline_s, 2),
        "import_vs_baseline": round(first_s / baseline_s, 2),
        "reimport_vs_baseline": round(again_s / baseline_s, 2),
        "warnings": first.get("warnings"),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

"""Own throwaway clusters and a tiny hand-made town, for tests that stop, kill or restore one.

The session cluster of ``tests/conftest.py`` is shared by every test, so outage, killed-import and
backup tests start their own here with the same mechanism (gis.db.local_server).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text

from data import REFERENCE_DIR
from gis.audit import Actor
from gis.db.bootstrap import prepare
from gis.db.local_server import LocalServer

#: A town code no real dataset uses, so the tiny town never collides with the demo town.
TINY_TOWN = "419999101000"
TINY_VILLAGES = ("419999101001", "419999101002")


@contextmanager
def throwaway_server() -> Iterator[LocalServer]:
    """A fresh, non-durable cluster in a temporary directory, destroyed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="gridsafe-fault-"))
    parent.chmod(0o755)  # the server runs as an unprivileged user when tests run as root
    server = LocalServer(parent / "pg", durable=False)
    server.start()
    try:
        yield server
    finally:
        server.destroy()
        if parent.exists() and not any(parent.iterdir()):
            parent.rmdir()


def prepared_engine(url: str) -> Engine:
    """An engine on a migrated database with the reference tables loaded."""
    engine = create_engine(url, pool_pre_ping=True)
    prepare(engine, REFERENCE_DIR, actor=Actor.system("test:throwaway"))
    return engine


def _square(x: float, y: float, size: float) -> list[list[list[list[float]]]]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return [[ring]]


def _collection(features: list[dict[str, object]]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
            "features": features,
        },
        ensure_ascii=False,
    )


def write_tiny_town(directory: Path, units: int = 200, bad_unit_village: bool = False) -> Path:
    """Write a two-village town with ``units`` units in the dataset file contract.

    ``bad_unit_village`` makes the last unit point at a village that does not exist, so the
    units COPY (the third one) fails after towns and villages went in.
    """
    directory.mkdir(parents=True, exist_ok=True)
    x0, y0 = 114.50, 34.50
    town = {
        "type": "Feature",
        "geometry": {"type": "MultiPolygon", "coordinates": _square(x0, y0, 0.02)},
        "properties": {
            "code": TINY_TOWN,
            "name": "试验镇",
            "county_code": "419999000000",
            "is_sample": True,
        },
    }
    villages = [
        {
            "type": "Feature",
            "geometry": {"type": "MultiPolygon", "coordinates": _square(x0 + 0.01 * i, y0, 0.01)},
            "properties": {
                "code": code,
                "town_code": TINY_TOWN,
                "name": f"试验{i + 1}村",
                "kind": "village",
                "urban_rural_code": "220",
                "population": 1000 + i,
                "households": 300 + i,
                "groups_count": 5,
            },
        }
        for i, code in enumerate(TINY_VILLAGES)
    ]
    unit_features = []
    for i in range(units):
        village = i % 2
        code = TINY_VILLAGES[village]
        if bad_unit_village and i == units - 1:
            code = "419999101099"
        unit_features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [
                        round(x0 + 0.01 * village + 0.001 + (i % 80) * 0.0001, 7),
                        round(y0 + 0.001 + (i // 80 % 80) * 0.0001, 7),
                    ],
                },
                "properties": {
                    "code": f"QY{i:06d}",
                    "uscc": f"91419999MA{i:07d}X"[:18],
                    "name": f"试验单位{i}",
                    "address": f"试验路{i}号",
                    "village_code": code,
                    "industry_code": "F5265",
                    "department_code": "AJB",
                    "risk_color": ("red", "orange", "yellow", "blue")[i % 4],
                    "fire_key_level": "none",
                    "nine_small_category": None,
                    "high_risk": i % 10 == 0,
                    "gas_use": "none",
                    "status": "operating",
                    "employees": 3 + i % 20,
                    "floor_area_m2": 50.0 + i,
                },
            }
        )
    (directory / "town.geojson").write_text(_collection([town]), encoding="utf-8")
    (directory / "villages.geojson").write_text(_collection(villages), encoding="utf-8")
    (directory / "units.geojson").write_text(_collection(unit_features), encoding="utf-8")
    return directory


def town_rows(conn: Connection, town: str = TINY_TOWN) -> dict[str, int]:
    """Rows of ``town`` in each table the tiny town writes."""
    return {
        table: int(
            conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :town"),  # noqa: S608
                {"town": town},
            ).scalar_one()
        )
        for table, column in (("towns", "code"), ("villages", "town_code"), ("units", "town_code"))
    }

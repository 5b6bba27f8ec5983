"""Load a generated dataset directory (the file contract of data/README.md) into PostGIS.

Bulk rows go in with COPY in one transaction: a county-scale dataset loads in seconds, and a
failure anywhere leaves the database as it was.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gis.crs import STORAGE_SRID
from gis.errors import InvalidInput

#: Files in load order (parents before children), with their target table and columns.
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("town.geojson", "towns", ("code", "name", "county_code", "is_sample")),
    (
        "villages.geojson",
        "villages",
        (
            "code",
            "town_code",
            "name",
            "kind",
            "urban_rural_code",
            "population",
            "households",
            "groups_count",
        ),
    ),
    ("micro_grids.geojson", "micro_grids", ("code", "town_code", "village_code", "name")),
    (
        "staff.geojson",
        "staff",
        (
            "town_code",
            "code",
            "name",
            "department_code",
            "role",
            "home_village_code",
            "capacity_units",
            "capacity_teams",
            "phone",
            "license_no",
            "active",
        ),
    ),
    (
        "units.geojson",
        "units",
        (
            "town_code",
            "code",
            "uscc",
            "name",
            "address",
            "village_code",
            "industry_code",
            "department_code",
            "risk_color",
            "fire_key_level",
            "nine_small_category",
            "high_risk",
            "gas_use",
            "status",
            "employees",
            "floor_area_m2",
        ),
    ),
    (
        "roads.geojson",
        "roads",
        (
            "town_code",
            "code",
            "name",
            "road_class",
            "speed_kmh",
            "oneway",
            "length_m",
            "source",
            "target",
            "cost_s",
            "reverse_cost_s",
        ),
    ),
    (
        "gas_pipelines.geojson",
        "gas_pipelines",
        ("town_code", "code", "name", "pressure_class", "dn", "material", "build_year", "operator"),
    ),
    ("gas_facilities.geojson", "gas_facilities", ("town_code", "code", "kind", "name")),
    (
        "fire_stations.geojson",
        "fire_stations",
        ("town_code", "code", "kind", "name", "staff_count"),
    ),
)


@dataclass
class LoadReport:
    """What a dataset load wrote, and how fast."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: Wall time per table: reading its file, converting and COPYing it.
    table_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def read_layer(path: Path) -> gpd.GeoDataFrame:
    """Read one GeoJSON file of the contract as a GeoDataFrame in EPSG:4490."""
    frame = gpd.read_file(path, engine="pyogrio")
    if frame.crs is None or frame.crs.to_epsg() in (4326, None):
        frame = frame.set_crs(STORAGE_SRID, allow_override=True)
    return frame


def _ewkb(geoms: Sequence[Any]) -> np.ndarray:
    arr = shapely.set_srid(np.asarray(geoms, dtype=object), STORAGE_SRID)
    wkb: np.ndarray = shapely.to_wkb(arr, hex=True, include_srid=True)
    return wkb


def _promote_multi(frame: gpd.GeoDataFrame) -> gpd.GeoSeries:
    geoms = frame.geometry
    single = geoms.geom_type == "Polygon"
    if single.any():
        geoms = geoms.copy()
        geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
    return geoms


def _town_codes(frame: pd.DataFrame, villages: dict[str, str], fallback: str) -> pd.Series:
    """Town of each row: given, else from its village, else the only town of the dataset."""
    if "town_code" in frame:
        return frame["town_code"]
    for col in ("village_code", "home_village_code"):
        if col in frame:
            mapped = frame[col].map(villages)
            return mapped.fillna(fallback)
    return pd.Series(fallback, index=frame.index)


def _clean(value: Any) -> Any:
    """A Python value COPY can write: no NaN/NaT, numpy scalars unwrapped, timestamps as dates."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _copy(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY rows (already plain Python values: None, int, float, str, date) into ``table``."""
    raw = conn.connection.driver_connection
    assert raw is not None
    count = 0
    cols = ", ".join(columns)
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _plain_column(frame: pd.DataFrame, name: str) -> list[Any]:
    """One column as plain Python values, converted per column rather than per cell (speed)."""
    if name not in frame:
        return [None] * len(frame)
    series = frame[name]
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.dt.date
    values: list[Any] = series.astype(object).where(series.notna(), None).tolist()
    return values


def _rows(frame: pd.DataFrame, columns: Sequence[str], geoms: np.ndarray | None) -> Iterator[Any]:
    values = [_plain_column(frame, c) for c in columns]
    if geoms is not None:
        values.append(list(geoms))
    return zip(*values, strict=True)


def load_dataset(conn: Connection, directory: Path) -> LoadReport:
    """Load every file of a generated dataset into the database through ``conn``.

    The caller owns the transaction (``with engine.begin() as conn``): on any error nothing of
    the dataset remains.

    Parameters
    ----------
    conn
        An open connection inside a transaction, on a migrated database.
    directory
        A directory written by ``gridsafe generate`` (see data/README.md).
    """
    started = time.perf_counter()
    directory = Path(directory)
    if not (directory / "town.geojson").exists():
        raise InvalidInput(f"{directory} is not a gridsafe dataset (no town.geojson)")
    report = LoadReport()
    towns = read_layer(directory / "town.geojson")
    fallback_town = str(towns["code"].iloc[0])
    villages_map: dict[str, str] = {}

    for filename, table, columns in LAYERS:
        path = directory / filename
        if not path.exists():
            continue
        table_started = time.perf_counter()
        frame = read_layer(path) if table != "towns" else towns
        if table == "villages":
            villages_map = dict(zip(frame["code"], frame["town_code"], strict=True))
        if table == "roads":
            speed = frame["speed_kmh"].astype(float) / 3.6
            frame["cost_s"] = frame["length_m"].astype(float) / speed
            frame["reverse_cost_s"] = np.where(frame["oneway"].astype(bool), -1.0, frame["cost_s"])
        if "town_code" in columns:
            frame["town_code"] = _town_codes(frame, villages_map, fallback_town)
        geoms = frame.geometry
        if table in ("towns", "villages", "micro_grids"):
            geoms = _promote_multi(frame)
        ewkb = _ewkb(list(geoms))
        report.rows[table] = _copy(conn, table, [*columns, "geom"], _rows(frame, columns, ewkb))
        report.table_seconds[table] = time.perf_counter() - table_started

    unit_ids = _code_map(conn, "units")
    if (directory / "inspections.csv").exists():
        report.rows["inspections"] = _load_inspections(
            conn, directory / "inspections.csv", unit_ids, villages_map, fallback_town
        )
    if (directory / "hazards.geojson").exists():
        inspection_ids = _code_map(conn, "inspections")
        rows, reporters = _load_hazards(
            conn,
            directory / "hazards.geojson",
            unit_ids,
            inspection_ids,
            villages_map,
            fallback_town,
        )
        report.rows["hazards"] = rows
        report.rows["reporter_identities"] = reporters
    conn.execute(text("ANALYZE"))
    report.seconds = time.perf_counter() - started
    return report


def _code_map(conn: Connection, table: str) -> dict[tuple[str, str], int]:
    rows = conn.execute(text(f"SELECT town_code, code, id FROM {table}"))  # noqa: S608 - fixed names
    return {(t, c): i for t, c, i in rows}


def _load_inspections(
    conn: Connection,
    path: Path,
    unit_ids: dict[tuple[str, str], int],
    villages: dict[str, str],
    fallback_town: str,
) -> int:
    with path.open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))

    def rows() -> Iterator[list[Any]]:
        for r in records:
            town = villages.get(r.get("village_code") or "", fallback_town)
            unit = unit_ids.get((town, r["unit_code"])) if r.get("unit_code") else None
            inspectors = [c for c in (r.get("inspector_codes") or "").split(";") if c]
            yield [
                town,
                r["code"],
                unit,
                r.get("village_code") or None,
                r["inspected_on"],
                r["kind"],
                json.dumps(inspectors),
                int(r.get("hazard_count") or 0),
                r.get("result") or None,
            ]

    cols = [
        "town_code",
        "code",
        "unit_id",
        "village_code",
        "inspected_on",
        "kind",
        "inspector_codes",
        "hazard_count",
        "result",
    ]
    return _copy(conn, "inspections", cols, rows())


def _load_hazards(
    conn: Connection,
    path: Path,
    unit_ids: dict[tuple[str, str], int],
    inspection_ids: dict[tuple[str, str], int],
    villages: dict[str, str],
    fallback_town: str,
) -> tuple[int, int]:
    frame = read_layer(path)
    frame["town_code"] = _town_codes(frame, villages, fallback_town)
    ewkb = _ewkb(list(frame.geometry))
    cols = [
        "town_code",
        "code",
        "unit_id",
        "village_code",
        "inspection_id",
        "source",
        "category",
        "fatal_factor",
        "level",
        "description",
        "location_desc",
        "found_on",
        "deadline",
        "rectified_on",
        "reviewed_on",
        "closed_on",
        "status",
        "supervised",
        "geom",
    ]

    def value(row: Any, name: str) -> Any:
        return _clean(row.get(name))

    def rows() -> Iterator[list[Any]]:
        for i, row in enumerate(frame.to_dict("records")):
            town = row["town_code"]
            unit = unit_ids.get((town, value(row, "unit_code") or ""))
            insp = inspection_ids.get((town, value(row, "inspection_code") or ""))
            yield [
                town,
                row["code"],
                unit,
                value(row, "village_code"),
                insp,
                row["source"],
                row["category"],
                value(row, "fatal_factor"),
                row["level"],
                row["description"],
                value(row, "location_desc"),
                value(row, "found_on"),
                value(row, "deadline"),
                value(row, "rectified_on"),
                value(row, "reviewed_on"),
                value(row, "closed_on"),
                row["status"],
                bool(row.get("supervised")),
                ewkb[i],
            ]

    count = _copy(conn, "hazards", cols, rows())
    reporters = [
        (row["town_code"], row["code"], value(row, "reporter_name"), value(row, "reporter_phone"))
        for row in frame.to_dict("records")
        if value(row, "reporter_name") or value(row, "reporter_phone")
    ]
    if reporters:
        ids = _code_map(conn, "hazards")
        _copy(
            conn,
            "reporter_identities",
            ["hazard_id", "name", "phone"],
            ([ids[(t, c)], n, p] for t, c, n, p in reporters),
        )
    return count, len(reporters)

"""All-or-nothing imports of unit ledgers and village grids: validate every row, then upsert."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from gis.crs import STORAGE_SRID
from gis.db.models import Department, IndustryDepartment, Town, Unit, Village
from gis.errors import ImportRejected, NotFound, RowProblem
from gis.io.ledger import UNIT_LEDGER, VILLAGE_LEDGER, CellError, Ledger, parse_cell
from gis.io.readers import (
    WHOLE_ROW,
    Coords,
    Format,
    SourceRow,
    SourceTable,
    normalise_header,
    read_source,
)
from gis.validation import (
    DEFAULT_TOLERANCE_M,
    lonlat_in_china,
    lonlat_swapped,
    points_outside,
    polygon_problems,
    validate_uscc,
)

#: Geometries equal within this many degrees (~0.1 mm) count as unchanged on re-import.
GEOMETRY_TOLERANCE_DEG = 1e-9
#: Default upper bound for one village polygon.
MAX_VILLAGE_AREA_M2 = 50e6
UNIT_CODE = re.compile(r"^QY(\d{6})$")
UNIT_COMPARED = (
    "code",
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
)
VILLAGE_COMPARED = ("name", "kind", "urban_rural_code", "population", "households", "groups_count")


@dataclass
class ImportReport:
    """What an import wrote (or would have): counts by outcome and the keys concerned."""

    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    input_crs: str | int | None = None
    inserted_keys: list[str] = field(default_factory=list)
    updated_keys: list[str] = field(default_factory=list)
    #: Things worth a look that do not stop the import (e.g. coordinates that look GCJ-02).
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One Chinese sentence for the CLI and the web page."""
        return (
            f"共 {self.rows} 行：新增 {self.inserted}，更新 {self.updated}，未变化 {self.unchanged}"
        )


# --- shared steps ---------------------------------------------------------------------------


class _Problems:
    """Collects at most one problem per row: the first reason found is the one reported."""

    def __init__(self) -> None:
        self.by_row: dict[int, RowProblem] = {}
        self.ordered: list[RowProblem] = []

    def add(self, row: int, field_name: str, reason: str, value: Any = None) -> None:
        if row in self.by_row:
            return
        shown = None if value is None else str(value)
        problem = RowProblem(row, field_name, reason, shown)
        self.by_row[row] = problem
        self.ordered.append(problem)

    def has(self, row: int) -> bool:
        return row in self.by_row

    def sorted(self) -> list[RowProblem]:
        return sorted(self.ordered, key=lambda p: p.row)


def _label(row: SourceRow, header: str) -> str:
    return f"{row.sheet}·{header}" if row.sheet else header


def _parse_rows(
    table: SourceTable, ledger: Ledger, problems: _Problems
) -> tuple[list[dict[str, Any]], set[str]]:
    """Typed values of every row (by field); problems for missing or unparsable cells."""
    mapping = ledger.resolve(table.headers)
    keys = {k: normalise_header(h) for k, h in mapping.items()}
    tabular = table.fmt in ("xlsx", "csv")
    for column in ledger.columns:
        # GIS formats carry the position in their geometry, not in lon/lat columns.
        if column.kind in ("lon", "lat") and not tabular:
            continue
        if column.required and column.field not in keys:
            problems.add(1, column.header, "缺少必填列")
    for p in table.problems:
        problems.add(p.row, p.field, p.reason, p.value)
    parsed: list[dict[str, Any]] = []
    for row in table.rows:
        values: dict[str, Any] = {}
        for column in ledger.columns:
            if column.field is None or column.field not in keys:
                continue
            raw = row.values.get(keys[column.field])
            try:
                value = parse_cell(raw, column)
            except CellError as exc:
                problems.add(row.number, _label(row, column.header), str(exc), raw)
                continue
            if value is None and column.required and column.field not in ("lon", "lat"):
                problems.add(row.number, _label(row, column.header), "必填项为空")
            values[column.field] = value
        parsed.append(values)
    return parsed, set(keys)


def _town_geometry(conn: Connection, town_code: str) -> BaseGeometry:
    wkb = conn.execute(select(func.ST_AsBinary(Town.geom)).where(Town.code == town_code)).scalar()
    if wkb is None:
        raise NotFound(f"镇（街道）{town_code} 不存在")
    return shapely.from_wkb(bytes(wkb))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return bool(np.isclose(float(a), float(b), rtol=0, atol=1e-9))
    return bool(a == b)


def _same_geometry(a: BaseGeometry | None, b: BaseGeometry | None) -> bool:
    if a is None or b is None:
        return a is b
    # Normalised: shapefiles rewrite ring orientation, which is not a change of the shape.
    return bool(
        shapely.equals_exact(
            shapely.normalize(a), shapely.normalize(b), tolerance=GEOMETRY_TOLERANCE_DEG
        )
    )


def _classify(
    rows: list[dict[str, Any]],
    existing: dict[str, dict[str, Any]],
    key: str,
    compared: Sequence[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Split rows into inserts and real updates; count rows identical to the database."""
    inserts, updates, unchanged = [], [], 0
    for row in rows:
        old = existing.get(row[key])
        if old is None:
            inserts.append(row)
            continue
        fields = [f for f in compared if f in row]
        if all(_same(row[f], old.get(f)) for f in fields) and _same_geometry(
            row["geom"], old["geom"]
        ):
            unchanged += 1
        else:
            updates.append(row)
    return inserts, updates, unchanged


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _upsert(
    conn: Connection,
    model: Any,
    rows: list[dict[str, Any]],
    conflict: dict[str, Any],
    update_fields: Sequence[str],
) -> None:
    if not rows:
        return
    payload = [
        {
            **{k: _enum_value(v) for k, v in r.items() if k != "geom"},
            "geom": from_shape(r["geom"], srid=STORAGE_SRID),
        }
        for r in rows
    ]
    stmt = insert(model).values(payload)
    set_: dict[str, Any] = {f: stmt.excluded[f] for f in update_fields}
    if "updated_at" in model.__table__.columns:
        set_["updated_at"] = func.now()
    with conn.begin_nested():
        conn.execute(stmt.on_conflict_do_update(**conflict, set_=set_))


# --- units ----------------------------------------------------------------------------------


@dataclass
class _UnitContext:
    town: BaseGeometry
    villages: dict[str, tuple[str, BaseGeometry]]  # code -> (name, polygon)
    industries: list[tuple[str, str, bool]]  # (prefix, department_code, high_risk)
    departments: dict[str, str]  # code, name or short name (folded) -> code
    existing: dict[str, dict[str, Any]]  # uscc -> stored values
    code_owner: dict[str, str]  # unit code -> uscc

    def village_code(self, text: str) -> str | None:
        if text in self.villages:
            return text
        matches = [c for c, (name, _) in self.villages.items() if _fold(name) == _fold(text)]
        return matches[0] if len(matches) == 1 else None

    def industry(self, code: str) -> tuple[str, bool] | None:
        """三管三必须: the department and high-risk flag of the longest matching prefix."""
        best = max(
            (p for p in self.industries if code.startswith(p[0])),
            key=lambda p: len(p[0]),
            default=None,
        )
        return None if best is None else (best[1], best[2])


def _fold(text: str) -> str:
    """Names compared loosely: 全角/半角, spaces and letter case do not matter."""
    return normalise_header(text)


def _unit_context(conn: Connection, town_code: str) -> _UnitContext:
    town = _town_geometry(conn, town_code)
    villages = {
        code: (name, shapely.from_wkb(bytes(wkb)))
        for code, name, wkb in conn.execute(
            select(Village.code, Village.name, func.ST_AsBinary(Village.geom)).where(
                Village.town_code == town_code
            )
        )
    }
    # Town-specific rows override the shared table for the same prefix.
    industries: dict[str, tuple[str, str, bool]] = {}
    for prefix, dept, high in conn.execute(
        select(
            IndustryDepartment.industry_prefix,
            IndustryDepartment.department_code,
            IndustryDepartment.high_risk,
        )
        .where(
            (IndustryDepartment.town_code.is_(None)) | (IndustryDepartment.town_code == town_code)
        )
        .order_by(IndustryDepartment.town_code.nulls_first())
    ):
        industries[prefix] = (prefix, dept, bool(high))
    departments: dict[str, str] = {}
    for code, name, short in conn.execute(
        select(Department.code, Department.name, Department.short_name)
    ):
        for word in (code, name, short):
            departments.setdefault(_fold(word), code)
    existing: dict[str, dict[str, Any]] = {}
    code_owner: dict[str, str] = {}
    columns = [getattr(Unit, f) for f in UNIT_COMPARED]
    for row in conn.execute(
        select(Unit.uscc, *columns, func.ST_AsBinary(Unit.geom).label("wkb")).where(
            Unit.town_code == town_code
        )
    ):
        values = {f: _enum_value(getattr(row, f)) for f in UNIT_COMPARED}
        values["geom"] = shapely.from_wkb(bytes(row.wkb))
        existing[row.uscc] = values
        code_owner[row.code] = row.uscc
    return _UnitContext(
        town, villages, list(industries.values()), departments, existing, code_owner
    )


def _check_units(
    table: SourceTable,
    parsed: list[dict[str, Any]],
    ctx: _UnitContext,
    problems: _Problems,
    tolerance_m: float,
) -> None:
    """Row checks that need more than one cell: codes, position, references, duplicates."""
    rows = table.rows
    h = {c.field: c.header for c in UNIT_LEDGER.columns if c.field}
    if table.fmt not in ("xlsx", "csv"):
        # GIS formats: the (converted) point geometry is the position.
        for row, values in zip(rows, parsed, strict=True):
            geom = row.geometry
            is_point = geom is not None and geom.geom_type == "Point"
            values["lon"] = geom.x if is_point else None  # type: ignore[union-attr]
            values["lat"] = geom.y if is_point else None  # type: ignore[union-attr]
            if row.geometry is not None and not is_point:
                problems.add(
                    row.number,
                    _label(row, "几何"),
                    f"几何类型应为点，实际为 {row.geometry.geom_type}",
                )
                row.geometry = None
    lon = np.array([v.get("lon") if v.get("lon") is not None else np.nan for v in parsed])
    lat = np.array([v.get("lat") if v.get("lat") is not None else np.nan for v in parsed])
    projected = np.abs(np.nan_to_num(lon)) > 1000
    swapped = lonlat_swapped(lon, lat) & ~projected
    placed = np.array([r.geometry is not None for r in rows], dtype=bool)
    outside = np.zeros(len(rows), dtype=bool)
    if placed.any():
        pts = [r.geometry for r in rows if r.geometry is not None]
        outside[placed] = points_outside(
            [p.x for p in pts], [p.y for p in pts], ctx.town, tolerance_m=tolerance_m
        )
    seen: dict[str, int] = {}
    codes: dict[str, int] = {}
    for i, (row, values) in enumerate(zip(rows, parsed, strict=True)):
        n = row.number
        uscc = values.get("uscc")
        if uscc:
            reason = validate_uscc(uscc)
            if reason:
                problems.add(n, _label(row, h["uscc"]), reason, uscc)
            elif uscc in seen:
                problems.add(n, _label(row, h["uscc"]), f"与第{seen[uscc]}行重复", uscc)
            else:
                seen[uscc] = n
        pair = f"{values.get('lon')}, {values.get('lat')}"
        if values.get("lon") is None or values.get("lat") is None:
            problems.add(n, _label(row, "经度/纬度"), "缺少坐标")
        elif swapped[i]:
            problems.add(n, _label(row, "经度/纬度"), "经度和纬度填反了", pair)
        elif row.geometry is None or (not projected[i] and not lonlat_in_china(lon[i], lat[i])):
            reason = "坐标无法识别（既不是中国范围内的经纬度，也不是 4547/4526 投影坐标）"
            problems.add(n, _label(row, "经度/纬度"), reason, pair)
        elif outside[i]:
            problems.add(
                n,
                _label(row, "经度/纬度"),
                f"位置在本镇辖区外（超出边界 {tolerance_m:.0f} 米以上）",
                pair,
            )
        industry = values.get("industry_code")
        if industry:
            values["industry_code"] = industry = industry.upper()
            if ctx.industry(industry) is None:
                problems.add(
                    n,
                    _label(row, h["industry_code"]),
                    "行业代码不在三管三必须对照表中，无法确定监管部门",
                    industry,
                )
        village = values.get("village")
        if village and ctx.village_code(village) is None:
            problems.add(n, _label(row, h["village"]), "本镇没有这个村（社区）", village)
        dept = values.get("department")
        if dept and _fold(dept) not in ctx.departments:
            problems.add(n, _label(row, h["department"]), "未知的监管部门", dept)
        code = values.get("code")
        if code and uscc and ctx.code_owner.get(code, uscc) != uscc:
            problems.add(n, _label(row, h["code"]), "单位编号已被另一家单位使用", code)
        elif code and code in codes:
            problems.add(n, _label(row, h["code"]), f"与第{codes[code]}行的单位编号重复", code)
        elif code:
            codes[code] = n


def _next_codes(taken: set[str]) -> Callable[[], str]:
    """Generator of fresh ``QY``+6-digit unit codes above every code in use."""
    numbers = [int(m.group(1)) for c in taken if (m := UNIT_CODE.match(c))]
    counter = iter(range(max(numbers, default=0) + 1, 10**6))
    return lambda: f"QY{next(counter):06d}"


def _unit_records(
    table: SourceTable,
    parsed: list[dict[str, Any]],
    present: set[str],
    ctx: _UnitContext,
    town_code: str,
) -> list[dict[str, Any]]:
    """Rows as table values: references resolved, 三管三必须 and village derived."""
    new_code = _next_codes(set(ctx.code_owner) | {v["code"] for v in parsed if v.get("code")})
    records = []
    for row, values in zip(table.rows, parsed, strict=True):
        geom = row.geometry
        record: dict[str, Any] = {"town_code": town_code, "uscc": values["uscc"], "geom": geom}
        for f in (
            "name",
            "address",
            "industry_code",
            "risk_color",
            "fire_key_level",
            "nine_small_category",
            "gas_use",
            "status",
            "employees",
            "floor_area_m2",
        ):
            if f in present:
                record[f] = _enum_value(values.get(f))
        for f, default in (
            ("fire_key_level", "none"),
            ("gas_use", "none"),
            ("status", "operating"),
        ):
            if f in record and record[f] is None:
                record[f] = default
        old = ctx.existing.get(values["uscc"])
        record["code"] = values.get("code") or (old["code"] if old else new_code())
        if values.get("village"):
            record["village_code"] = ctx.village_code(values["village"])
        else:
            record["village_code"] = next(
                (c for c, (_, poly) in ctx.villages.items() if poly.covers(geom)), None
            )
        department, high_risk = ctx.industry(values["industry_code"]) or ("AJB", False)
        record["department_code"] = (
            ctx.departments[_fold(values["department"])] if values.get("department") else department
        )
        record["high_risk"] = (
            values["high_risk"] if values.get("high_risk") is not None else high_risk
        )
        records.append(record)
    return records


def import_units(
    conn: Connection,
    source_path: str | Path,
    *,
    town_code: str,
    fmt: Format | None = None,
    coords: Coords = "wgs84",
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> ImportReport:
    """Import a unit ledger (企业台账) into ``town_code``: every row or none.

    Every row is read and checked first — credit code check digit, duplicates in the file,
    swapped or unrecognisable coordinates, position outside the town, industry code unknown to
    the 三管三必须 table, unknown village or department, missing required values, bad enum
    labels, undecodable text. Any problem raises :class:`~gis.errors.ImportRejected` listing one
    problem per bad row (row numbers as the user sees them, Chinese headers and reasons) and
    nothing is written. Otherwise units are upserted by (town_code, uscc) in the caller's
    transaction (inside a savepoint).

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    source_path
        ``.xlsx``, ``.csv``, ``.geojson``, ``.gpkg``, ``.shp``, ``.kml`` or ``.zip``.
    town_code
        12-digit code of the town the ledger belongs to.
    fmt
        Force a format instead of using the suffix.
    coords
        Input coordinates when the file declares none: ``"wgs84"``/``"cgcs2000"`` (default),
        ``"gcj02"``, ``"bd09"``, ``4547`` or ``4526`` (eastings are also recognised by magnitude).
    tolerance_m
        How far outside the town boundary a point may lie, in metres.

    Returns
    -------
    ImportReport
        Rows inserted, updated (values really changed) and unchanged.

    Raises
    ------
    ImportRejected
        When any row has a problem; the database is untouched.
    NotFound
        When the town does not exist.
    """
    ctx = _unit_context(conn, town_code)
    table = read_source(source_path, fmt=fmt, coords=coords, header_keys=UNIT_LEDGER.header_keys)
    problems = _Problems()
    parsed, present = _parse_rows(table, UNIT_LEDGER, problems)
    _check_units(table, parsed, ctx, problems, tolerance_m)
    if problems.ordered:
        raise ImportRejected(problems.sorted(), str(source_path))

    records = _unit_records(table, parsed, present, ctx, town_code)
    inserts, updates, unchanged = _classify(records, ctx.existing, "uscc", UNIT_COMPARED)
    written = [*inserts, *updates]
    update_fields = [f for f in UNIT_COMPARED if written and f in written[0]] + ["geom"]
    _upsert(conn, Unit, written, {"constraint": "uq_units_town_uscc"}, update_fields)
    return ImportReport(
        source=str(source_path),
        rows=len(records),
        inserted=len(inserts),
        updated=len(updates),
        unchanged=unchanged,
        input_crs=table.input_crs,
        inserted_keys=[r["uscc"] for r in inserts],
        updated_keys=[r["uscc"] for r in updates],
    )


# --- villages -------------------------------------------------------------------------------


def _as_multi(geom: BaseGeometry) -> BaseGeometry:
    return shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom


def import_villages(
    conn: Connection,
    source_path: str | Path,
    *,
    town_code: str,
    fmt: Format | None = None,
    coords: Coords = "wgs84",
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    max_area_m2: float = MAX_VILLAGE_AREA_M2,
) -> ImportReport:
    """Import village (村/社区) grids with polygons into ``town_code``: every row or none.

    Checks: 12-digit code belonging to the town and not to another town, duplicate codes,
    required name and 村/社区 type, polygon present, valid (not self-intersecting), not larger
    than ``max_area_m2`` and inside the town boundary (``tolerance_m``). On any problem
    :class:`~gis.errors.ImportRejected` is raised and nothing is written; otherwise villages are
    upserted by code.

    Parameters
    ----------
    conn, source_path, town_code, fmt, coords, tolerance_m
        As for :func:`import_units`. Spreadsheets cannot carry polygons: use a GIS format.
    max_area_m2
        Largest acceptable village area in square metres (EPSG:4547).

    Returns
    -------
    ImportReport
        Rows inserted, updated and unchanged (keys are village codes).

    Raises
    ------
    ImportRejected
        When any row has a problem; the database is untouched.
    """
    town = _town_geometry(conn, town_code)
    table = read_source(source_path, fmt=fmt, coords=coords, header_keys=VILLAGE_LEDGER.header_keys)
    problems = _Problems()
    parsed, present = _parse_rows(table, VILLAGE_LEDGER, problems)
    existing: dict[str, dict[str, Any]] = {}
    other_town: dict[str, str] = {}
    for stored in conn.execute(
        select(
            Village.town_code,
            Village.code,
            *[getattr(Village, f) for f in VILLAGE_COMPARED],
            func.ST_AsBinary(Village.geom).label("wkb"),
        )
    ):
        if stored.town_code != town_code:
            other_town[stored.code] = stored.town_code
            continue
        values = {f: _enum_value(getattr(stored, f)) for f in VILLAGE_COMPARED}
        values["geom"] = shapely.from_wkb(bytes(stored.wkb))
        existing[stored.code] = values

    header = {c.field: c.header for c in VILLAGE_LEDGER.columns if c.field}
    seen: dict[str, int] = {}
    for row, values in zip(table.rows, parsed, strict=True):
        n, code = row.number, values.get("code")
        if code:
            if not re.fullmatch(r"\d{12}", code):
                problems.add(n, header["code"], "应为12位数字的统计用区划代码", code)
            elif code[:9] != town_code[:9]:
                reason = f"代码不属于本镇（应以 {town_code[:9]} 开头）"
                problems.add(n, header["code"], reason, code)
            elif code in other_town:
                problems.add(n, header["code"], f"代码已属于镇 {other_town[code]}", code)
            elif code in seen:
                problems.add(n, header["code"], f"与第{seen[code]}行重复", code)
            else:
                seen[code] = n
        reasons = polygon_problems(
            row.geometry, max_area_m2=max_area_m2, within=town, tolerance_m=tolerance_m
        )
        if reasons:
            problems.add(n, "几何", "；".join(reasons))
    if not table.rows:
        problems.add(1, WHOLE_ROW, "文件中没有数据行")
    if problems.ordered:
        raise ImportRejected(problems.sorted(), str(source_path))

    records = []
    for row, values in zip(table.rows, parsed, strict=True):
        record: dict[str, Any] = {
            "code": values["code"],
            "town_code": town_code,
            "geom": _as_multi(row.geometry),
        }
        for f in VILLAGE_COMPARED:
            if f in present:
                record[f] = _enum_value(values.get(f))
        records.append(record)
    inserts, updates, unchanged = _classify(records, existing, "code", VILLAGE_COMPARED)
    written = [*inserts, *updates]
    update_fields = [f for f in VILLAGE_COMPARED if written and f in written[0]] + ["geom"]
    _upsert(conn, Village, written, {"index_elements": ["code"]}, update_fields)
    return ImportReport(
        source=str(source_path),
        rows=len(records),
        inserted=len(inserts),
        updated=len(updates),
        unchanged=unchanged,
        input_crs=table.input_crs,
        inserted_keys=[r["code"] for r in inserts],
        updated_keys=[r["code"] for r in updates],
    )

"""All-or-nothing imports of unit ledgers and village grids: validate every row, then upsert."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, func, select

from gis.db.models import Department, IndustryDepartment, Road, Town, Unit, Village
from gis.errors import ImportRejected, NotFound
from gis.io.datum_check import suspect_shift
from gis.io.import_rows import Problems, drop_note_rows, is_tabular, label, parse_rows
from gis.io.ledger import (
    UNIT_LEDGER,
    VILLAGE_LEDGER,
)
from gis.io.readers import (
    WHOLE_ROW,
    Coords,
    Format,
    SourceTable,
    normalise_header,
    read_source,
)
from gis.io.staging import UpsertSpec, upsert
from gis.validation import (
    DEFAULT_TOLERANCE_M,
    lonlat_in_china,
    lonlat_swapped,
    points_outside,
    polygon_problems,
    validate_uscc,
)

#: Default upper bound for one village polygon.
MAX_VILLAGE_AREA_M2 = 50e6
#: Spreadsheet positions are placed by :func:`gis.io.import_rows.parse_rows` from the parsed
#: cells (DMS, one-cell pairs, 东经/北纬 headers); an empty header keeps the reader from a first,
#: decimal-only attempt.
PLACED_HERE = ("", "")
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


def _town_geometry(conn: Connection, town_code: str) -> BaseGeometry:
    wkb = conn.execute(select(func.ST_AsBinary(Town.geom)).where(Town.code == town_code)).scalar()
    if wkb is None:
        raise NotFound(f"镇（街道）{town_code} 不存在")
    return shapely.from_wkb(bytes(wkb))


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


# --- units ----------------------------------------------------------------------------------


@dataclass
class _UnitContext:
    town: BaseGeometry
    villages: dict[str, tuple[str, BaseGeometry]]  # code -> (name, polygon)
    industries: dict[str, tuple[str, bool]]  # prefix -> (department_code, high_risk)
    departments: dict[str, str]  # code, name or short name (folded) -> code
    existing_codes: dict[str, str]  # uscc -> unit code of the stored unit
    code_owner: dict[str, str]  # unit code -> uscc
    by_name: dict[str, list[str]] = field(default_factory=dict)  # folded name -> codes

    def __post_init__(self) -> None:
        for code, (name, _) in self.villages.items():
            self.by_name.setdefault(_fold(name), []).append(code)

    def village_code(self, text: str) -> str | None:
        if text in self.villages:
            return text
        matches = self.by_name.get(_fold(text), [])
        return matches[0] if len(matches) == 1 else None

    @functools.cache  # noqa: B019 - one context per import; few distinct codes
    def industry(self, code: str) -> tuple[str, bool] | None:
        """三管三必须: the department and high-risk flag of the longest matching prefix."""
        for end in range(len(code), 0, -1):
            if code[:end] in self.industries:
                return self.industries[code[:end]]
        return None

    def __hash__(self) -> int:
        return id(self)


def _fold(text: str) -> str:
    """Names compared loosely: 全角/半角, spaces and letter case do not matter."""
    return normalise_header(text)


def _unit_context(conn: Connection, town_code: str) -> _UnitContext:
    town = _town_geometry(conn, town_code)
    villages = {
        code: (name, shapely.from_wkb(bytes(wkb)))
        for code, name, wkb in conn.execute(
            select(Village.code, Village.name, func.ST_AsBinary(Village.geom))
            .where(Village.town_code == town_code)
            .order_by(Village.code)
        )
    }
    # Town-specific rows override the shared table for the same prefix.
    industries: dict[str, tuple[str, bool]] = {}
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
        industries[prefix] = (dept, bool(high))
    departments: dict[str, str] = {}
    for code, name, short in conn.execute(
        select(Department.code, Department.name, Department.short_name)
    ):
        for word in (code, name, short):
            departments.setdefault(_fold(word), code)
    existing: dict[str, str] = {}
    code_owner: dict[str, str] = {}
    for uscc, code in conn.execute(select(Unit.uscc, Unit.code).where(Unit.town_code == town_code)):
        existing[uscc] = code
        code_owner[code] = uscc
    return _UnitContext(town, villages, industries, departments, existing, code_owner)


COORD_FIELDS = ("经度", "纬度", "经纬度")


def _check_units(
    table: SourceTable,
    parsed: list[dict[str, Any]],
    ctx: _UnitContext,
    problems: Problems,
    tolerance_m: float,
    tabular: bool,
) -> None:
    """Row checks that need more than one cell: codes, position, references, duplicates."""
    rows = table.rows
    h = {c.field: c.header for c in UNIT_LEDGER.columns if c.field}
    if not tabular:
        # GIS formats: the (converted) point geometry is the position.
        for row, values in zip(rows, parsed, strict=True):
            geom = row.geometry
            is_point = geom is not None and geom.geom_type == "Point"
            values["lon"] = geom.x if is_point else None  # type: ignore[union-attr]
            values["lat"] = geom.y if is_point else None  # type: ignore[union-attr]
            if row.geometry is not None and not is_point:
                problems.add(
                    row.number,
                    label(row, "几何"),
                    f"几何类型应为点，实际为 {row.geometry.geom_type}",
                )
                row.geometry = None
    lon = np.array([v.get("lon") if v.get("lon") is not None else np.nan for v in parsed])
    lat = np.array([v.get("lat") if v.get("lat") is not None else np.nan for v in parsed])
    projected = np.abs(np.nan_to_num(lon)) > 1000
    swapped = lonlat_swapped(lon, lat) & ~projected
    in_china = lonlat_in_china(lon, lat)
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
                problems.add(n, label(row, h["uscc"]), reason, uscc)
            elif uscc in seen:
                problems.add(n, label(row, h["uscc"]), f"与第{seen[uscc]}行重复", uscc)
            else:
                seen[uscc] = n
        pair = f"{values.get('lon')}, {values.get('lat')}"
        where = label(row, "经度/纬度")
        if problems.has(n, *COORD_FIELDS):
            pass  # the cell itself was unreadable: already said
        elif values.get("lon") is None or values.get("lat") is None:
            problems.add(n, where, "缺少坐标")
        elif swapped[i]:
            problems.add(n, where, "经度和纬度填反了", pair)
        elif row.geometry is None or (not projected[i] and not in_china[i]):
            reason = "坐标无法识别（既不是中国范围内的经纬度，也不是 4547/4526 投影坐标）"
            problems.add(n, where, reason, pair)
        elif outside[i]:
            problems.add(n, where, f"位置在本镇辖区外（超出边界 {tolerance_m:.0f} 米以上）", pair)
        industry = values.get("industry_code")
        if industry:
            values["industry_code"] = industry = industry.upper()
            if ctx.industry(industry) is None:
                problems.add(
                    n,
                    label(row, h["industry_code"]),
                    "行业代码不在三管三必须对照表中，无法确定监管部门",
                    industry,
                )
        village = values.get("village")
        if village and ctx.village_code(village) is None:
            problems.add(n, label(row, h["village"]), "本镇没有这个村（社区）", village)
        dept = values.get("department")
        if dept and _fold(dept) not in ctx.departments:
            problems.add(n, label(row, h["department"]), "未知的监管部门", dept)
        code = values.get("code")
        if code and uscc and ctx.code_owner.get(code, uscc) != uscc:
            problems.add(n, label(row, h["code"]), "单位编号已被另一家单位使用", code)
        elif code and code in codes:
            problems.add(n, label(row, h["code"]), f"与第{codes[code]}行的单位编号重复", code)
        elif code:
            codes[code] = n


def _next_codes(taken: set[str]) -> Callable[[], str]:
    """Generator of fresh ``QY``+6-digit unit codes above every code in use."""
    numbers = [int(m.group(1)) for c in taken if (m := UNIT_CODE.match(c))]
    counter = iter(range(max(numbers, default=0) + 1, 10**6))
    return lambda: f"QY{next(counter):06d}"


def _villages_at(points: list[BaseGeometry], ctx: _UnitContext) -> list[str | None]:
    """The village covering each point (the first by code on a shared boundary), or None."""
    codes = list(ctx.villages)
    out: list[str | None] = [None] * len(points)
    if not codes or not points:
        return out
    tree = shapely.STRtree([ctx.villages[c][1] for c in codes])
    point_idx, village_idx = tree.query(np.array(points, dtype=object), predicate="covered_by")
    for p, v in sorted(zip(point_idx.tolist(), village_idx.tolist(), strict=True), reverse=True):
        out[p] = codes[v]  # reverse order: the lowest village index is written last and wins
    return out


#: Unit columns a ledger may leave out, and what a new unit then gets.
UNIT_DEFAULTS: dict[str, Any] = {
    "address": None,
    "fire_key_level": "none",
    "nine_small_category": None,
    "gas_use": "none",
    "status": "operating",
    "employees": None,
    "floor_area_m2": None,
}
#: Derived on every import, so always compared and rewritten.
UNIT_DERIVED = ("code", "village_code", "department_code", "high_risk")


def _unit_records(
    table: SourceTable,
    parsed: list[dict[str, Any]],
    ctx: _UnitContext,
    town_code: str,
) -> list[dict[str, Any]]:
    """Rows as table values: references resolved, 三管三必须 and village derived."""
    new_code = _next_codes(set(ctx.code_owner) | {v["code"] for v in parsed if v.get("code")})
    located = _villages_at(
        [r.geometry for r, v in zip(table.rows, parsed, strict=True) if not v.get("village")],
        ctx,
    )
    located_iter = iter(located)
    records = []
    for row, values in zip(table.rows, parsed, strict=True):
        record: dict[str, Any] = {
            "town_code": town_code,
            "uscc": values["uscc"],
            "name": values["name"],
            "industry_code": values["industry_code"],
            "risk_color": _enum_value(values["risk_color"]),
        }
        for f, default in UNIT_DEFAULTS.items():
            value = _enum_value(values.get(f))
            record[f] = default if value is None else value
        old = ctx.existing_codes.get(values["uscc"])
        record["code"] = values.get("code") or old or new_code()
        if values.get("village"):
            record["village_code"] = ctx.village_code(values["village"])
        else:
            record["village_code"] = next(located_iter)
        department, high_risk = ctx.industry(values["industry_code"]) or ("AJB", False)
        record["department_code"] = (
            ctx.departments[_fold(values["department"])] if values.get("department") else department
        )
        record["high_risk"] = (
            values["high_risk"] if values.get("high_risk") is not None else high_risk
        )
        record["geom"] = row.geometry
        records.append(record)
    return records


def _shift_warning(
    conn: Connection,
    table: SourceTable,
    parsed: list[dict[str, Any]],
    ctx: _UnitContext,
    town_code: str,
) -> str | None:
    """A warning when CGCS2000 points look like undeclared GCJ-02/BD-09 ones."""
    if table.input_crs != "wgs84" or not table.rows:
        return None
    points = [r.geometry for r in table.rows if r.geometry is not None]
    if len(points) != len(table.rows):
        return None
    declared = [
        ctx.villages[code][1] if (code := ctx.village_code(v.get("village") or "")) else None
        for v in parsed
    ]
    roads = [
        shapely.from_wkb(bytes(wkb))
        for (wkb,) in conn.execute(
            select(func.ST_AsBinary(Road.geom)).where(Road.town_code == town_code)
        )
    ]
    suspicion = suspect_shift([p.x for p in points], [p.y for p in points], declared, roads)
    return None if suspicion is None else suspicion.message()


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

    Ledgers are read as offices fill them: title rows above the header, the usual variants of
    each header (企业名称, 信用代码, 行业类别, 东经 …), 是/否 also as 有/无, √/×, Y/N, codes
    written with their names (``C2511 原油加工``, ``411003101201 五女店村``), coordinates as
    decimals, degrees-minutes-seconds or one 经纬度 cell; summary and note lines (合计, 备注,
    填表人 …) are skipped. Every row is then checked — credit code check digit, duplicates in
    the file, swapped or unrecognisable coordinates, position outside the town, industry code
    unknown to the 三管三必须 table, unknown village or department, missing required values,
    bad enum labels, text longer than its column, undecodable text. Any problem raises
    :class:`~gis.errors.ImportRejected` listing every problem of every bad row and nothing is
    written. Otherwise units are upserted by (town_code, uscc) in the caller's transaction
    (COPY into a staging table, then one set-based statement: any number of rows).

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
        Rows inserted, updated (values really changed) and unchanged; ``warnings`` says when
        CGCS2000 coordinates look like undeclared GCJ-02/BD-09 ones.

    Raises
    ------
    ImportRejected
        When any row has a problem, or the database refuses a value; the database is untouched.
    NotFound
        When the town does not exist.
    """
    ctx = _unit_context(conn, town_code)
    table = read_source(
        source_path,
        fmt=fmt,
        coords=coords,
        header_keys=UNIT_LEDGER.header_keys,
        lonlat=PLACED_HERE,
    )
    keys = {k: normalise_header(h) for k, h in UNIT_LEDGER.resolve(table.headers).items()}
    drop_note_rows(table, UNIT_LEDGER, "uscc", keys)
    problems = Problems()
    parsed, present, keys = parse_rows(table, UNIT_LEDGER, Unit, problems, coords)
    _check_units(table, parsed, ctx, problems, tolerance_m, is_tabular(table, keys))
    if problems:
        raise ImportRejected(problems.sorted(), str(source_path))

    records = _unit_records(table, parsed, ctx, town_code)
    # A column the ledger leaves out is not compared nor overwritten (new units get defaults).
    compared = [f for f in UNIT_COMPARED if f in present or f not in UNIT_DEFAULTS]
    spec = UpsertSpec(
        Unit.__table__, ("town_code", "uscc"), "ON CONSTRAINT uq_units_town_uscc", "uscc", True
    )
    result = upsert(
        conn,
        spec,
        records,
        [r.number for r in table.rows],
        compared=compared,
        source=Path(source_path).name,
    )
    warning = _shift_warning(conn, table, parsed, ctx, town_code)
    return ImportReport(
        source=str(source_path),
        rows=len(records),
        inserted=len(result.inserted),
        updated=len(result.updated),
        unchanged=result.unchanged,
        input_crs=table.input_crs,
        inserted_keys=result.inserted,
        updated_keys=result.updated,
        warnings=[warning] if warning else [],
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

    Headers, notes and codes written with their names are read as for :func:`import_units`.
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
    table = read_source(
        source_path,
        fmt=fmt,
        coords=coords,
        header_keys=VILLAGE_LEDGER.header_keys,
        lonlat=PLACED_HERE,
    )
    keys = {k: normalise_header(h) for k, h in VILLAGE_LEDGER.resolve(table.headers).items()}
    drop_note_rows(table, VILLAGE_LEDGER, "code", keys)
    problems = Problems()
    parsed, present, _ = parse_rows(table, VILLAGE_LEDGER, Village, problems, coords)
    other_town = {
        code: town
        for code, town in conn.execute(
            select(Village.code, Village.town_code).where(Village.town_code != town_code)
        )
    }

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
    if problems:
        raise ImportRejected(problems.sorted(), str(source_path))

    records = []
    for row, values in zip(table.rows, parsed, strict=True):
        record: dict[str, Any] = {"code": values["code"], "town_code": town_code}
        for f in VILLAGE_COMPARED:
            record[f] = _enum_value(values.get(f))
        record["geom"] = _as_multi(row.geometry)
        records.append(record)
    # A column the file leaves out is not compared nor overwritten (name and kind are required).
    compared = [f for f in VILLAGE_COMPARED if f in present]
    result = upsert(
        conn,
        UpsertSpec(Village.__table__, ("code",), "(code)", "code"),
        records,
        [r.number for r in table.rows],
        compared=compared,
        source=Path(source_path).name,
    )
    return ImportReport(
        source=str(source_path),
        rows=len(records),
        inserted=len(result.inserted),
        updated=len(result.updated),
        unchanged=result.unchanged,
        input_crs=table.input_crs,
        inserted_keys=result.inserted,
        updated_keys=result.updated,
    )

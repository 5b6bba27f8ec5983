"""Export units and villages to Excel, CSV, GeoJSON, GeoPackage, Shapefile (GBK) and KML."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import ColumnElement, Connection, func, select, true

from gis.crs import ACCEPTED_PROJECTED, STORAGE_SRID
from gis.db.models import Department, Town, Unit, Village
from gis.errors import InvalidInput, NotFound
from gis.io.formulas import inert_cell
from gis.io.ledger import UNIT_LEDGER, VILLAGE_LEDGER, Column, Ledger, ascii_len, export_value

ExportFormat = Literal["xlsx", "csv", "geojson", "gpkg", "shp", "kml"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("xlsx", "csv", "geojson", "gpkg", "shp", "kml")
SUFFIX = {
    "xlsx": ".xlsx",
    "csv": ".csv",
    "geojson": ".geojson",
    "gpkg": ".gpkg",
    "shp": ".zip",
    "kml": ".kml",
}
LAYER_NAMES = {UNIT_LEDGER.name: "units", VILLAGE_LEDGER.name: "villages"}
DICTIONARY_NAME = "字段说明.csv"


# --- frames from the database --------------------------------------------------------------


def _frame(rows: list[Any], columns: list[str]) -> gpd.GeoDataFrame:
    data = pd.DataFrame([tuple(r) for r in rows], columns=[*columns, "wkb"])
    geoms = shapely.from_wkb(data.pop("wkb").to_numpy()) if len(data) else []
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=STORAGE_SRID)


def _stored(value: Any) -> str | None:
    """An enum column's stored value (None for SQL NULL, which pandas may show as NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(getattr(value, "value", value))


def town_title(conn: Connection, town_code: str, ledger: Ledger) -> str:
    """Excel title such as "五女店镇（示例数据）生产经营单位台账"."""
    town = conn.execute(select(Town.name, Town.is_sample).where(Town.code == town_code)).first()
    if town is None:
        raise NotFound(f"镇（街道）{town_code} 不存在")
    marker = "（示例数据）" if town.is_sample and "示例" not in town.name else ""
    return f"{town.name}{marker}{ledger.name}"


def fetch_units(
    conn: Connection, town_code: str, where: ColumnElement[bool] | None = None
) -> gpd.GeoDataFrame:
    """The town's units as a GeoDataFrame with the unit ledger's fields (EPSG:4490).

    ``where`` narrows the rows further (the caller's access scope).

    ``village`` holds the village name and ``department`` the department short name, as the
    ledger shows them; ``lon``/``lat`` are the point coordinates.
    """
    fields = [
        "code",
        "name",
        "uscc",
        "village",
        "address",
        "industry_code",
        "department",
        "high_risk",
        "risk_color",
        "fire_key_level",
        "nine_small_category",
        "gas_use",
        "status",
        "employees",
        "floor_area_m2",
    ]
    stmt = (
        select(
            Unit.code,
            Unit.name,
            Unit.uscc,
            Village.name.label("village"),
            Unit.address,
            Unit.industry_code,
            Department.short_name.label("department"),
            Unit.high_risk,
            Unit.risk_color,
            Unit.fire_key_level,
            Unit.nine_small_category,
            Unit.gas_use,
            Unit.status,
            Unit.employees,
            Unit.floor_area_m2,
            func.ST_AsBinary(Unit.geom),
        )
        .join(Village, Village.code == Unit.village_code, isouter=True)
        .join(Department, Department.code == Unit.department_code)
        .where(Unit.town_code == town_code, true() if where is None else where)
        .order_by(Unit.code)
    )
    frame = _frame(list(conn.execute(stmt)), fields)
    for col in ("risk_color", "fire_key_level", "nine_small_category", "gas_use", "status"):
        frame[col] = pd.Series([_stored(v) for v in frame[col]], index=frame.index, dtype=object)
    return frame


def fetch_villages(
    conn: Connection, town_code: str, where: ColumnElement[bool] | None = None
) -> gpd.GeoDataFrame:
    """The town's villages as a GeoDataFrame with the village ledger's fields (EPSG:4490)."""
    fields = [
        "code",
        "name",
        "kind",
        "urban_rural_code",
        "population",
        "households",
        "groups_count",
    ]
    stmt = (
        select(
            Village.code,
            Village.name,
            Village.kind,
            Village.urban_rural_code,
            Village.population,
            Village.households,
            Village.groups_count,
            func.ST_AsBinary(Village.geom),
        )
        .where(Village.town_code == town_code, true() if where is None else where)
        .order_by(Village.code)
    )
    frame = _frame(list(conn.execute(stmt)), fields)
    frame["kind"] = [_stored(v) for v in frame["kind"]]
    return frame


# --- one ledger frame to a format ----------------------------------------------------------


def _columns(ledger: Ledger, frame: gpd.GeoDataFrame) -> list[Column]:
    points = bool(len(frame)) and bool((frame.geom_type == "Point").all())
    cols = []
    for c in ledger.columns:
        if c.field in ("lon", "lat") and not points:
            continue
        if c.field is None or c.field in ("lon", "lat") or c.field in frame.columns:
            cols.append(c)
    return cols


Naming = Literal["header", "short", "field"]


def ledger_table(
    frame: gpd.GeoDataFrame, ledger: Ledger, *, names: Naming = "header", labels: bool = True
) -> pd.DataFrame:
    """The attribute table of a ledger export: one column per ledger column, in order.

    Parameters
    ----------
    frame
        Rows with the ledger's field names (as from :func:`fetch_units`), in EPSG:4490.
    ledger
        :data:`~gis.io.ledger.UNIT_LEDGER` or :data:`~gis.io.ledger.VILLAGE_LEDGER`.
    names
        Column names: Chinese headers, ≤10-byte DBF names or model field names.
    labels
        Write enum labels and 是/否 (ledgers) instead of stored values (machine exchange).
    """
    out: dict[str, Any] = {}
    for c in _columns(ledger, frame):
        name = {"header": c.header, "short": c.short, "field": c.field or c.short}[names]
        if c.field is None:
            out[name] = np.arange(1, len(frame) + 1)
        elif c.field in ("lon", "lat"):
            out[name] = frame.geometry.x if c.field == "lon" else frame.geometry.y
        else:
            values = frame[c.field].tolist()
            out[name] = [export_value(v, c) if labels else v for v in values]
    return pd.DataFrame(out, index=frame.index)


def _excel(frame: gpd.GeoDataFrame, ledger: Ledger, title: str) -> bytes:
    import openpyxl
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    cols = _columns(ledger, frame)
    table = ledger_table(frame, ledger)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = ledger.name[:31]
    sheet.append([inert_cell(title)])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(cols))
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([c.header for c in cols])
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for record in table.itertuples(index=False, name=None):
        sheet.append([inert_cell(_plain(v)) for v in record])
    for j, c in enumerate(cols, start=1):
        letter = get_column_letter(j)
        sheet.column_dimensions[letter].width = c.width
        if c.kind in ("lon", "lat"):
            for (cell,) in sheet.iter_rows(min_row=3, min_col=j, max_col=j):
                cell.number_format = "0.0000000"
        if c.kind in ("text", "uscc"):
            for (cell,) in sheet.iter_rows(min_row=3, min_col=j, max_col=j):
                cell.number_format = "@"  # codes stay text when edited in Excel
    sheet.freeze_panes = "A3"
    sheet.print_title_rows = "2:2"
    sheet.page_setup.orientation = "landscape"
    notes = book.create_sheet("字段说明")
    notes.append(["列名", "字段", "说明"])
    for c in cols:
        notes.append([c.header, c.short, c.note])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    """numpy scalars and NaN to plain Python values openpyxl can write."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _csv_cell(value: Any) -> str:
    # Neutralised before numbers become text, so a negative number stays a number.
    value = inert_cell(_plain(value))
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _csv(frame: gpd.GeoDataFrame, ledger: Ledger) -> bytes:
    table = ledger_table(frame, ledger)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for record in table.itertuples(index=False, name=None):
        writer.writerow([_csv_cell(v) for v in record])
    # UTF-8 with BOM: Excel on Chinese Windows opens it without garbling.
    return buffer.getvalue().encode("utf-8-sig")


def _geo(
    frame: gpd.GeoDataFrame, ledger: Ledger, names: Naming, labels: bool, crs: int | None
) -> gpd.GeoDataFrame:
    table = ledger_table(frame, ledger, names=names, labels=labels)
    geo = gpd.GeoDataFrame(table, geometry=frame.geometry.values, crs=STORAGE_SRID)
    if crs is not None and crs != STORAGE_SRID:
        geo = geo.to_crs(crs)
    return geo


def _write_file(geo: gpd.GeoDataFrame, path: Path, **kwargs: Any) -> None:
    pyogrio.write_dataframe(geo, path, **kwargs)


def _dictionary(ledger: Ledger, frame: gpd.GeoDataFrame) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["字段名", "中文名称", "说明"])
    for c in _columns(ledger, frame):
        writer.writerow([c.short, c.header, c.note])
    return buffer.getvalue().encode("utf-8-sig")


def _shapefile_files(
    frame: gpd.GeoDataFrame, ledger: Ledger, stem: str, encoding: str, crs: int | None
) -> dict[str, bytes]:
    for c in _columns(ledger, frame):
        if ascii_len(c.short, "ascii") > 10:
            raise AssertionError(f"DBF field name too long: {c.short}")
    geo = _geo(frame, ledger, "short", True, crs)
    with tempfile.TemporaryDirectory(prefix="gridsafe-export-") as tmp:
        path = Path(tmp) / f"{stem}.shp"
        _write_file(geo, path, encoding=encoding)
        files = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())}
    files[DICTIONARY_NAME] = _dictionary(ledger, frame)
    return files


def _via_file(geo: gpd.GeoDataFrame, suffix: str, **kwargs: Any) -> bytes:
    with tempfile.TemporaryDirectory(prefix="gridsafe-export-") as tmp:
        path = Path(tmp) / f"export{suffix}"
        _write_file(geo, path, **kwargs)
        return path.read_bytes()


def export_frame(
    frame: gpd.GeoDataFrame,
    ledger: Ledger,
    fmt: ExportFormat,
    *,
    title: str | None = None,
    crs: int | None = None,
    encoding: str = "GBK",
    stem: str | None = None,
) -> bytes:
    """Serialise one ledger frame; the pure core of :func:`export_units`/:func:`export_villages`.

    Parameters
    ----------
    frame
        Rows with the ledger's field names (see :func:`fetch_units`), geometry in EPSG:4490.
    ledger
        Which ledger the rows belong to.
    fmt
        ``"xlsx"``, ``"csv"``, ``"geojson"``, ``"gpkg"``, ``"shp"`` (a zip of the set) or ``"kml"``.
    title
        Excel title row (defaults to the ledger name).
    crs
        Target CRS for ``shp`` and ``gpkg``: 4490 (default), 4547 or 4526.
    encoding
        Shapefile attribute encoding, ``"GBK"`` (default, written to ``.cpg``) or ``"UTF-8"``.
    stem
        File name stem inside a shapefile zip.

    Returns
    -------
    bytes
        The file content (a zip for shapefiles).
    """
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"不支持的导出格式：{fmt}；可选 {'、'.join(EXPORT_FORMATS)}")
    if crs is not None and crs != STORAGE_SRID:
        if fmt not in ("shp", "gpkg"):
            raise InvalidInput("只有 shp 和 gpkg 可以导出为投影坐标（4547/4526）")
        if crs not in ACCEPTED_PROJECTED:
            raise InvalidInput(f"不支持的目标坐标系：{crs}；可选 4490、4547、4526")
    if encoding.upper().replace("-", "") not in ("GBK", "UTF8", "CP936"):
        raise InvalidInput(f"不支持的编码：{encoding}；可选 GBK 或 UTF-8")
    layer = LAYER_NAMES.get(ledger.name, "layer")
    if fmt == "xlsx":
        return _excel(frame, ledger, title or ledger.name)
    if fmt == "csv":
        return _csv(frame, ledger)
    if fmt == "geojson":
        geo = _geo(frame, ledger, "field", False, None)
        text: str = geo.to_json(drop_id=True, ensure_ascii=False)
        return text.encode("utf-8")
    if fmt == "gpkg":
        return _via_file(_geo(frame, ledger, "header", True, crs), ".gpkg", layer=layer)
    if fmt == "kml":
        geo = _geo(frame, ledger, "header", True, None).set_crs(4326, allow_override=True)
        name_field = ledger.by_field("name").header
        return _via_file(
            geo, ".kml", driver="KML", layer=layer, dataset_options={"NameField": name_field}
        )
    files = _shapefile_files(frame, ledger, stem or layer, encoding, crs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@overload
def _deliver(data: bytes, fmt: ExportFormat, dest: None, stem: str) -> bytes: ...


@overload
def _deliver(data: bytes, fmt: ExportFormat, dest: str | Path, stem: str) -> Path: ...


def _deliver(data: bytes, fmt: ExportFormat, dest: str | Path | None, stem: str) -> bytes | Path:
    if dest is None:
        return data
    dest = Path(dest)
    path = dest / f"{stem}{SUFFIX[fmt]}" if dest.is_dir() else dest
    path.write_bytes(data)
    return path


@overload
def export_units(
    conn: Connection,
    town_code: str,
    fmt: ExportFormat,
    *,
    dest: None = None,
    crs: int | None = None,
    encoding: str = "GBK",
    where: ColumnElement[bool] | None = None,
) -> bytes: ...


@overload
def export_units(
    conn: Connection,
    town_code: str,
    fmt: ExportFormat,
    *,
    dest: str | Path,
    crs: int | None = None,
    encoding: str = "GBK",
    where: ColumnElement[bool] | None = None,
) -> Path: ...


def export_units(
    conn: Connection,
    town_code: str,
    fmt: ExportFormat,
    *,
    dest: str | Path | None = None,
    crs: int | None = None,
    encoding: str = "GBK",
    where: ColumnElement[bool] | None = None,
) -> bytes | Path:
    """Export a town's unit ledger (生产经营单位台账).

    Parameters
    ----------
    conn
        A database connection.
    town_code
        12-digit town code.
    fmt
        ``"xlsx"``, ``"csv"``, ``"geojson"``, ``"gpkg"``, ``"shp"`` or ``"kml"``.
    dest
        None to return bytes; a directory to write ``units.<ext>`` into (``units.zip`` for a
        shapefile set); or a file path.
    crs
        4547/4526 for projected ``shp``/``gpkg`` output.
    encoding
        Shapefile DBF encoding: ``"GBK"`` (default) or ``"UTF-8"``.
    where
        Extra row filter, e.g. ``scope_clause(Unit, scope)``.

    Returns
    -------
    bytes or pathlib.Path
        The content, or the path written.
    """
    frame = fetch_units(conn, town_code, where)
    data = export_frame(
        frame,
        UNIT_LEDGER,
        fmt,
        title=town_title(conn, town_code, UNIT_LEDGER),
        crs=crs,
        encoding=encoding,
        stem="units",
    )
    return _deliver(data, fmt, dest, "units")


@overload
def export_villages(
    conn: Connection,
    town_code: str,
    fmt: ExportFormat,
    *,
    dest: None = None,
    crs: int | None = None,
    encoding: str = "GBK",
    where: ColumnElement[bool] | None = None,
) -> bytes: ...


@overload
def export_villages(
    conn: Connection,
    town_code: str,
    fmt: ExportFormat,
    *,
    dest: str | Path,
    crs: int | None = None,
    encoding: str = "GBK",
    where: ColumnElement[bool] | None = None,
) -> Path: ...


def export_villages(
    conn: Connection,
    town_code: str,
    fmt: ExportFormat,
    *,
    dest: str | Path | None = None,
    crs: int | None = None,
    encoding: str = "GBK",
    where: ColumnElement[bool] | None = None,
) -> bytes | Path:
    """Export a town's villages (村/社区 grids) with their polygons.

    Parameters are those of :func:`export_units`; Excel and CSV carry attributes only.
    """
    frame = fetch_villages(conn, town_code, where)
    data = export_frame(
        frame,
        VILLAGE_LEDGER,
        fmt,
        title=town_title(conn, town_code, VILLAGE_LEDGER),
        crs=crs,
        encoding=encoding,
        stem="villages",
    )
    return _deliver(data, fmt, dest, "villages")

"""Read user files (Excel, CSV, GeoJSON, GeoPackage, Shapefile, KML, zip) into rows in CGCS2000."""

from __future__ import annotations

import csv
import io
import tempfile
import unicodedata
import zipfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from gis.crs import ACCEPTED_PROJECTED, STORAGE_SRID, guess_projected_srid, transformer
from gis.errors import ImportRejected, InvalidInput, RowProblem
from gis.gcj02 import geometry_to_wgs
from gis.io.limits import check_archive, check_file
from gis.settings import UploadLimits

Format = Literal["xlsx", "csv", "geojson", "gpkg", "shp", "kml", "zip"]
#: Coordinate options: "wgs84" (= CGCS2000, EPSG 4490/4326), "gcj02", "bd09", 4547 or 4526.
Coords = str | int
Datum = Literal["wgs84", "gcj02", "bd09"]

SUFFIX_FORMATS: dict[str, Format] = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".txt": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
    ".shp": "shp",
    ".kml": "kml",
    ".kmz": "kml",
    ".zip": "zip",
}
#: Inside a zip, the first kind found in this order is read.
ZIP_PREFERENCE = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".xlsx", ".csv")
HEADER_SCAN_ROWS = 30
#: What pyogrio raises for a file GDAL cannot open or read (pyogrio 0.13 has no DataError).
VECTOR_ERRORS: tuple[type[Exception], ...] = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
)
UNREADABLE: tuple[type[Exception], ...] = (*VECTOR_ERRORS, UnicodeDecodeError)
DEGREE_LIMIT = 1000.0
WHOLE_ROW = "(整行)"


@dataclass
class SourceRow:
    """One data row: its number as the user sees it, raw values by header, geometry."""

    number: int
    values: dict[str, Any]
    geometry: BaseGeometry | None = None
    sheet: str | None = None


@dataclass
class SourceTable:
    """What a reader found in a file, with geometries converted to CGCS2000 lon/lat."""

    source: str
    fmt: Format
    headers: list[str]
    rows: list[SourceRow]
    problems: list[RowProblem] = field(default_factory=list)
    #: The CRS the coordinates were read in ("wgs84", "gcj02", "bd09" or an EPSG code).
    input_crs: str | int | None = None


def normalise_header(text: Any) -> str:
    """Header text folded for matching: NFKC (全角→半角), no spaces, no required-field stars."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text))
    return "".join(ch for ch in folded if not ch.isspace()).strip("*").casefold()


def detect_format(path: Path) -> Format:
    """The format of ``path`` from its suffix (Chinese error if unsupported)."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"不支持的文件类型：{path.suffix or '(无后缀)'}；"
            "支持 xlsx、csv、geojson、gpkg、shp、kml/kmz 和 zip"
        )
    return fmt


def parse_coords(coords: Coords) -> Datum | int:
    """Normalise the coordinate option to "wgs84", "gcj02", "bd09", 4547 or 4526."""
    key = str(coords).strip().lower().removeprefix("epsg:")
    if key in ("wgs84", "cgcs2000", "4490", "4326", "crs84"):
        return "wgs84"
    if key in ("gcj02", "gcj-02", "gcj"):
        return "gcj02"
    if key in ("bd09", "bd-09", "bd09ll", "baidu"):
        return "bd09"
    if key.isdigit() and int(key) in ACCEPTED_PROJECTED:
        return int(key)
    raise InvalidInput(
        f"不支持的坐标系：{coords}；可选 wgs84/cgcs2000（4490）、gcj02、bd09、4547、4526"
    )


# --- coordinates ---------------------------------------------------------------------------


def _project(geoms: np.ndarray, srid: int) -> np.ndarray:
    to_storage = transformer(srid, STORAGE_SRID)

    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = to_storage.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, fn))


def _first_x(geom: BaseGeometry | None) -> float | None:
    if geom is None or geom.is_empty:
        return None
    return float(shapely.get_coordinates(geom)[0, 0])


def to_storage(
    geoms: Sequence[BaseGeometry | None], coords: Coords, file_srid: int | None = None
) -> tuple[np.ndarray, str | int | None]:
    """Convert geometries to CGCS2000 lon/lat.

    A CRS declared by the file wins; otherwise ``coords`` decides, and eastings larger than
    1000 are recognised by magnitude (EPSG:4547 ~5e5, EPSG:4526 ~3.85e7) per geometry.

    Parameters
    ----------
    geoms
        Shapely geometries (None allowed) in the source coordinates.
    coords
        The user's coordinate option (see :func:`parse_coords`).
    file_srid
        EPSG code declared by the file (``.prj``, GeoPackage), if any.

    Returns
    -------
    tuple
        The converted geometries (object array; None where a geometry could not be placed)
        and the CRS used (or the first one, when rows differ).
    """
    option = parse_coords(coords)
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    if file_srid is not None and file_srid not in (4490, 4326):
        return _project(arr, file_srid), file_srid
    if isinstance(option, int) and file_srid is None:
        return _project(arr, option), option
    datum: Datum = "wgs84" if isinstance(option, int) else option
    first_x = [_first_x(g) for g in arr]
    projected = np.array([x is not None and abs(x) > DEGREE_LIMIT for x in first_x], dtype=bool)
    out = arr.copy()
    used: str | int | None = datum
    if (~projected).any():
        out[~projected] = geometry_to_wgs(arr[~projected], datum)
    for srid in ACCEPTED_PROJECTED:
        mask = np.array(
            [
                bool(p) and x is not None and guess_projected_srid(x) == srid
                for p, x in zip(projected, first_x, strict=True)
            ],
            dtype=bool,
        )
        if mask.any():
            out[mask] = _project(arr[mask], srid)
            used = srid if not (~projected).any() else used
    unknown = projected & np.array(
        [x is None or guess_projected_srid(x) is None for x in first_x], dtype=bool
    )
    out[unknown] = None
    return out, used


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if np.isfinite(value) else None
    text = unicodedata.normalize("NFKC", str(value)).strip().rstrip("°")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _attach_points(
    rows: list[SourceRow], lonlat: tuple[str, str], coords: Coords
) -> str | int | None:
    lon_key, lat_key = lonlat
    raw: list[BaseGeometry | None] = []
    for row in rows:
        x, y = _number(row.values.get(lon_key)), _number(row.values.get(lat_key))
        raw.append(shapely.Point(x, y) if x is not None and y is not None else None)
    converted, used = to_storage(raw, coords)
    for row, geom in zip(rows, converted, strict=True):
        row.geometry = geom
    return used


# --- tabular sources ----------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _find_header(grid: Sequence[tuple[int, list[Any]]], header_keys: Collection[str]) -> int | None:
    """Index in ``grid`` of the row that matches most of ``header_keys`` (at least two)."""
    keys = {normalise_header(k) for k in header_keys}
    best, best_score = None, 1 if len(keys) > 1 else 0
    for i, (_, cells) in enumerate(grid[:HEADER_SCAN_ROWS]):
        score = len({normalise_header(c) for c in cells} & keys)
        if score > best_score:
            best, best_score = i, score
    return best


def _rows_from_grid(
    grid: list[tuple[int, list[Any]]],
    header_keys: Collection[str],
    source: str,
    sheet: str | None = None,
) -> tuple[list[str], list[SourceRow]]:
    at = _find_header(grid, header_keys) if header_keys else 0
    if at is None or not grid:
        expected = "、".join(list(header_keys)[:4])
        reason = f"未找到表头行：应包含 {expected} 等列"
        raise ImportRejected([RowProblem(1, "表头", reason)], source)
    headers = [normalise_header(c) for c in grid[at][1]]
    rows = []
    for number, cells in grid[at + 1 :]:
        if all(_is_blank(c) for c in cells):
            continue
        values = {h: (cells[j] if j < len(cells) else None) for j, h in enumerate(headers) if h}
        rows.append(SourceRow(number=number, values=values, sheet=sheet))
    return [h for h in headers if h], rows


def _excel_grids(path: Path) -> list[tuple[str, list[tuple[int, list[Any]]]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, SyntaxError) as exc:
        # SyntaxError covers xml.etree's ParseError (malformed XML in a part).
        raise InvalidInput(
            f"文件 {path.name} 不是有效的 Excel 工作簿或已损坏 (unreadable xlsx: {exc})"
        ) from exc
    grids = []
    for sheet in book.worksheets:
        # Ledgers merge cells by village: every cell of a merged block takes its top-left value.
        for rng in list(sheet.merged_cells.ranges):
            value = sheet.cell(rng.min_row, rng.min_col).value
            sheet.unmerge_cells(str(rng))
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    sheet.cell(r, c).value = value
        grid = [(cells[0].row, [c.value for c in cells]) for cells in sheet.iter_rows() if cells]
        grids.append((sheet.title, grid))
    return grids


def read_excel(
    path: Path, header_keys: Collection[str], *, sheet: str | None = None
) -> tuple[list[str], list[SourceRow]]:
    """Rows of an ``.xlsx`` ledger whose header row sits under title rows.

    Every sheet whose header is found is read (ledgers often keep one sheet per village), unless
    ``sheet`` names one. Row numbers are Excel row numbers.
    """
    headers: list[str] = []
    rows: list[SourceRow] = []
    grids = [(t, g) for t, g in _excel_grids(path) if sheet is None or t == sheet]
    if sheet is not None and not grids:
        raise InvalidInput(f"工作表“{sheet}”不存在")
    found = [(t, g) for t, g in grids if header_keys and _find_header(g, header_keys) is not None]
    for title, grid in found or grids[:1]:
        h, r = _rows_from_grid(grid, header_keys, str(path), title if len(found) > 1 else None)
        headers = headers or h
        rows.extend(r)
    return headers, rows


def decode_lines(data: bytes) -> tuple[list[str], str, list[int]]:
    """Decode text that is UTF-8 (with or without BOM) or GBK, line by line.

    Returns the lines, the encoding chosen and the 1-based numbers of lines that could not be
    decoded in it (decoded with replacement characters).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    raw_lines = data.split(b"\n")
    non_ascii = [ln for ln in raw_lines if any(b > 0x7F for b in ln)]

    def ok(line: bytes, encoding: str) -> bool:
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            return False
        return True

    utf8_ok = sum(ok(ln, "utf-8") for ln in non_ascii)
    # GBK bytes rarely form valid UTF-8, while UTF-8 bytes often pass as GBK: prefer UTF-8.
    encoding = "utf-8" if not non_ascii or utf8_ok * 2 >= len(non_ascii) else "gb18030"
    lines, bad = [], []
    for number, line in enumerate(raw_lines, start=1):
        if not ok(line, encoding):
            bad.append(number)
        lines.append(line.decode(encoding, errors="replace").rstrip("\r"))
    return lines, ("gbk" if encoding == "gb18030" else encoding), bad


def read_csv(
    path: Path, header_keys: Collection[str]
) -> tuple[list[str], list[SourceRow], list[RowProblem]]:
    """Rows of a CSV in UTF-8, UTF-8-SIG or GBK; undecodable lines become problems."""
    lines, encoding, bad = decode_lines(path.read_bytes())
    reader = csv.reader(io.StringIO("\n".join(lines)))
    grid: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for record in reader:
            grid.append((start, list(record)))
            start = reader.line_num + 1
    except csv.Error as exc:  # NUL bytes, a field over csv.field_size_limit (128 KiB)
        raise InvalidInput(
            f"文件 {path.name} 第{start}行无法按 CSV 读取：{exc} (malformed CSV at line {start})"
        ) from exc
    headers, rows = _rows_from_grid(grid, header_keys, str(path))
    other = "GBK" if encoding == "utf-8" else "UTF-8"
    reason = f"文字无法识别：不是有效的 {encoding.upper()} 编码（也不是 {other}）"
    problems = [RowProblem(n, WHOLE_ROW, reason) for n in bad]
    return headers, rows, problems


# --- vector sources -----------------------------------------------------------------------


def _epsg_of(crs_text: str | None) -> int | None:
    if not crs_text:
        return None
    try:
        crs = CRS.from_user_input(crs_text)
    except CRSError as exc:
        raise InvalidInput(f"无法识别文件中的坐标系 (unreadable CRS: {exc})") from exc
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is None and crs.is_geographic:
        return STORAGE_SRID
    if epsg is None:
        raise InvalidInput(
            f"无法识别文件中的坐标系：{crs.name}；请转换为 CGCS2000（4490/4547/4526）"
        )
    return epsg


def _shapefile_encoding(path: Path) -> str | None:
    """None when GDAL can decide (a .cpg or an LDID byte); else a guess: UTF-8, then GBK."""
    if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    candidates = (path.with_suffix(".dbf"), path.with_suffix(".DBF"))
    dbf = next((p for p in candidates if p.exists()), None)
    if dbf is None:
        return None
    with dbf.open("rb") as fh:
        header = fh.read(32)
    if len(header) > 29 and header[29] != 0:
        return None
    return "UTF-8"


def read_vector(path: Path, *, layer: str | None = None) -> tuple[Any, int | None]:
    """A GeoDataFrame of a vector file and the EPSG code its CRS declares (if any)."""
    encoding = _shapefile_encoding(path) if path.suffix.lower() == ".shp" else None
    try:
        try:
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
        except UnicodeDecodeError:
            frame = pyogrio.read_dataframe(path, layer=layer, encoding="GB18030")
    except UNREADABLE as exc:
        raise InvalidInput(
            f"无法读取文件 {path.name}：文件已损坏或不是所述格式 (unreadable: {exc})"
        ) from exc
    crs = frame.crs.to_wkt() if frame.crs is not None else None
    return frame, _epsg_of(crs)


def _vector_rows(frame: Any) -> tuple[list[str], list[SourceRow], list[BaseGeometry | None]]:
    columns = [c for c in frame.columns if c != frame.geometry.name]
    headers = [normalise_header(c) for c in columns]
    rows, geoms = [], []
    records = frame[columns].astype(object).where(frame[columns].notna(), None)
    for i, values in enumerate(records.itertuples(index=False, name=None), start=1):
        rows.append(SourceRow(number=i, values=dict(zip(headers, values, strict=True))))
    for geom in frame.geometry:
        geoms.append(None if geom is None or geom.is_empty else geom)
    return headers, rows, geoms


def _drop_z(geoms: Iterable[BaseGeometry | None]) -> list[BaseGeometry | None]:
    return [None if g is None else shapely.force_2d(g) for g in geoms]


def unpack_zip(path: Path, workdir: Path, limits: UploadLimits, label: str | None = None) -> Path:
    """Unpack a zip into ``workdir`` after checking its bounds; the file to import inside it.

    The first kind in ZIP_PREFERENCE wins (a shapefile set keeps its siblings beside it).
    Member names are sanitised by zipfile (no absolute paths, no ``..``).
    """
    label = label or path.name
    members = check_archive(path, limits, label)
    wanted = [m for m in members if not m.is_dir() and "__MACOSX" not in m.filename]
    workdir.mkdir(exist_ok=True)
    with zipfile.ZipFile(path) as archive:
        try:
            for member in wanted:
                archive.extract(member, workdir)
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
            # A CRC mismatch, an unsupported method, or sizes that lie about the data.
            raise InvalidInput(f"文件 {label} 解压失败：{exc} (cannot unpack)") from exc
    for suffix in ZIP_PREFERENCE:
        hits = sorted(p for p in workdir.rglob("*") if p.suffix.lower() == suffix)
        if hits:
            return hits[0]
    raise InvalidInput(f"压缩包 {label} 中没有可导入的文件（shp、gpkg、geojson、kml、xlsx、csv）")


def prepare_upload(path: Path, limits: UploadLimits) -> Path:
    """Check an uploaded file against ``limits`` before any parsing; the file to import.

    A zip is checked as an archive, unpacked beside itself, and the member to import is checked
    in turn (named "<zip> 中的 <member>" to the user).

    Raises
    ------
    InvalidInput
        Unsupported suffix, or a file that is not what its suffix says.
    FileTooLarge
        A bound of ``limits`` exceeded.
    """
    fmt = detect_format(path)
    if fmt != "zip":
        check_file(path, fmt, limits)
        return path
    inner = unpack_zip(path, path.parent / "unpacked", limits)
    check_file(inner, detect_format(inner), limits, f"{path.name} 中的 {inner.name}")
    return inner


def read_source(
    path: str | Path,
    *,
    fmt: Format | None = None,
    coords: Coords = "wgs84",
    header_keys: Collection[str] = (),
    lonlat: tuple[str, str] = ("经度", "纬度"),
    sheet: str | None = None,
    layer: str | None = None,
) -> SourceTable:
    """Read a user file into numbered rows with geometries in CGCS2000 lon/lat.

    Parameters
    ----------
    path
        The file (``.xlsx``, ``.csv``, ``.geojson``, ``.gpkg``, ``.shp``, ``.kml``/``.kmz`` or a
        ``.zip`` holding one of them, e.g. a shapefile set).
    fmt
        Force a format instead of using the suffix.
    coords
        Coordinates of the input when the file does not declare a CRS: ``"wgs84"`` (CGCS2000,
        4490/4326, the default), ``"gcj02"`` (converted with the iterative inverse), ``"bd09"``,
        ``4547`` or ``4526``. Eastings above 1000 are recognised by magnitude.
    header_keys
        Known headers of the expected table; the header row of a spreadsheet is the row that
        matches most of them (title rows above it are skipped).
    lonlat
        The longitude and latitude headers of tabular files.
    sheet, layer
        Restrict an Excel workbook to one sheet or a GeoPackage to one layer.

    Returns
    -------
    SourceTable
        Rows with raw values by normalised header, and geometries in EPSG:4490. Reading
        problems (undecodable text) are collected in ``problems``, not raised.

    Raises
    ------
    InvalidInput
        Unsupported format or CRS, unreadable file.
    ImportRejected
        No header row found in a spreadsheet.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"文件不存在：{path}")
    fmt = fmt or detect_format(path)
    if fmt == "zip":
        with tempfile.TemporaryDirectory(prefix="gridsafe-import-") as tmp:
            # Unpacking is bounded on every door (the CLI too), with the default limits here:
            # an upload was already checked against the service's own (prepare_upload).
            inner = unpack_zip(path, Path(tmp), UploadLimits())
            table = read_source(
                inner,
                coords=coords,
                header_keys=header_keys,
                lonlat=lonlat,
                sheet=sheet,
                layer=layer,
            )
        table.source, table.fmt = str(path), "zip"
        return table

    problems: list[RowProblem] = []
    if fmt in ("xlsx", "csv"):
        if fmt == "xlsx":
            headers, rows = read_excel(path, header_keys, sheet=sheet)
        else:
            headers, rows, problems = read_csv(path, header_keys)
        lon_key, lat_key = (normalise_header(k) for k in lonlat)
        used = _attach_points(rows, (lon_key, lat_key), coords) if lon_key in headers else None
        return SourceTable(str(path), fmt, headers, rows, problems, used)

    frame, file_srid = read_vector(path, layer=layer)
    headers, rows, geoms = _vector_rows(frame)
    converted, used = to_storage(_drop_z(geoms), coords, file_srid)
    for row, geom in zip(rows, converted, strict=True):
        row.geometry = geom
    return SourceTable(str(path), fmt, headers, rows, problems, used)

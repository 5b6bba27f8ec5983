"""Bounds a user file must meet before it is parsed: sizes, members, rows, cells, vertices.

Every check reads directories, headers and counts, never the parsed content: a zip's central
directory (declared sizes, which Python's zipfile enforces when it reads), an xlsx's sheet XML
streamed through the inflater and counted with regular expressions (cells, rows, merged ranges,
DTDs), a GeoJSON's brackets (depth and coordinate pairs), a GeoPackage's blob lengths in SQLite,
a shapefile's sizes and DBF header. A bound exceeded raises :class:`~gis.errors.FileTooLarge`
naming the file, what it holds and the limit; a file that is not what its suffix says raises
:class:`~gis.errors.InvalidInput`.
"""

from __future__ import annotations

import re
import sqlite3
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from gis.errors import FileTooLarge, InvalidInput
from gis.settings import UploadLimits

CHUNK = 1 << 20
#: Each layer costs one count query; a ledger has one, a town's GIS export a handful.
MAX_GPKG_LAYERS = 100
#: Longest token the streamed regular expressions look for (a mergeCell tag, a dimension).
TOKEN_SPAN = 256
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CELL = re.compile(rb"<(?:\w+:)?c[\s>/]")
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
#: Without a namespace prefix (what Excel, WPS and openpyxl write): a literal the regex engine
#: scans for 2.5× faster. Used only when no prefixed tag can be in the window.
#: A cell reference (r="AB12"): its column letters and its row, for the sheet's extent.
_REF_COLUMN = re.compile(rb'r="([A-Z]{1,3})\d')
_REF_ROW = re.compile(rb'r="[A-Z]{0,3}(\d{1,7})"')
_PLAIN_CELL = re.compile(rb"<c[\s>/]")
_PLAIN_ROW = re.compile(rb"<row[\s>/]")
_PREFIXED_TAILS = tuple(tag + bytes([end]) for tag in (b":c", b":row") for end in b" \t\r\n\f\v>/")
_REF = rb'ref\s*=\s*"([A-Z]{1,3})(\d{1,7})(?::([A-Z]{1,3})(\d{1,7}))?"'
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?" + _REF)
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s[^>]*?" + _REF)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = np.zeros(256, dtype=np.int64)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1
_NUMBER = rb"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
#: One KML coordinate tuple, lon,lat[,alt] (no spaces inside a tuple, per the KML spec).
_KML_TUPLE = re.compile(_NUMBER + rb"," + _NUMBER + rb"(?:," + _NUMBER + rb")?")


def _mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MB"


def _limit(
    label: str,
    what: tuple[str, str],
    found: float,
    limit: float,
    unit: str = "",
    *,
    partial: bool = False,
) -> None:
    """Refuse when ``found`` exceeds ``limit``; ``what`` is (Chinese, English); a count that
    stopped early (``partial``) says "at least"."""
    if found > limit:
        zh, english = what
        amount = f"至少 {found:,.0f}{unit}" if partial else f"为 {found:,.0f}{unit}"
        raise FileTooLarge(
            f"文件 {label} {zh}{amount}，超过上限 {limit:,.0f}{unit}"
            f" (file {label}: {'at least ' if partial else ''}{found:,.0f} {english},"
            f" limit {limit:,.0f})"
        )


# --- zip archives (zip uploads and xlsx workbooks) ----------------------------------------


def _declared_entries(path: Path) -> int | None:
    """Number of entries the end-of-central-directory record declares, read without parsing the
    directory itself (a zip of 500,000 empty members takes seconds to list)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - (1 << 16) - 22))
        tail = fh.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        return None
    entries = int(struct.unpack_from("<H", tail, at + 10)[0])
    locator = tail.rfind(_EOCD64_LOCATOR, 0, at)
    if entries == 0xFFFF and locator >= 0:
        return 1 << 32  # a zip64 directory: far beyond any sane member count
    return entries


def check_archive(path: Path, limits: UploadLimits, label: str) -> list[zipfile.ZipInfo]:
    """The members of a zip (or xlsx) after checking count, unpacked size and ratio.

    Raises
    ------
    InvalidInput
        Not a zip, or encrypted.
    FileTooLarge
        Too many members, too much unpacked data, or a member that compresses like a bomb.
    """
    declared = _declared_entries(path)
    if declared is None or not zipfile.is_zipfile(path):
        raise InvalidInput(f"文件 {label} 不是有效的 zip 压缩格式 (not a zip archive)")
    _limit(label, ("压缩包内文件数", "members"), declared, limits.max_members, " 个")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"文件 {label} 的压缩结构已损坏 (corrupt zip: {exc})") from exc
    _limit(label, ("压缩包内文件数", "members"), len(members), limits.max_members, " 个")
    total = sum(m.file_size for m in members)
    if total > limits.max_decompressed_bytes:
        raise FileTooLarge(
            f"文件 {label} 解压后共 {_mib(total)}，超过上限 {_mib(limits.max_decompressed_bytes)}"
            f" (unpacked size {total} bytes exceeds {limits.max_decompressed_bytes})"
        )
    for member in members:
        if member.flag_bits & 0x1:
            raise InvalidInput(f"文件 {label} 中的 {member.filename} 已加密，无法读取 (encrypted)")
        if member.file_size > limits.ratio_floor_bytes:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > limits.max_ratio:
                raise FileTooLarge(
                    f"文件 {label} 中的 {member.filename} 压缩比为 {ratio:,.0f} 倍，"
                    f"超过上限 {limits.max_ratio:,.0f} 倍，疑似压缩炸弹"
                    f" (compression ratio {ratio:.0f} exceeds {limits.max_ratio:.0f})"
                )
    return members


def _stream(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[bytes]:
    with archive.open(member) as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _windows(chunks: Iterable[bytes]) -> Iterator[tuple[bytes, int]]:
    """Overlapping windows over a stream and the offset up to which matches are new: a token
    shorter than TOKEN_SPAN that straddles two chunks is seen whole exactly once."""
    carry = b""
    for chunk in chunks:
        window = carry + chunk
        yield window, len(carry)
        carry = window[-TOKEN_SPAN:]


def _count_new(pattern: re.Pattern[bytes], window: bytes, start: int) -> int:
    """Matches that end after ``start`` (the ones inside the carried prefix were counted in the
    previous window; the patterns counted this way are short and cannot overlap themselves)."""
    return len(pattern.findall(window)) - len(pattern.findall(window, 0, start))


def _column(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


def _area(match: re.Match[bytes]) -> int:
    c1, r1, c2, r2 = match.groups()
    if c2 is None:
        return 1
    rows = abs(int(r2) - int(r1)) + 1
    cols = abs(_column(c2) - _column(c1)) + 1
    return rows * cols


def _check_sheet(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: UploadLimits, label: str
) -> tuple[int, int, int]:
    """Cells, rows and merged area of one worksheet, refusing early when a bound is passed.

    The extent (last row × last column, over cell references and merged ranges) is bounded as
    well: openpyxl walks every position of it, so one cell at XFD1048576 costs 1.7e10 cells.
    """
    cells = rows = merged = 0
    last_row = last_column = 0
    for window, start in _windows(_stream(archive, member)):
        # The substring tests are fast scans that skip the regex on the million ordinary tags.
        if b"<!" in window and _DTD.search(window):
            raise _dtd(label, member.filename)
        dimensions = _DIMENSION.finditer(window) if b"dimension" in window else ()
        for match in dimensions:
            if match.end() > start:
                _limit(
                    label,
                    ("工作表声明的单元格数", "cells declared by a sheet"),
                    _area(match),
                    limits.max_cells,
                    " 个",
                )
        for match in _MERGE.finditer(window) if b"mergeCell" in window else ():
            c1, r1, c2, r2 = match.groups()
            last_row = max(last_row, int(r1), int(r2 or 0))
            last_column = max(last_column, _column(c1), _column(c2 or b""))
            if match.end() > start:
                merged += _area(match)
        _limit(
            label,
            ("合并单元格覆盖的单元格数", "cells under merged ranges"),
            merged,
            limits.max_merged_cells,
            " 个",
            partial=True,
        )
        # Maxima need no care for the overlap between windows: seeing a reference twice is fine.
        last_row = max([last_row, *map(int, set(_REF_ROW.findall(window)))])
        last_column = max([last_column, *map(_column, set(_REF_COLUMN.findall(window)))])
        _limit(
            label,
            ("工作表范围（末行×末列）", "sheet extent (last row × last column)"),
            last_row * last_column,
            limits.max_cells,
            " 个单元格",
            partial=True,
        )
        prefixed = any(tail in window for tail in _PREFIXED_TAILS)
        cells += _count_new(_CELL if prefixed else _PLAIN_CELL, window, start)
        rows += _count_new(_ROW if prefixed else _PLAIN_ROW, window, start)
        _limit(label, ("单元格数", "cells"), cells, limits.max_cells, " 个", partial=True)
        _limit(label, ("行数", "rows"), rows, limits.max_rows, " 行", partial=True)
    return cells, rows, merged


def _dtd(label: str, part: str) -> InvalidInput:
    return InvalidInput(
        f"文件 {label} 的 {part} 含有 DTD/实体声明，Excel 不会生成这样的文件，拒绝读取"
        " (XML with a DTD or entity declarations is refused)"
    )


def check_xlsx(path: Path, limits: UploadLimits, label: str) -> None:
    """Bounds of a workbook: archive, then every sheet's cells, rows and merged ranges (summed
    over sheets), shared strings size, and no DTD in any XML part."""
    members = check_archive(path, limits, label)
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise InvalidInput(f"文件 {label} 不是有效的 Excel 工作簿 (.xlsx) (not an xlsx workbook)")
    cells = rows = merged = 0
    with zipfile.ZipFile(path) as archive:
        for member in members:
            name = member.filename
            if re.fullmatch(r"xl/sharedstrings\d*\.xml", name.casefold()):
                size = member.file_size
                if size > limits.max_shared_strings_bytes:
                    raise FileTooLarge(
                        f"文件 {label} 的共享字符串表解压后为 {_mib(size)}，超过上限 "
                        f"{_mib(limits.max_shared_strings_bytes)} (shared strings too large)"
                    )
            if re.fullmatch(r"xl/worksheets/[^/]+\.xml", name):
                c, r, m = _check_sheet(archive, member, limits, label)
                cells, rows, merged = cells + c, rows + r, merged + m
                _limit(label, ("单元格数", "cells"), cells, limits.max_cells, " 个", partial=True)
                _limit(label, ("行数", "rows"), rows, limits.max_rows, " 行", partial=True)
                _limit(
                    label,
                    ("合并单元格覆盖的单元格数", "cells under merged ranges"),
                    merged,
                    limits.max_merged_cells,
                    " 个",
                    partial=True,
                )
            elif name.endswith((".xml", ".rels", ".vml")):
                for window, _ in _windows(_stream(archive, member)):
                    if _DTD.search(window):
                        raise _dtd(label, name)


# --- text and vector files -----------------------------------------------------------------


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def check_csv(path: Path, limits: UploadLimits, label: str) -> None:
    """Rows counted as line breaks; UTF-16 (BOM or NUL bytes) refused with its name."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise InvalidInput(
            f"文件 {label} 是 UTF-16 编码（或含有空字符），请另存为 UTF-8 或 GBK 编码的 CSV"
            " (UTF-16 or NUL bytes: save as UTF-8 or GBK CSV)"
        )
    lines = 0
    for chunk in _chunks(path):
        lines += chunk.count(b"\n")
        _limit(label, ("行数", "rows"), lines, limits.max_rows, " 行", partial=True)


def _json_shape(data: bytes) -> tuple[int, int]:
    """Maximum nesting depth and number of coordinate arrays (``[`` then a number) of JSON text,
    with strings blanked first so brackets inside property values do not count."""
    bare = _JSON_STRING.sub(b'""', data)
    compact = np.frombuffer(bare.translate(None, b" \t\r\n"), dtype=np.uint8)
    follows = compact[1:]
    numeric = ((follows >= ord("0")) & (follows <= ord("9"))) | (follows == ord("-"))
    pairs = int(np.count_nonzero((compact[:-1] == ord("[")) & numeric))
    brackets = np.frombuffer(bare.translate(None, _NOT_BRACKETS), dtype=np.uint8)
    if brackets.size == 0:
        return 0, pairs
    return int(np.cumsum(_BRACKET_STEP[brackets], dtype=np.int64).max()), pairs


def check_geojson(path: Path, limits: UploadLimits, label: str) -> None:
    """Nesting depth and coordinate pairs of a GeoJSON file (the file is bounded in size)."""
    depth, vertices = _json_shape(path.read_bytes())
    _limit(label, ("JSON 嵌套层数", "JSON nesting depth"), depth, limits.max_json_depth, " 层")
    _limit(label, ("坐标点数", "vertices"), vertices, limits.max_vertices, " 个")


def check_kml(path: Path, limits: UploadLimits, label: str) -> None:
    """No DTD, and coordinate tuples (``x,y``) within the vertex bound."""
    vertices = 0
    for window, start in _windows(_chunks(path)):
        if _DTD.search(window):
            raise _dtd(label, "KML")
        vertices += _count_new(_KML_TUPLE, window, start)
        _limit(label, ("坐标点数", "vertices"), vertices, limits.max_vertices, " 个", partial=True)


def _gpkg_counts(path: Path, label: str) -> tuple[int, int]:
    """Features and an upper bound of vertices (geometry blob bytes / 16 per XY pair)."""
    with path.open("rb") as fh:
        if fh.read(16) != _SQLITE_MAGIC:
            raise InvalidInput(
                f"文件 {label} 不是有效的 GeoPackage（不是 SQLite 数据库）"
                " (not a GeoPackage: no SQLite header)"
            )
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with sqlite3.connect(uri, uri=True) as db:
            tables = db.execute(
                "SELECT table_name, column_name FROM gpkg_geometry_columns LIMIT ?",
                (MAX_GPKG_LAYERS + 1,),
            ).fetchall()
            if len(tables) > MAX_GPKG_LAYERS:
                raise FileTooLarge(
                    f"文件 {label} 的图层超过 {MAX_GPKG_LAYERS} 个"
                    f" (more than {MAX_GPKG_LAYERS} layers)"
                )
            features = vertices = 0
            for table, column in tables:
                quoted_t = '"' + str(table).replace('"', '""') + '"'
                quoted_c = '"' + str(column).replace('"', '""') + '"'
                # A point is 29 bytes (8 header + 21 WKB); each further pair adds 16.
                n, extra = db.execute(
                    f"SELECT count(*), coalesce(sum(max(length({quoted_c}) - 29, 0)), 0) "
                    f"FROM {quoted_t}"
                ).fetchone()
                features += int(n)
                vertices += int(n) + int(extra) // 16
    except sqlite3.Error as exc:
        raise InvalidInput(
            f"文件 {label} 不是有效的 GeoPackage 或已损坏 (broken GeoPackage: {exc})"
        ) from exc
    return features, vertices


def check_gpkg(path: Path, limits: UploadLimits, label: str) -> None:
    features, vertices = _gpkg_counts(path, label)
    _limit(label, ("要素数", "features"), features, limits.max_rows, " 个")
    _limit(
        label,
        ("坐标点数（按文件大小估计）", "vertices (estimated from size)"),
        vertices,
        limits.max_vertices,
        " 个",
    )


def check_shapefile(path: Path, limits: UploadLimits, label: str) -> None:
    """Records from the DBF header, vertices bounded by the .shp size (16 bytes per XY pair)."""
    dbf = next(
        (p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None
    )
    if dbf is not None:
        with dbf.open("rb") as fh:
            header = fh.read(8)
        if len(header) == 8:
            _limit(
                label,
                ("记录数", "records"),
                struct.unpack_from("<I", header, 4)[0],
                limits.max_rows,
                " 条",
            )
    vertices = max(0, path.stat().st_size - 100) // 16
    _limit(
        label,
        ("坐标点数（按文件大小估计）", "vertices (estimated from size)"),
        vertices,
        limits.max_vertices,
        " 个",
    )


def check_zip(path: Path, limits: UploadLimits, label: str) -> None:
    """Archive bounds only: the member to import is checked after it is unpacked."""
    check_archive(path, limits, label)


CHECKS: dict[str, Callable[[Path, UploadLimits, str], None]] = {
    "xlsx": check_xlsx,
    "csv": check_csv,
    "geojson": check_geojson,
    "kml": check_kml,
    "gpkg": check_gpkg,
    "shp": check_shapefile,
    "zip": check_zip,
}


def check_file(path: Path, fmt: str, limits: UploadLimits, label: str | None = None) -> None:
    """Check ``path`` read as ``fmt`` against ``limits``; ``label`` names it to the user."""
    CHECKS[fmt](path, limits, label or path.name)

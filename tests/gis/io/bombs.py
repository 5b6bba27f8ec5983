"""Hostile and malformed uploads, generated in memory (small to store, huge or broken inside).

Each builder returns ``(file name, bytes)``. The bombs reproduce what a review used to stop the
service; the malformed files reproduce what gave 500s.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl

Upload = tuple[str, bytes]
HEADER = "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级\n"
ROW = "测试商贸有限公司,91411003MA0000001X,114.0,34.05,F5212,蓝\n"


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(unpacked_mib: int = 200) -> Upload:
    """A zip of about a MiB holding a CSV of ``unpacked_mib`` MiB (ratio ~170)."""
    block = ROW.encode() * ((1 << 20) // len(ROW.encode()))
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("ledger.csv", "w") as member,
    ):
        member.write(HEADER.encode())
        for _ in range(unpacked_mib):
            member.write(block)
    return "ledger.zip", buffer.getvalue()


def zip_of_many_members(count: int = 20_000) -> Upload:
    return "many.zip", _zip({f"part/{i}.csv": b"" for i in range(count)}, zipfile.ZIP_STORED)


def _small_workbook() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["单位名称", "统一社会信用代码", "经度", "纬度"])
    sheet.append(["测试商贸有限公司", "91411003MA0000001X", 114.0, 34.05])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _rewrite_sheet(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """The workbook with ``xl/worksheets/sheet1.xml`` passed through ``edit``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    members = {i.filename: source.read(i) for i in source.infolist()}
    members["xl/worksheets/sheet1.xml"] = edit(members["xl/worksheets/sheet1.xml"])
    return _zip(members)


def xlsx_with_merged_range(ref: str) -> Upload:
    """A tiny workbook whose sheet declares one merged range ``ref`` (e.g. A1:XFD1048576)."""
    merge = f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>'.encode()
    data = _rewrite_sheet(
        _small_workbook(), lambda xml: xml.replace(b"</sheetData>", b"</sheetData>" + merge)
    )
    return "merged.xlsx", data


def xlsx_with_dtd() -> Upload:
    """A workbook whose sheet XML carries a DTD with nested entities (billion laughs)."""
    dtd = (
        b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    )

    def edit(xml: bytes) -> bytes:
        head, _, rest = xml.partition(b"?>")
        return head + b"?>" + dtd + rest

    return "dtd.xlsx", _rewrite_sheet(_small_workbook(), edit)


def geojson_with_vertices(count: int = 1_000_000) -> Upload:
    """One polygon feature whose ring has ``count`` vertices (~20 MB)."""
    pairs = ",".join(f"[114.{i:07d},34.05]" for i in range(count - 1))
    ring = f"[{pairs},[114.0000000,34.05]]"
    text = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"村(社区)名称":"大村","村(社区)代码":"411003101201"},'
        f'"geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}]}}'
    )
    return "villages.geojson", text.encode()


def csv_of_rows(count: int = 3_000_000) -> Upload:
    """A header and ``count`` one-character rows (~6 MB)."""
    return "ledger.csv", HEADER.encode() + b"x\n" * count


def deeply_nested_json(depth: int = 100_000) -> Upload:
    return "nested.geojson", b'{"type":' + b"[" * depth + b"]" * depth + b"}"


BOMBS: dict[str, Callable[[], Upload]] = {
    "zip bomb": zip_bomb,
    "zip with many members": zip_of_many_members,
    "huge merged range": lambda: xlsx_with_merged_range("A1:Z200000"),
    "whole-sheet merged range": lambda: xlsx_with_merged_range("A1:XFD1048576"),
    "xlsx with a DTD": xlsx_with_dtd,
    "GeoJSON of 10^6 vertices": geojson_with_vertices,
    "CSV of millions of rows": csv_of_rows,
    "deeply nested JSON": deeply_nested_json,
}


# --- malformed files ----------------------------------------------------------------------


def broken_geojson() -> Upload:
    return "broken.geojson", b'{"type": "FeatureCollection", "features": [{"type": "Feat'


def broken_gpkg(tmp: Path) -> Upload:
    """A real GeoPackage cut in half (SQLite header intact, pages missing)."""
    path = tmp / "cut.gpkg"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT)")
        db.execute("CREATE TABLE t (geom BLOB, name TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(b"x" * 500, "n")] * 200)
        db.execute("INSERT INTO gpkg_geometry_columns VALUES ('t', 'geom')")
    data = path.read_bytes()
    return "villages.gpkg", data[: len(data) // 2]


def zip_renamed_gpkg() -> Upload:
    return "villages.gpkg", _zip({"villages.geojson": b'{"type":"FeatureCollection"}'})


def csv_renamed_xlsx() -> Upload:
    return "ledger.xlsx", (HEADER + ROW).encode()


def utf16_csv() -> Upload:
    return "ledger.csv", (HEADER + ROW).encode("utf-16")


def deflated_lie() -> Upload:
    """A zip whose stored member is corrupted after the directory was written (bad CRC)."""
    data = bytearray(_zip({"ledger.csv": (HEADER + ROW).encode()}, zipfile.ZIP_STORED))
    at = data.index(ROW.encode()[:6])
    data[at] ^= 0xFF
    return "ledger.zip", bytes(data)


MALFORMED: dict[str, Callable[[Path], Upload]] = {
    "broken GeoJSON": lambda _: broken_geojson(),
    "broken GeoPackage": broken_gpkg,
    "zip renamed .gpkg": lambda _: zip_renamed_gpkg(),
    "CSV renamed .xlsx": lambda _: csv_renamed_xlsx(),
    "UTF-16 CSV": lambda _: utf16_csv(),
    "xlsx with a DTD": lambda _: xlsx_with_dtd(),
    "zip with a corrupt member": lambda _: deflated_lie(),
}

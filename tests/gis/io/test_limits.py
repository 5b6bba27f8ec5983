"""Upload bounds: every bomb is refused before parsing, ordinary ledgers and GIS files pass.

Counts are witnessed independently: openpyxl counts a workbook's cells, shapely a geometry's
vertices, and the streamed counters must agree with them exactly at the limit.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pytest
import shapely

from data import DEMO_DIR
from gis.errors import FileTooLarge, InvalidInput
from gis.io import limits
from gis.io.readers import prepare_upload, read_source
from gis.settings import UploadLimits
from tests.gis.io.bombs import BOMBS, MALFORMED, Upload, deeply_nested_json
from tests.gis.io.factories import unit_row, write_ledger_xlsx


def _write(tmp_path: Path, upload: Upload) -> Path:
    name, data = upload
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_every_bomb_is_refused_naming_the_file_and_the_limit(tmp_path: Path, bomb: str) -> None:
    path = _write(tmp_path, BOMBS[bomb]())
    with pytest.raises(InvalidInput) as caught:
        prepare_upload(path, UploadLimits())
    assert path.name in caught.value.message
    if isinstance(caught.value, FileTooLarge):
        assert "超过上限" in caught.value.message
    else:  # the DTD: not a size, a kind of file Excel never writes
        assert "DTD" in caught.value.message
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing was unpacked


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_files_are_invalid_input_not_crashes(tmp_path: Path, case: str) -> None:
    path = _write(tmp_path, MALFORMED[case](_scratch(tmp_path)))
    with pytest.raises(InvalidInput) as caught:
        read_source(prepare_upload(path, UploadLimits()), header_keys=["单位名称", "经度"])
    assert path.name in caught.value.message


def _scratch(tmp_path: Path) -> Path:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return scratch


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # DBF names
def test_ordinary_ledger_and_gis_files_pass(tmp_path: Path) -> None:
    rows = [unit_row(i) for i in range(1, 501)]
    ledger = write_ledger_xlsx(tmp_path / "台账.xlsx", rows)
    assert prepare_upload(ledger, UploadLimits()) == ledger
    villages = DEMO_DIR / "villages.geojson"
    assert prepare_upload(villages, UploadLimits()) == villages
    shp = tmp_path / "shp" / "villages.shp"
    shp.parent.mkdir()
    gpd.read_file(villages).to_file(shp, encoding="GBK")
    archive = tmp_path / "upload" / "villages.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in shp.parent.iterdir():
            zf.write(part, part.name)
    inner = prepare_upload(archive, UploadLimits())
    assert inner.name == "villages.shp" and inner.parent == archive.parent / "unpacked"
    assert len(read_source(inner).rows) == len(gpd.read_file(villages))


def test_streamed_cell_count_agrees_with_openpyxl_across_chunk_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 7-byte chunks: nearly every <c …> tag straddles two chunks.
    monkeypatch.setattr(limits, "CHUNK", 7)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r in range(1, 41):
        sheet.append([f"v{r}-{c}" for c in range(1, 8)])
    sheet.merge_cells("A41:C50")  # 30 cells under one range
    path = tmp_path / "count.xlsx"
    book.save(path)
    exact = UploadLimits(max_merged_cells=30, max_rows=50)
    limits.check_xlsx(path, exact, path.name)
    with pytest.raises(FileTooLarge, match="合并单元格"):
        limits.check_xlsx(path, exact.model_copy(update={"max_merged_cells": 29}), path.name)
    with pytest.raises(FileTooLarge, match="行数"):
        limits.check_xlsx(path, exact.model_copy(update={"max_rows": 39}), path.name)


def test_written_cells_are_counted_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "CHUNK", 5)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    values = np.arange(37 * 6).reshape(37, 6)
    for row in values.tolist():
        sheet.append(row)
    path = tmp_path / "cells.xlsx"
    book.save(path)
    written = values.size  # every appended value is one <c> element
    limits.check_xlsx(path, UploadLimits(max_cells=written), path.name)
    with pytest.raises(FileTooLarge, match=f"{written - 1:,}"):
        limits.check_xlsx(path, UploadLimits(max_cells=written - 1), path.name)


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson"])
def test_vertex_bound_brackets_the_true_count(tmp_path: Path, suffix: str) -> None:
    angles = np.linspace(0, 2 * np.pi, 3000, endpoint=False)
    ring = np.column_stack([114 + 0.01 * np.cos(angles), 34 + 0.01 * np.sin(angles)])
    polygon = shapely.Polygon(ring)
    true_count = shapely.get_num_coordinates(polygon)  # 3001: the ring closes
    frame = gpd.GeoDataFrame({"name": ["村"]}, geometry=[polygon], crs=4490)
    path = tmp_path / f"ring{suffix}"
    frame.to_file(path)
    fmt = {".gpkg": "gpkg", ".shp": "shp", ".geojson": "geojson"}[suffix]
    # Estimates may overcount by a few percent, never undercount.
    limits.check_file(path, fmt, UploadLimits(max_vertices=int(true_count * 1.05)))
    with pytest.raises(FileTooLarge, match="坐标点数"):
        limits.check_file(path, fmt, UploadLimits(max_vertices=true_count - 1))


def test_brackets_inside_strings_do_not_hide_depth(tmp_path: Path) -> None:
    name, deep = deeply_nested_json(100)
    # A property value full of closing brackets must not cancel the real nesting.
    disguised = b'{"properties":{"x":"' + b"]" * 1000 + b'"},"g":' + deep + b"}"
    path = tmp_path / name
    path.write_bytes(disguised)
    with pytest.raises(FileTooLarge, match="嵌套"):
        limits.check_geojson(path, UploadLimits(), name)
    harmless = tmp_path / "ok.geojson"
    harmless.write_bytes(b'{"properties":{"x":"' + b"[" * 1000 + b'"}}')
    limits.check_geojson(harmless, UploadLimits(), harmless.name)


def test_zip_total_size_is_bounded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=3 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", noise)  # incompressible: only the total can refuse it
    limits.check_archive(path, UploadLimits(max_decompressed_bytes=4 << 20), path.name)
    with pytest.raises(FileTooLarge, match="解压后"):
        limits.check_archive(path, UploadLimits(max_decompressed_bytes=2 << 20), path.name)


def test_cli_unpacking_is_bounded_too(tmp_path: Path) -> None:
    path = _write(tmp_path, BOMBS["zip with many members"]())
    with pytest.raises(FileTooLarge):
        read_source(path)


def test_shared_strings_are_bounded_by_their_unpacked_size(tmp_path: Path) -> None:
    path = write_ledger_xlsx(tmp_path / "台账.xlsx", [unit_row(i) for i in range(1, 51)])
    strings = "".join(f"<si><t>单位{i}</t></si>" for i in range(500))
    part = f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{strings}</sst>'
    with zipfile.ZipFile(path, "a") as archive:  # Excel's layout; openpyxl writes inline
        archive.writestr("xl/sharedStrings.xml", part)
        size = archive.getinfo("xl/sharedStrings.xml").file_size
    limits.check_xlsx(path, UploadLimits(max_shared_strings_bytes=size), path.name)
    with pytest.raises(FileTooLarge, match="共享字符串"):
        limits.check_xlsx(path, UploadLimits(max_shared_strings_bytes=size - 1), path.name)


def test_kml_dtd_is_refused_and_vertices_counted(tmp_path: Path) -> None:
    coords = " ".join(f"114.{i:04d},34.05,0" for i in range(300))
    body = f"<Placemark><LineString><coordinates>{coords}</coordinates></LineString></Placemark>"
    kml = f'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2">{body}</kml>'
    path = tmp_path / "roads.kml"
    path.write_text(kml)
    limits.check_kml(path, UploadLimits(max_vertices=300), path.name)
    with pytest.raises(FileTooLarge, match="坐标点数"):
        limits.check_kml(path, UploadLimits(max_vertices=299), path.name)
    path.write_text(kml.replace("?>", '?><!DOCTYPE kml [<!ENTITY a "x">]>', 1))
    with pytest.raises(InvalidInput, match="DTD"):
        limits.check_kml(path, UploadLimits(), path.name)


def test_limits_are_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from gis.settings import Settings

    monkeypatch.setenv("GRIDSAFE_UPLOAD__MAX_ROWS", "1234")
    settings = Settings()
    assert settings.upload.max_rows == 1234
    assert settings.upload.max_vertices == UploadLimits().max_vertices


def test_geopackage_layer_count_is_bounded_before_counting_them(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "layers.gpkg"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT)")
        # Layers that do not even exist: refused by their number, no query runs on them.
        db.executemany(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom')",
            [(f"t{i}",) for i in range(limits.MAX_GPKG_LAYERS + 1)],
        )
    db.close()
    with pytest.raises(FileTooLarge, match="图层"):
        limits.check_gpkg(path, UploadLimits(), path.name)


def _full_workbook(path: Path, rows: int = 30, columns: int = 8) -> tuple[Path, int]:
    """A workbook with a value in every cell of its rows × columns (extent = cell count)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r in range(rows):
        sheet.append([f"v{r}-{c}" for c in range(columns)])
    book.save(path)
    return path, rows * columns


def test_prefixed_cell_tags_are_counted_too(tmp_path: Path) -> None:
    # Valid SpreadsheetML may bind the main namespace to a prefix: <x:c …> counts as a cell.
    path, cells = _full_workbook(tmp_path / "plain.xlsx")
    prefixed = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(prefixed, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<c ", b"<x:c ").replace(b"</c>", b"</x:c>")
                data = data.replace(b"<worksheet ", b'<worksheet xmlns:x="urn:x" ')
            target.writestr(item, data)
    for workbook in (path, prefixed):
        limits.check_xlsx(workbook, UploadLimits(max_cells=cells), workbook.name)
        with pytest.raises(FileTooLarge, match="单元格数"):
            limits.check_xlsx(workbook, UploadLimits(max_cells=cells - 1), workbook.name)


@pytest.mark.parametrize(
    "edit",
    [
        # One cell far away: openpyxl walks every position up to it.
        lambda xml: xml.replace(
            b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>'
        ),
        # A merged range of one cell, far away: the fill reaches it the same way.
        lambda xml: xml.replace(
            b"</sheetData>", b'</sheetData><mergeCells><mergeCell ref="XFD1048576"/></mergeCells>'
        ),
    ],
    ids=["far cell", "far merged range"],
)
def test_a_far_cell_is_refused_by_the_sheet_extent(
    tmp_path: Path, edit: Callable[[bytes], bytes]
) -> None:
    path, _ = _full_workbook(tmp_path / "far.xlsx")
    far = tmp_path / "far-edited.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(far, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension[^>]*/>", b"", edit(data))
            target.writestr(item, data)
    with pytest.raises(FileTooLarge, match="工作表范围"):
        limits.check_xlsx(far, UploadLimits(), far.name)

"""Readers: header detection under title rows, encodings, merged cells, CRS handling."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import pytest
import shapely

from gis.crs import METRIC_SRID, METRIC_ZONED_SRID, STORAGE_SRID, transformer
from gis.errors import ImportRejected, InvalidInput
from gis.gcj02 import wgs_to_gcj
from gis.io.ledger import UNIT_LEDGER
from gis.io.readers import decode_lines, read_source
from tests.gis.io.factories import UNIT_HEADERS, unit_row, write_csv, write_ledger_xlsx

KEYS = UNIT_LEDGER.header_keys


def test_excel_header_found_under_title_rows_with_excel_row_numbers(tmp_path):
    path = write_ledger_xlsx(tmp_path / "l.xlsx", [unit_row(1), unit_row(2)])
    table = read_source(path, header_keys=KEYS)
    assert [r.number for r in table.rows] == [4, 5]  # title, filler, header, then data
    assert table.rows[0].values["单位名称"] == "测试商贸有限公司1号店"
    assert table.rows[0].geometry.equals(shapely.Point(114.0, 34.05))
    assert "建筑面积(m2)" in table.headers  # NFKC folds ² so either spelling matches


def test_excel_merged_village_cells_are_filled_down(tmp_path):
    path = write_ledger_xlsx(
        tmp_path / "l.xlsx", [unit_row(i, **{"所属村(社区)": None}) for i in range(1, 4)]
    )
    book = openpyxl.load_workbook(path)
    sheet = book.active
    col = 4  # 所属村(社区)
    sheet.cell(4, col).value = "五女店村"
    sheet.merge_cells(start_row=4, start_column=col, end_row=6, end_column=col)
    book.save(path)
    table = read_source(path, header_keys=KEYS)
    assert [r.values["所属村(社区)"] for r in table.rows] == ["五女店村"] * 3


def test_full_width_header_variants_match(tmp_path):
    headers = [
        "序号",
        "单位名称 ",
        "统一社会信用代码",
        "所属村（社区）",
        "经度",
        "纬度",
        "*行业代码",
    ]
    path = write_ledger_xlsx(tmp_path / "l.xlsx", [], headers=headers)
    table = read_source(path, header_keys=KEYS)
    assert UNIT_LEDGER.resolve(table.headers)["village"] == "所属村(社区)"
    assert "industry_code" in UNIT_LEDGER.resolve(table.headers)


def test_missing_header_row_is_a_problem(tmp_path):
    path = write_ledger_xlsx(tmp_path / "l.xlsx", [], headers=["甲", "乙"])
    with pytest.raises(ImportRejected) as err:
        read_source(path, header_keys=KEYS)
    assert "未找到表头" in err.value.problems[0].reason


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    # "²" has no GBK code: GBK ledgers write 建筑面积(平方米) or (㎡).
    headers = [h.replace("m²", "㎡") for h in UNIT_HEADERS]
    rows = [unit_row(1), unit_row(2, 单位名称="许昌县五女店镇饭店")]
    for row in rows:
        row["建筑面积(㎡)"] = row.pop("建筑面积(m²)")
    path = write_csv(tmp_path / "l.csv", rows, encoding=encoding, headers=headers)
    table = read_source(path, header_keys=KEYS)
    assert table.problems == []
    assert [r.number for r in table.rows] == [2, 3]
    assert table.rows[1].values["单位名称"] == "许昌县五女店镇饭店"
    assert UNIT_LEDGER.resolve(table.headers)["floor_area_m2"] == "建筑面积(m2)"


def test_csv_undecodable_line_is_reported_with_its_line_number(tmp_path):
    path = write_csv(tmp_path / "l.csv", [unit_row(1), unit_row(2), unit_row(3)])
    lines = path.read_bytes().split(b"\r\n")
    lines[2] = lines[2].replace("测试".encode(), b"\xff\xfe")  # line 3: neither UTF-8 nor GBK
    path.write_bytes(b"\r\n".join(lines))
    table = read_source(path, header_keys=KEYS)
    assert [(p.row, p.field) for p in table.problems] == [(3, "(整行)")]
    assert "文字无法识别" in table.problems[0].reason


def test_decode_prefers_utf8_but_recognises_gbk():
    text = "单位名称,地址\n五女店镇,许昌\n"
    assert decode_lines(text.encode("utf-8"))[1] == "utf-8"
    assert decode_lines(text.encode("gbk"))[1] == "gbk"


def _points_frame(crs: int, xs, ys) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["甲厂", "乙厂"]}, geometry=gpd.points_from_xy(xs, ys), crs=crs
    )


def test_shapefile_without_cpg_gbk_and_utf8(tmp_path):
    frame = _points_frame(STORAGE_SRID, [114.0, 114.01], [34.05, 34.06])
    for encoding in ("GBK", "UTF-8"):
        path = tmp_path / f"{encoding}.shp"
        pyogrio.write_dataframe(frame, path, encoding=encoding)
        path.with_suffix(".cpg").unlink()
        table = read_source(path)
        assert [r.values["name"] for r in table.rows] == ["甲厂", "乙厂"], encoding


def test_zip_of_a_shapefile_set(tmp_path):
    frame = _points_frame(STORAGE_SRID, [114.0, 114.01], [34.05, 34.06])
    pyogrio.write_dataframe(frame, tmp_path / "u.shp", encoding="GBK")
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            zf.write(tmp_path / f"u.{ext}", f"数据/u.{ext}")
    table = read_source(archive)
    assert table.fmt == "zip" and len(table.rows) == 2
    assert table.rows[0].values["name"] == "甲厂"


@pytest.mark.parametrize("srid", [METRIC_SRID, METRIC_ZONED_SRID])
def test_projected_coordinates_detected_by_magnitude(tmp_path, srid):
    lon, lat = np.array([114.0012345, 113.98]), np.array([34.0512345, 34.03])
    x, y = transformer(STORAGE_SRID, srid).transform(lon, lat)
    rows = [unit_row(i + 1, 经度=float(x[i]), 纬度=float(y[i])) for i in range(2)]
    path = write_csv(tmp_path / "p.csv", rows)
    for coords in ("wgs84", srid):  # by magnitude, and when told explicitly
        table = read_source(path, header_keys=KEYS, coords=coords)
        got = np.array([[r.geometry.x, r.geometry.y] for r in table.rows])
        np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-9)
        assert table.input_crs == srid


def test_projected_shapefile_without_prj_detected(tmp_path):
    lon, lat = np.array([114.0012345, 113.98]), np.array([34.0512345, 34.03])
    x, y = transformer(STORAGE_SRID, METRIC_ZONED_SRID).transform(lon, lat)
    path = tmp_path / "p.shp"
    pyogrio.write_dataframe(_points_frame(METRIC_ZONED_SRID, x, y), path, encoding="UTF-8")
    path.with_suffix(".prj").unlink()
    table = read_source(path)
    got = np.array([[r.geometry.x, r.geometry.y] for r in table.rows])
    np.testing.assert_allclose(got, np.column_stack([lon, lat]), atol=1e-9)


def test_gcj02_input_is_shifted_back(tmp_path):
    glon, glat = wgs_to_gcj(114.0, 34.05)
    path = write_csv(tmp_path / "g.csv", [unit_row(1, 经度=glon, 纬度=glat)])
    table = read_source(path, header_keys=KEYS, coords="gcj02")
    assert table.rows[0].geometry.x == pytest.approx(114.0, abs=1e-9)
    assert table.rows[0].geometry.y == pytest.approx(34.05, abs=1e-9)


def test_unsupported_inputs_are_refused_in_chinese(tmp_path):
    (tmp_path / "a.doc").write_text("x")
    with pytest.raises(InvalidInput, match="不支持的文件类型"):
        read_source(tmp_path / "a.doc")
    path = write_csv(tmp_path / "l.csv", [unit_row(1)])
    with pytest.raises(InvalidInput, match="不支持的坐标系"):
        read_source(path, header_keys=KEYS, coords="3857")

"""Exporters: every format read back by the readers; GBK shapefile bytes, .cpg and .prj."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import openpyxl
import pytest
import shapely
from pyproj import CRS

from gis.crs import METRIC_SRID, METRIC_ZONED_SRID, STORAGE_SRID, transformer
from gis.errors import InvalidInput
from gis.io.exporters import EXPORT_FORMATS, export_frame
from gis.io.ledger import UNIT_LEDGER, VILLAGE_LEDGER, parse_cell
from gis.io.readers import normalise_header, read_source
from tests.gis.io.factories import unit_frame

SUFFIX = {"shp": "zip"}
ATTRIBUTES = [
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


def read_back(tmp_path, data: bytes, fmt: str, ledger=UNIT_LEDGER):
    path = tmp_path / f"export.{SUFFIX.get(fmt, fmt)}"
    path.write_bytes(data)
    table = read_source(path, header_keys=ledger.header_keys)
    mapping = ledger.resolve(table.headers)
    rows = []
    for row in table.rows:
        values = {}
        for column in ledger.columns:
            if column.field in mapping:
                raw = row.values[normalise_header(mapping[column.field])]
                value = parse_cell(raw, column)
                values[column.field] = getattr(value, "value", value)
        rows.append((values, row.geometry))
    return table, rows


@pytest.mark.parametrize("fmt", [f for f in EXPORT_FORMATS if f != "kml"])
def test_every_attribute_and_coordinate_survives(tmp_path, fmt):
    frame = unit_frame(3)
    table, rows = read_back(tmp_path, export_frame(frame, UNIT_LEDGER, fmt), fmt)
    assert len(rows) == 3
    for (values, geom), (_, expected) in zip(rows, frame.iterrows(), strict=True):
        for attr in ATTRIBUTES:
            want = expected[attr]
            want = None if want is None or (isinstance(want, float) and np.isnan(want)) else want
            assert values[attr] == want, (fmt, attr)
        assert geom.x == pytest.approx(expected.geometry.x, abs=1e-7)
        assert geom.y == pytest.approx(expected.geometry.y, abs=1e-7)


def test_gbk_shapefile_is_really_gbk(tmp_path):
    data = export_frame(unit_frame(2), UNIT_LEDGER, "shp")
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = set(archive.namelist())
    expected = {"units.shp", "units.shx", "units.dbf", "units.prj", "units.cpg", "字段说明.csv"}
    assert expected <= names
    dbf = archive.read("units.dbf")
    assert "许昌市鑫源面粉厂0".encode("gbk") in dbf
    assert "许昌市鑫源面粉厂0".encode() not in dbf
    assert archive.read("units.cpg").decode().strip() == "GBK"
    prj = CRS.from_wkt(archive.read("units.prj").decode())
    assert prj.to_epsg(min_confidence=70) == STORAGE_SRID
    assert "2000" in prj.name
    # DBF field names: ≤10 bytes each (header descriptors start at byte 32, 32 bytes each).
    header_len = int.from_bytes(dbf[8:10], "little")
    for start in range(32, header_len - 1, 32):
        name = dbf[start : start + 11].split(b"\0")[0]
        assert 0 < len(name) <= 10
    dictionary = archive.read("字段说明.csv").decode("utf-8-sig")
    assert "ind_code,行业代码" in dictionary


def test_utf8_shapefile_option(tmp_path):
    data = export_frame(unit_frame(1), UNIT_LEDGER, "shp", encoding="UTF-8")
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert "许昌市鑫源面粉厂0".encode() in archive.read("units.dbf")
    assert archive.read("units.cpg").decode().strip().upper().replace("-", "") == "UTF8"


@pytest.mark.parametrize(("fmt", "srid"), [("shp", METRIC_SRID), ("gpkg", METRIC_ZONED_SRID)])
def test_projected_exports_match_pyproj(tmp_path, fmt, srid):
    frame = unit_frame(2)
    data = export_frame(frame, UNIT_LEDGER, fmt, crs=srid)
    path = tmp_path / f"p.{SUFFIX.get(fmt, fmt)}"
    path.write_bytes(data)
    import pyogrio

    if fmt == "shp":
        zipfile.ZipFile(path).extractall(tmp_path)
        path = tmp_path / "units.shp"
    raw = pyogrio.read_dataframe(path)
    assert raw.crs.to_epsg() == srid
    x, y = transformer(STORAGE_SRID, srid).transform(frame.geometry.x, frame.geometry.y)
    np.testing.assert_allclose(raw.geometry.x, x, atol=1e-6)
    np.testing.assert_allclose(raw.geometry.y, y, atol=1e-6)
    # And the reader brings them back to CGCS2000 degrees.
    table = read_source(path)
    back = np.array([[r.geometry.x, r.geometry.y] for r in table.rows])
    np.testing.assert_allclose(
        back, np.column_stack([frame.geometry.x, frame.geometry.y]), atol=1e-9
    )


def test_excel_layout(tmp_path):
    title = "五女店镇（示例数据）生产经营单位台账"
    data = export_frame(unit_frame(2), UNIT_LEDGER, "xlsx", title=title)
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    assert sheet["A1"].value == title
    assert sheet.freeze_panes == "A3"
    headers = [c.value for c in sheet[2]]
    assert headers[:3] == ["序号", "单位编号", "单位名称"] and "经度" in headers
    assert sheet.column_dimensions["C"].width == UNIT_LEDGER.by_field("name").width
    assert book.sheetnames[1] == "字段说明"


def test_csv_opens_in_excel(tmp_path):
    data = export_frame(unit_frame(1), UNIT_LEDGER, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0].startswith("序号,单位编号,单位名称")


def test_kml_points_and_names(tmp_path):
    frame = unit_frame(2)
    table, _ = read_back(tmp_path, export_frame(frame, UNIT_LEDGER, "kml"), "kml")
    assert [r.values["name"] for r in table.rows] == list(frame["name"])
    assert table.rows[1].geometry.equals_exact(frame.geometry.iloc[1], 1e-9)


def test_village_polygons_round_trip(tmp_path):
    import geopandas as gpd

    poly = shapely.Polygon([(114.0, 34.0), (114.01, 34.0), (114.01, 34.012345678), (114.0, 34.0)])
    frame = gpd.GeoDataFrame(
        {
            "code": ["411003101201"],
            "name": ["五女店村"],
            "kind": ["village"],
            "urban_rural_code": ["220"],
            "population": [3200],
            "households": [800],
            "groups_count": [9],
        },
        geometry=[shapely.MultiPolygon([poly])],
        crs=STORAGE_SRID,
    )
    for fmt in ("gpkg", "shp", "geojson"):
        table, rows = read_back(
            tmp_path, export_frame(frame, VILLAGE_LEDGER, fmt), fmt, VILLAGE_LEDGER
        )
        values, geom = rows[0]
        assert values["name"] == "五女店村" and values["kind"] == "village"
        assert values["population"] == 3200
        # Same shape (shapefiles may reverse ring orientation): compare normalised forms.
        got = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
        assert shapely.equals_exact(
            shapely.normalize(shapely.MultiPolygon([poly])), shapely.normalize(got), tolerance=1e-9
        ), fmt


def test_bad_options_are_refused():
    with pytest.raises(InvalidInput):
        export_frame(unit_frame(1), UNIT_LEDGER, "xlsx", crs=METRIC_SRID)
    with pytest.raises(InvalidInput):
        export_frame(unit_frame(1), UNIT_LEDGER, "pdf")  # type: ignore[arg-type]

"""Imports into the demo town: all-or-nothing rejection, lossless round trips, CRS handling."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import shapely
from sqlalchemy import Connection, func, select, text

from gis.crs import METRIC_SRID, METRIC_ZONED_SRID, STORAGE_SRID, transformer
from gis.db.models import Unit, Village
from gis.errors import ImportRejected
from gis.gcj02 import wgs_to_gcj
from gis.io.exporters import export_units, export_villages, fetch_units, fetch_villages
from gis.io.importers import import_units, import_villages
from tests.gis.io.factories import unit_row, valid_uscc, write_csv, write_ledger_xlsx

TOWN = "411003101000"


@pytest.fixture
def conn(db_conn: Connection) -> Connection:
    """The test's rolled-back connection on the demo-town database."""
    return db_conn


def units_state(conn: Connection) -> tuple[int, str]:
    """Row count and a checksum of the whole units table (every column, ordered by id)."""
    count = conn.execute(select(func.count()).select_from(Unit)).scalar_one()
    digest = conn.execute(
        text("SELECT md5(coalesce(string_agg(u::text, '|' ORDER BY u.id), '')) FROM units u")
    ).scalar_one()
    return count, digest


def inside_points(conn: Connection, n: int) -> list[tuple[str, float, float]]:
    """(village name, lon, lat) of points well inside n villages of the demo town."""
    rows = conn.execute(
        select(
            Village.name,
            func.ST_X(func.ST_PointOnSurface(Village.geom)),
            func.ST_Y(func.ST_PointOnSurface(Village.geom)),
        )
        .where(Village.town_code == TOWN)
        .order_by(Village.code)
        .limit(n)
    ).all()
    return [(name, float(x), float(y)) for name, x, y in rows]


def stored_point(conn: Connection, uscc: str) -> tuple[float, float]:
    x, y = conn.execute(
        select(func.ST_X(Unit.geom), func.ST_Y(Unit.geom)).where(
            Unit.town_code == TOWN, Unit.uscc == uscc
        )
    ).one()
    return float(x), float(y)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    to_metric = transformer(STORAGE_SRID, METRIC_SRID)
    ax, ay = to_metric.transform(*a)
    bx, by = to_metric.transform(*b)
    return float(np.hypot(ax - bx, ay - by))


# (a) ------------------------------------------------------------------------------------------


def test_broken_ledger_is_rejected_whole_and_nothing_is_written(conn, tmp_path):
    (_, lon, lat), (_, lon2, lat2) = inside_points(conn, 2)
    bad_check = valid_uscc(2)[:17] + ("0" if valid_uscc(2)[17] != "0" else "1")
    rows = [
        unit_row(1, 经度=lon, 纬度=lat),  # Excel row 4: fine
        unit_row(2, 统一社会信用代码=bad_check, 经度=lon, 纬度=lat),  # row 5: check digit
        unit_row(3, 经度=lat2, 纬度=lon2),  # row 6: swapped
        unit_row(4, 经度=114.6, 纬度=34.05),  # row 7: outside town
        unit_row(5, 统一社会信用代码=valid_uscc(1), 经度=lon2, 纬度=lat2),  # row 8: duplicate
        unit_row(6, 经度=lon2, 纬度=lat2),  # row 9: fine
    ]
    path = write_ledger_xlsx(tmp_path / "broken.xlsx", rows)
    before = units_state(conn)

    with pytest.raises(ImportRejected) as err:
        import_units(conn, path, town_code=TOWN)

    problems = err.value.problems
    assert [p.row for p in problems] == [5, 6, 7, 8]  # exactly one message per bad row
    by_row = {p.row: p for p in problems}
    assert by_row[5].field == "统一社会信用代码" and "校验位错误" in by_row[5].reason
    assert by_row[5].reason.endswith(valid_uscc(2)[17])
    assert by_row[6].field == "经度/纬度" and "填反" in by_row[6].reason
    assert by_row[7].field == "经度/纬度" and "辖区外" in by_row[7].reason
    assert by_row[8].field == "统一社会信用代码" and "与第4行重复" in by_row[8].reason
    assert str(by_row[5]).startswith("第5行 [统一社会信用代码]")
    assert units_state(conn) == before


def test_other_row_problems_are_named_in_chinese(conn, tmp_path):
    ((village, lon, lat),) = inside_points(conn, 1)
    rows = [
        unit_row(1, 经度=lon, 纬度=lat, 行业代码="Z9999"),
        unit_row(2, 经度=lon, 纬度=lat, **{"所属村(社区)": "不存在村"}),
        unit_row(3, 经度=lon, 纬度=lat, 风险等级="紫"),
        unit_row(4, 经度=lon, 纬度=lat, 单位名称="　"),
        unit_row(5, 经度=None, 纬度=None),
        unit_row(6, 经度=lon, 纬度=lat, **{"所属村(社区)": village}),
    ]
    path = write_ledger_xlsx(tmp_path / "l.xlsx", rows)
    with pytest.raises(ImportRejected) as err:
        import_units(conn, path, town_code=TOWN)
    got = {p.row: (p.field, p.reason) for p in err.value.problems}
    assert set(got) == {4, 5, 6, 7, 8}
    assert got[4][0] == "行业代码" and "三管三必须" in got[4][1]
    assert got[5][0] == "所属村(社区)"
    assert got[6][0] == "风险等级" and "红、橙、黄、蓝" in got[6][1]
    assert got[7] == ("单位名称", "必填项为空")
    assert got[8] == ("经度/纬度", "缺少坐标")


def test_undecodable_csv_line_rejects_the_import(conn, tmp_path):
    ((_, lon, lat),) = inside_points(conn, 1)
    path = write_csv(tmp_path / "l.csv", [unit_row(i, 经度=lon, 纬度=lat) for i in (1, 2)])
    lines = path.read_bytes().split(b"\r\n")
    lines[2] = lines[2].replace("测试".encode(), b"\xff\xfe")
    path.write_bytes(b"\r\n".join(lines))
    before = units_state(conn)
    with pytest.raises(ImportRejected) as err:
        import_units(conn, path, town_code=TOWN)
    assert [(p.row, p.field) for p in err.value.problems] == [(3, "(整行)")]
    assert units_state(conn) == before


# new units, derivations, (c) re-import -----------------------------------------------------


def test_new_units_get_village_department_and_code_and_reimport_changes_nothing(conn, tmp_path):
    points = inside_points(conn, 3)
    rows = [unit_row(i + 1, 经度=lon, 纬度=lat) for i, (_, lon, lat) in enumerate(points)]
    rows[2]["行业代码"] = "F5265"  # petrol station: AJB, high risk by 三管三必须
    path = write_ledger_xlsx(tmp_path / "new.xlsx", rows)
    count_before, _ = units_state(conn)

    first = import_units(conn, path, town_code=TOWN)
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert units_state(conn)[0] == count_before + 3
    stored = {
        r.uscc: r
        for r in conn.execute(
            select(
                Unit.uscc,
                Unit.code,
                Unit.village_code,
                Unit.department_code,
                Unit.high_risk,
                Village.name.label("village"),
            )
            .join(Village, Village.code == Unit.village_code)
            .where(Unit.uscc.in_([r["统一社会信用代码"] for r in rows]))
        )
    }
    for (village, _, _), row in zip(points, rows, strict=True):
        assert stored[row["统一社会信用代码"]].village == village  # point-in-polygon
    assert stored[valid_uscc(1)].department_code == "SCJG"
    assert stored[valid_uscc(3)].department_code == "AJB" and stored[valid_uscc(3)].high_risk
    assert all(s.code.startswith("QY") for s in stored.values())

    state = units_state(conn)
    again = import_units(conn, path, town_code=TOWN)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    assert units_state(conn) == state

    rows[0]["从业人员数"] = 7
    changed = import_units(conn, write_ledger_xlsx(tmp_path / "c.xlsx", rows), town_code=TOWN)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)
    assert changed.updated_keys == [valid_uscc(1)]


# (b) lossless round trips ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "xlsx"])
def test_units_round_trip_through_files(conn, tmp_path, fmt):
    before_frame = fetch_units(conn, TOWN)
    state = units_state(conn)
    path = export_units(conn, TOWN, fmt, dest=tmp_path)

    if fmt == "shp":
        with zipfile.ZipFile(path) as archive:
            dbf = archive.read("units.dbf")
            assert archive.read("units.cpg").strip() == b"GBK"
            prj = archive.read("units.prj").decode()
        name = before_frame["name"].iloc[0]
        assert name.encode("gbk") in dbf  # the DBF really is GBK
        assert "China_2000" in prj or "CGCS2000" in prj

    report = import_units(conn, path, town_code=TOWN)
    assert (report.inserted, report.updated) == (0, 0)  # (c): the re-import changes nothing
    assert report.unchanged == len(before_frame)
    assert units_state(conn) == state

    # Independent witness: the file read back field by field.
    from gis.io.ledger import UNIT_LEDGER, parse_cell
    from gis.io.readers import normalise_header, read_source

    table = read_source(path, header_keys=UNIT_LEDGER.header_keys)
    mapping = UNIT_LEDGER.resolve(table.headers)
    assert len(table.rows) == len(before_frame)
    for row, (_, want) in zip(table.rows, before_frame.iterrows(), strict=True):
        for column in UNIT_LEDGER.columns:
            if column.field in ("lon", "lat", None) or column.field not in mapping:
                continue
            value = parse_cell(row.values[normalise_header(mapping[column.field])], column)
            value = getattr(value, "value", value)
            expected = want[column.field]
            if expected is None or (isinstance(expected, float) and np.isnan(expected)):
                expected = None
            assert value == expected, (column.field, row.number)
        assert row.geometry.x == pytest.approx(want.geometry.x, abs=1e-7)
        assert row.geometry.y == pytest.approx(want.geometry.y, abs=1e-7)


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_villages_round_trip(conn, tmp_path, fmt):
    before = fetch_villages(conn, TOWN)
    path = export_villages(conn, TOWN, fmt, dest=tmp_path)
    report = import_villages(conn, path, town_code=TOWN)
    assert (report.inserted, report.updated, report.unchanged) == (0, 0, len(before))


def test_self_intersecting_village_is_rejected(conn, tmp_path):
    import geopandas as gpd

    from gis.io.exporters import export_frame
    from gis.io.ledger import VILLAGE_LEDGER

    frame = fetch_villages(conn, TOWN).head(2).copy()
    ((_, lon, lat),) = inside_points(conn, 1)
    d = 0.002
    bowtie = shapely.Polygon(
        [(lon - d, lat - d), (lon + d, lat + d), (lon + d, lat - d), (lon - d, lat + d)]
    )
    frame = gpd.GeoDataFrame(
        frame.drop(columns="geometry"), geometry=[frame.geometry.iloc[0], bowtie], crs=STORAGE_SRID
    )
    path = tmp_path / "v.gpkg"
    path.write_bytes(export_frame(frame, VILLAGE_LEDGER, "gpkg"))
    with pytest.raises(ImportRejected) as err:
        import_villages(conn, path, town_code=TOWN)
    (problem,) = err.value.problems
    assert problem.row == 2 and problem.field == "几何" and "自相交" in problem.reason


# (d) GCJ-02 and (e) Gauss-Kruger inputs ----------------------------------------------------


def test_gcj02_ledger_lands_within_half_a_metre(conn, tmp_path):
    ((_, lon, lat),) = inside_points(conn, 1)
    glon, glat = wgs_to_gcj(lon, lat)
    path = write_ledger_xlsx(tmp_path / "amap.xlsx", [unit_row(1, 经度=glon, 纬度=glat)])
    import_units(conn, path, town_code=TOWN, coords="gcj02")
    assert metres(stored_point(conn, valid_uscc(1)), (lon, lat)) < 0.5
    # Read as if it were CGCS2000, the same file would be ~570 m off.
    assert metres((glon, glat), (lon, lat)) > 500


@pytest.mark.parametrize("srid", [METRIC_SRID, METRIC_ZONED_SRID])
@pytest.mark.parametrize("coords", ["wgs84", "declared"])
def test_gauss_kruger_ledger_lands_where_pyproj_says(conn, tmp_path, srid, coords):
    ((_, lon, lat),) = inside_points(conn, 1)
    x, y = transformer(STORAGE_SRID, srid).transform(lon, lat)
    path = write_csv(tmp_path / "survey.csv", [unit_row(1, 经度=x, 纬度=y)])
    report = import_units(
        conn, path, town_code=TOWN, coords=srid if coords == "declared" else "wgs84"
    )
    assert report.inserted == 1 and report.input_crs == srid
    back_lon, back_lat = transformer(srid, STORAGE_SRID).transform(x, y)  # pyproj witness
    got = stored_point(conn, valid_uscc(1))
    assert got == pytest.approx((back_lon, back_lat), abs=1e-9)
    assert metres(got, (lon, lat)) < 0.01

"""Ledgers as offices fill them: variants, notes, DMS, every problem of a row, datum warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pytest
import shapely
from sqlalchemy import Connection, func, select, text

from gis.crs import METRIC_SRID, STORAGE_SRID, transformer
from gis.db.models import Town, Unit, Village
from gis.errors import ImportRejected
from gis.gcj02 import wgs_to_bd, wgs_to_gcj
from gis.io.importers import import_units
from tests.gis.io.factories import unit_row, valid_uscc, write_ledger_xlsx

TOWN = "411003101000"


@pytest.fixture
def conn(db_conn: Connection) -> Connection:
    return db_conn


def villages(conn: Connection) -> list[tuple[str, str, shapely.Geometry]]:
    """(code, name, polygon) of every village of the demo town, by code."""
    return [
        (code, name, shapely.from_wkb(bytes(wkb)))
        for code, name, wkb in conn.execute(
            select(Village.code, Village.name, func.ST_AsBinary(Village.geom))
            .where(Village.town_code == TOWN)
            .order_by(Village.code)
        )
    ]


def dms(value: float) -> tuple[int, int, float]:
    """Degrees, minutes and seconds (to 0.01″) of a positive angle."""
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = round((value - deg - minutes / 60) * 3600, 2)
    return deg, minutes, seconds


def test_messy_office_ledger_imports(conn, tmp_path):
    (code1, name1, poly1), (code2, name2, poly2) = villages(conn)[:2]
    p1, p2 = poly1.representative_point(), poly2.representative_point()
    d1, d2 = dms(p1.x), dms(p1.y)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["五女店镇企业安全生产台账（2024年第一季度）"])
    sheet.merge_cells("A1:K1")
    sheet.append(["填报单位（盖章）：五女店镇安委办", None, None, "单位：家"])
    sheet.append(
        [
            "序号",
            "企业名称",
            "信用代码",
            "所属村",
            "东经",
            "北纬",
            "行业类别",
            "风险级别",
            "是否高危",
            "是否消防重点单位",
            "备注",
        ]
    )
    sheet.append(
        [
            1,
            "许昌鑫源炼化有限公司",
            valid_uscc(1),
            f"{code1} {name1}",
            f"{d1[0]}°{d1[1]}′{d1[2]}″",
            f"{d2[0]}°{d2[1]}′{d2[2]}″",
            "C2511 原油加工",
            "较大风险",
            "有",
            "否",
            None,
        ]
    )
    sheet.append(
        [
            2,
            "示例镇百货店",
            valid_uscc(2),
            name2,
            f"{p2.x:.7f}".translate(str.maketrans("0123456789.", "０１２３４５６７８９．")),
            f"{p2.y:.7f}°",
            "5212-百货零售",
            "低风险",
            "N",
            "×",
            "新办",
        ]
    )
    sheet.append(["合计", "2家", None, None, None, None, None, None, None, None, None])
    sheet.append(["备注：本表坐标为 CGCS2000。"])
    sheet.merge_cells("A7:K7")
    sheet.append(["填表人：张三", None, None, "审核人：李四", None, None, "制表日期：2024年3月5日"])
    path = tmp_path / "office.xlsx"
    book.save(path)

    report = import_units(conn, path, town_code=TOWN)

    assert (report.rows, report.inserted, report.updated) == (2, 2, 0)
    stored = {
        r.uscc: r
        for r in conn.execute(
            select(
                Unit.uscc,
                Unit.village_code,
                Unit.industry_code,
                Unit.department_code,
                Unit.risk_color,
                Unit.high_risk,
                Unit.fire_key_level,
                func.ST_X(Unit.geom).label("x"),
                func.ST_Y(Unit.geom).label("y"),
            ).where(Unit.town_code == TOWN, Unit.uscc.in_([valid_uscc(1), valid_uscc(2)]))
        )
    }
    first, second = stored[valid_uscc(1)], stored[valid_uscc(2)]
    assert (first.village_code, second.village_code) == (code1, code2)
    assert (first.industry_code, second.industry_code) == ("C2511", "F5212")
    assert (first.risk_color.value, second.risk_color.value) == ("orange", "blue")
    assert (first.high_risk, second.high_risk) == (True, False)
    assert first.fire_key_level.value == second.fire_key_level.value == "none"
    # Hand-worked DMS: degrees + minutes/60 + seconds/3600.
    assert first.x == pytest.approx(d1[0] + d1[1] / 60 + d1[2] / 3600, abs=1e-9)
    assert first.y == pytest.approx(d2[0] + d2[1] / 60 + d2[2] / 3600, abs=1e-9)
    assert (second.x, second.y) == pytest.approx((round(p2.x, 7), round(p2.y, 7)), abs=1e-9)


def test_every_problem_of_a_row_is_reported_at_once(conn, tmp_path):
    (_, _, poly), *_ = villages(conn)
    p = poly.representative_point()
    bad_check = valid_uscc(2)[:17] + ("0" if valid_uscc(2)[17] != "0" else "1")
    rows = [
        unit_row(1, 经度=p.x, 纬度=p.y),
        unit_row(
            2, 经度=p.x, 纬度=p.y, 统一社会信用代码=bad_check, 行业代码="Z9999", 风险等级="紫"
        ),
    ]
    path = write_ledger_xlsx(tmp_path / "three.xlsx", rows)
    with pytest.raises(ImportRejected) as err:
        import_units(conn, path, town_code=TOWN)
    (problem,) = err.value.problems
    assert problem.row == 5
    fields = [i.field for i in problem.issues]
    assert sorted(fields) == sorted(["统一社会信用代码", "行业代码", "风险等级"])
    by_field = {i.field: i for i in problem.issues}
    assert "校验位错误" in by_field["统一社会信用代码"].reason
    assert "三管三必须" in by_field["行业代码"].reason
    assert by_field["风险等级"].value == "紫"
    text_ = str(problem)
    assert text_.startswith("第5行") and all(f in text_ for f in fields)


def test_too_long_name_is_a_row_problem_not_a_database_error(conn, tmp_path):
    (_, _, poly), *_ = villages(conn)
    p = poly.representative_point()
    long_name = "许昌" + "很长" * 100  # 202 characters; units.name is varchar(200)
    rows = [unit_row(1, 经度=p.x, 纬度=p.y, 单位名称=long_name, 详细地址="地" * 301)]
    path = write_ledger_xlsx(tmp_path / "long.xlsx", rows)
    before = conn.execute(select(func.count()).select_from(Unit)).scalar_one()
    with pytest.raises(ImportRejected) as err:
        import_units(conn, path, town_code=TOWN)
    (problem,) = err.value.problems
    by_field = {i.field: i.reason for i in problem.issues}
    assert problem.row == 4
    assert "最多 200 个字" in by_field["单位名称"] and "实际 202 个字" in by_field["单位名称"]
    assert "最多 300 个字" in by_field["详细地址"]
    assert conn.execute(select(func.count()).select_from(Unit)).scalar_one() == before


def test_a_database_refusal_names_the_row(conn, tmp_path):
    """A refusal only the database knows (a constraint added here) is a row problem too."""
    (_, _, poly), *_ = villages(conn)
    p = poly.representative_point()
    conn.execute(
        text("ALTER TABLE units ADD CONSTRAINT test_no_forbidden CHECK (name <> '禁用名')")
    )
    rows = [unit_row(1, 经度=p.x, 纬度=p.y), unit_row(2, 经度=p.x, 纬度=p.y, 单位名称="禁用名")]
    path = write_ledger_xlsx(tmp_path / "refused.xlsx", rows)
    with pytest.raises(ImportRejected) as err:
        import_units(conn, path, town_code=TOWN)
    (problem,) = err.value.problems
    assert "test_no_forbidden" in problem.field and "未导入任何数据" in problem.reason
    assert problem.row == 5
    count = conn.execute(
        select(func.count()).select_from(Unit).where(Unit.uscc == valid_uscc(1))
    ).scalar_one()
    assert count == 0  # the good row was not written either


def _interior_points(conn: Connection, per_village: int) -> list[tuple[str, float, float]]:
    """(village name, lon, lat): a grid of points inside each village whose GCJ-02 position
    still lies well inside the town (so the shifted ledger is not rejected)."""
    wkb = conn.execute(select(func.ST_AsBinary(Town.geom)).where(Town.code == TOWN)).scalar_one()
    to_m = transformer(STORAGE_SRID, METRIC_SRID)
    town_m = shapely.transform(
        shapely.from_wkb(bytes(wkb)), lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1]))
    )
    inner = town_m.buffer(-300)
    out = []
    for _, name, poly in villages(conn):
        minx, miny, maxx, maxy = poly.bounds
        xs, ys = np.meshgrid(np.linspace(minx, maxx, 9)[1:-1], np.linspace(miny, maxy, 9)[1:-1])
        pts = shapely.points(xs.ravel(), ys.ravel())
        pts = pts[shapely.contains(poly, pts)][:per_village]
        for pt in pts:
            gx, gy = wgs_to_gcj(pt.x, pt.y)
            if inner.contains(shapely.Point(*to_m.transform(float(gx), float(gy)))):
                out.append((name, float(pt.x), float(pt.y)))
    return out


def test_undeclared_gcj02_ledger_is_warned_and_wgs84_or_declared_ones_are_not(conn, tmp_path):
    points = _interior_points(conn, per_village=3)
    assert len(points) > 30
    shifted = [(n, *map(float, wgs_to_gcj(x, y))) for n, x, y in points]

    def ledger(name: str, pts: list[tuple[str, float, float]]) -> Path:
        rows = [
            unit_row(i + 1, 经度=x, 纬度=y, **{"所属村(社区)": n})
            for i, (n, x, y) in enumerate(pts)
        ]
        return write_ledger_xlsx(tmp_path / name, rows)

    # The same units from Tianditu (CGCS2000) and from AMap, declared GCJ-02: no warning.
    report = import_units(conn, ledger("tdt.xlsx", points), town_code=TOWN)
    assert report.inserted == len(points) and report.warnings == []
    report = import_units(conn, ledger("amap.xlsx", shifted), town_code=TOWN, coords="gcj02")
    assert report.inserted == 0 and report.warnings == []

    # From AMap but not declared: imported as they are (within the town), with a warning.
    report = import_units(conn, ledger("amap.xlsx", shifted), town_code=TOWN)
    assert report.updated == len(points)
    (warning,) = report.warnings
    assert "GCJ-02" in warning
    # Witness: the median shift measured with pyproj in EPSG:4547.
    to_m = transformer(STORAGE_SRID, METRIC_SRID)
    a = np.column_stack(to_m.transform([p[1] for p in points], [p[2] for p in points]))
    b = np.column_stack(to_m.transform([s[1] for s in shifted], [s[2] for s in shifted]))
    offset = float(np.median(np.hypot(*(a - b).T)))
    assert 500 < offset < 650
    stated = int(warning.split("偏移约 ")[1].split(" 米")[0])
    assert abs(stated - offset) <= 2


def test_undeclared_bd09_ledger_without_villages_is_warned_by_the_roads(conn, tmp_path):
    """No village named: the witness is the town's roads (units lie along them)."""
    wkb = conn.execute(select(func.ST_AsBinary(Town.geom)).where(Town.code == TOWN)).scalar_one()
    to_m = transformer(STORAGE_SRID, METRIC_SRID)
    town_m = shapely.transform(
        shapely.from_wkb(bytes(wkb)),
        lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])),
    )
    inner = town_m.buffer(-300)
    xy = conn.execute(
        select(func.ST_X(Unit.geom), func.ST_Y(Unit.geom))
        .where(Unit.town_code == TOWN)
        .order_by(Unit.id)
    ).all()
    rows, pairs = [], []
    for x, y in xy:
        bx, by = (float(v) for v in wgs_to_bd(x, y))
        if inner.contains(shapely.Point(*to_m.transform(bx, by))) and len(rows) < 200:
            rows.append(unit_row(len(rows) + 1, 经度=bx, 纬度=by))
            pairs.append(((x, y), (bx, by)))
    assert len(rows) == 200
    report = import_units(conn, write_ledger_xlsx(tmp_path / "baidu.xlsx", rows), town_code=TOWN)
    (warning,) = report.warnings
    assert "BD-09" in warning and "道路" in warning
    a = np.column_stack(to_m.transform(*zip(*[p for p, _ in pairs], strict=True)))
    b = np.column_stack(to_m.transform(*zip(*[q for _, q in pairs], strict=True)))
    offset = float(np.median(np.hypot(*(a - b).T)))  # pyproj witness, ~1.26 km at 114°E
    assert abs(int(warning.split("偏移约 ")[1].split(" 米")[0]) - offset) <= 2

"""Imports over HTTP at the scale and in the shape offices have: thousands of rows in one
transaction, every problem of a row in the body, database refusals as 422, and the template."""

from __future__ import annotations

import io

import numpy as np
import openpyxl
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select, text

from gis.db.access_models import AuditLog
from gis.db.models import Town, Unit
from tests.conftest import DEMO_TOWN
from tests.gis.io.factories import valid_uscc

HEADER = "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级,从业人员数\n"


def _points_in_town(conn: Connection, n: int) -> list[tuple[float, float]]:
    wkb = conn.execute(select(func.ST_AsBinary(Town.geom)).where(Town.code == DEMO_TOWN)).scalar()
    town = shapely.from_wkb(bytes(wkb))
    minx, miny, maxx, maxy = town.bounds
    xs, ys = np.meshgrid(np.linspace(minx, maxx, 120), np.linspace(miny, maxy, 120))
    pts = shapely.points(xs.ravel(), ys.ravel())
    inside = pts[shapely.contains(town, pts)]
    assert len(inside) >= n
    return [(round(p.x, 7), round(p.y, 7)) for p in inside[:n]]


def _csv(points: list[tuple[float, float]], employees: int = 3) -> bytes:
    lines = [
        f"批量测试单位{i},{valid_uscc(i)},{x},{y},F5212,蓝,{employees if i > 1 else 9}\n"
        for i, (x, y) in enumerate(points, start=1)
    ]
    return (HEADER + "".join(lines)).encode()


def test_5000_rows_import_in_one_transaction(client: TestClient, db_conn: Connection) -> None:
    """5 000 units × 19 columns = 95 000 values: past the 65 535 bound parameters a single
    INSERT can carry (the old importer answered 503 "database unavailable")."""
    points = _points_in_town(db_conn, 5000)
    before = db_conn.execute(select(func.count()).select_from(Unit)).scalar_one()
    response = client.post(
        "/api/v1/imports/units", files={"file": ("big.csv", _csv(points), "text/csv")}
    )
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert (body["rows"], body["inserted"], body["updated"], body["unchanged"]) == (
        5000,
        5000,
        0,
        0,
    )
    assert db_conn.execute(select(func.count()).select_from(Unit)).scalar_one() == before + 5000
    stored = dict(
        db_conn.execute(
            select(Unit.uscc, func.ST_AsText(Unit.geom)).where(
                Unit.uscc.in_([valid_uscc(1), valid_uscc(5000)])
            )
        ).all()
    )
    assert stored[valid_uscc(5000)] == f"POINT({points[-1][0]} {points[-1][1]})"

    again = client.post(
        "/api/v1/imports/units", files={"file": ("big.csv", _csv(points, 4), "text/csv")}
    ).json()
    # Row 1 keeps 9 employees; the 4 999 others change from 3 to 4.
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 4999, 1)
    audit = db_conn.execute(
        select(AuditLog.after).where(AuditLog.action == "import").order_by(AuditLog.id.desc())
    ).first()
    assert audit is not None and len(audit.after["updated"]) == 4999


def test_every_problem_of_a_row_is_in_the_body(client: TestClient) -> None:
    csv = (
        HEADER + "好单位,91110108551385082Q,114.0,34.05,F5212,蓝,3\n"
        "坏单位,91110108551385082A,114.0,34.05,Z9999,紫,-1\n"
    ).encode()
    response = client.post("/api/v1/imports/units", files={"file": ("l.csv", csv, "text/csv")})
    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert problem["row"] == 3
    fields = sorted(i["field"] for i in problem["issues"])
    assert fields == sorted(["统一社会信用代码", "行业代码", "风险等级", "从业人员数"])
    assert all(i["field"] in problem["field"] for i in problem["issues"])


def test_a_database_refusal_is_422_not_503(client: TestClient, db_conn: Connection) -> None:
    db_conn.execute(
        text("ALTER TABLE units ADD CONSTRAINT test_no_forbidden CHECK (name <> '禁用名')")
    )
    csv = (HEADER + "禁用名,91110108551385082Q,114.0,34.05,F5212,蓝,3\n").encode()
    response = client.post("/api/v1/imports/units", files={"file": ("l.csv", csv, "text/csv")})
    assert response.status_code == 422, response.text
    (problem,) = response.json()["problems"]
    assert problem["row"] == 2 and "test_no_forbidden" in problem["field"]


def test_template_downloads_and_reimports_filled_in(
    client: TestClient, db_conn: Connection
) -> None:
    response = client.get("/api/v1/imports/units/template")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet, notes = book.worksheets
    assert sheet.cell(1, 1).value and sheet.max_row >= 2
    headers = [c.value for c in sheet[2]]
    assert "单位名称*" in headers and "统一社会信用代码*" in headers and "经度*" in headers
    listed = {row[0].value: row for row in notes.iter_rows(min_row=2) if row[0].value}
    assert "企业名称" in listed["单位名称"][2].value and "行业类别" in listed["行业代码"][2].value
    assert "有" in listed["高危行业"][3].value and "113°59′30.5″" in listed["经度"][3].value

    (x1, y1), (x2, y2) = _points_in_town(db_conn, 2)
    sample = {
        "单位名称": ["模板测试加油站", "模板测试小超市"],
        "统一社会信用代码": [valid_uscc(1), valid_uscc(2)],
        "经度": [x1, x2],
        "纬度": [y1, y2],
        "行业代码": ["F5265 机动车燃油零售", "F5212"],
        "风险等级": ["橙", "蓝"],
        "高危行业": ["是", "否"],
    }
    for j, header in enumerate(headers, start=1):
        values = sample.get(header.rstrip("*"))
        if values:
            sheet.cell(3, j, values[0])
            sheet.cell(4, j, values[1])
    filled = io.BytesIO()
    book.save(filled)
    imported = client.post(
        "/api/v1/imports/units",
        files={"file": ("模板.xlsx", filled.getvalue(), "application/octet-stream")},
    )
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["rows"], body["inserted"], body["warnings"]) == (2, 2, [])

    villages = client.get("/api/v1/imports/villages/template")
    assert villages.status_code == 200
    headers = [c.value for c in openpyxl.load_workbook(io.BytesIO(villages.content)).active[2]]
    assert headers[:3] == ["序号", "村(社区)代码*", "名称*"]

"""Import uploads and export downloads: all or nothing, scoped, in the office formats."""

from __future__ import annotations

import io
import zipfile

import geopandas as gpd
import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from data import DEMO_DIR
from gis.access import Role
from gis.db.access_models import AuditLog
from gis.db.models import Unit
from tests.api.conftest import ClientAs


def _unit_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(Unit)).scalar_one())


def test_excel_export_is_the_whole_ledger(client: TestClient) -> None:
    response = client.get("/api/v1/exports/units", params={"format": "xlsx"})
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    names = [c.value for row in sheet.iter_rows() for c in row if c.value == "单位名称"]
    assert names == ["单位名称"]  # exactly one header row, in Chinese
    demo = gpd.read_file(DEMO_DIR / "units.geojson")
    body = "\n".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value)
    assert all(code in body for code in demo["uscc"])


def test_shapefile_export_is_a_gbk_zip(client: TestClient) -> None:
    response = client.get("/api/v1/exports/villages", params={"format": "shp"})
    assert response.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert {n.rsplit(".", 1)[-1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg"}
    cpg = next(n for n in names if n.endswith(".cpg"))
    assert zipfile.ZipFile(io.BytesIO(response.content)).read(cpg).strip() == b"GBK"


def test_grid_chief_exports_only_their_village(client_as: ClientAs) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    response = chief.get("/api/v1/exports/units", params={"format": "geojson"})
    assert response.status_code == 200
    got = gpd.read_file(io.BytesIO(response.content))
    demo = gpd.read_file(DEMO_DIR / "units.geojson")
    expected = set(demo.loc[demo["village_code"] == village, "uscc"])
    assert expected and set(got["uscc"]) == expected


def test_reimporting_an_export_changes_nothing(client: TestClient, db_conn: Connection) -> None:
    exported = client.get("/api/v1/exports/units", params={"format": "xlsx"}).content
    before = _unit_count(db_conn)
    response = client.post(
        "/api/v1/imports/units",
        files={"file": ("台账.xlsx", exported, "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["inserted"] == 0 and body["updated"] == 0
    assert body["unchanged"] == body["rows"] == before
    assert _unit_count(db_conn) == before
    entry = db_conn.execute(
        select(AuditLog.action, AuditLog.table_name, AuditLog.row_key, AuditLog.after)
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).one()
    assert entry[:3] == ("import", "units", "台账.xlsx")
    assert entry.after["unchanged"] == before


def test_broken_upload_is_rejected_whole(client: TestClient, db_conn: Connection) -> None:
    csv = (
        "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级\n"
        "好单位,91110108551385082Q,114.0,34.05,H62,蓝\n"
        "坏代码,91110108551385082A,114.0,34.05,H62,蓝\n"
        "经纬颠倒,91110000600037341L,34.05,114.0,H62,黄\n"
    ).encode()
    before = _unit_count(db_conn)
    response = client.post("/api/v1/imports/units", files={"file": ("ledger.csv", csv, "text/csv")})
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert sorted(p["row"] for p in problems) == [3, 4]
    assert _unit_count(db_conn) == before


def test_dry_run_writes_nothing(client: TestClient, db_conn: Connection) -> None:
    csv = (
        "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级\n"
        "新单位,91110108551385082Q,114.0,34.05,H62,蓝\n"
    )
    before = _unit_count(db_conn)
    response = client.post(
        "/api/v1/imports/units",
        params={"dry_run": "true"},
        files={"file": ("ledger.csv", csv.encode(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1
    assert _unit_count(db_conn) == before


def test_imports_need_a_town_admin_and_a_known_file_type(client_as: ClientAs) -> None:
    county = client_as(Role.COUNTY_OFFICE)
    files = {"file": ("ledger.csv", b"a,b\n", "text/csv")}
    assert county.post("/api/v1/imports/units", files=files).status_code == 403
    admin = client_as(Role.TOWN_ADMIN)
    response = admin.post("/api/v1/imports/units", files={"file": ("x.exe", b"MZ", "x")})
    assert response.status_code == 400

"""Import uploads and export downloads: all or nothing, scoped, in the office formats."""

from __future__ import annotations

import fcntl
import io
import os
import time
import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select

from api.dependencies import get_conn
from api.main import create_app
from data import DEMO_DIR
from gis.access import Role
from gis.db.access_models import AuditLog
from gis.db.models import Unit
from gis.io.uploads import LOCK_NAME, UNLOCKED_GRACE_S
from gis.settings import Settings
from tests.accounts import TEST_SECRET
from tests.api.conftest import ClientAs
from tests.gis.io.bombs import MALFORMED, xlsx_with_merged_range

UNUSED_URL = "postgresql+psycopg://unused@127.0.0.1/x"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def api_app(db_engine: Engine, db_conn: Connection, data_dir: Path) -> FastAPI:
    """The suite's app with its data directory (and so its uploads) in this test's tmp dir."""
    app = create_app(
        Settings(database_url=UNUSED_URL, data_dir=data_dir, secret_key=TEST_SECRET), db_engine
    )
    app.dependency_overrides[get_conn] = lambda: db_conn
    return app


def _leftovers(data_dir: Path) -> list[Path]:
    root = data_dir / "uploads"
    return sorted(root.rglob("*")) if root.exists() else []


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


NEW_UNIT_CSV = (
    "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级\n"
    "新单位,91110108551385082Q,114.0,34.05,H62,蓝\n"
).encode()


def _audit_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(AuditLog)).scalar_one())


@pytest.mark.parametrize(
    ("query", "form"),
    [({"dry_run": "true"}, {}), ({}, {"dry_run": "true"}), ({"dry_run": "1"}, {"dry_run": "TRUE"})],
    ids=["query", "form", "both"],
)
def test_dry_run_writes_nothing_however_asked(
    client: TestClient, db_conn: Connection, query: dict[str, str], form: dict[str, str]
) -> None:
    units, audits = _unit_count(db_conn), _audit_count(db_conn)
    response = client.post(
        "/api/v1/imports/units",
        params=query,
        data=form,
        files={"file": ("ledger.csv", NEW_UNIT_CSV, "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["dry_run"] is True and response.json()["inserted"] == 1
    assert (_unit_count(db_conn), _audit_count(db_conn)) == (units, audits)


@pytest.mark.parametrize(
    ("query", "form", "field"),
    [
        ({"dry_run": "true"}, {"dry_run": "false"}, "dry_run"),
        ({}, {"dry_run": "yes"}, "dry_run"),
        ({"dry_run": "maybe"}, {}, "dry_run"),
        ({"coords": "gcj02"}, {"coords": "wgs84"}, "coords"),
        ({}, {"coords": "mars"}, "coords"),
    ],
)
def test_conflicting_or_junk_import_options_are_422(
    client: TestClient, db_conn: Connection, query: dict[str, str], form: dict[str, str], field: str
) -> None:
    units = _unit_count(db_conn)
    response = client.post(
        "/api/v1/imports/units",
        params=query,
        data=form,
        files={"file": ("ledger.csv", NEW_UNIT_CSV, "text/csv")},
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert _unit_count(db_conn) == units


def _assert_no_server_paths(text: str, data_dir: Path) -> None:
    for secret in (str(data_dir), "/tmp", "req-", "gridsafe-upload", "gridsafe-import"):
        assert secret not in text


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_uploads_get_4xx_naming_the_file(
    client: TestClient, data_dir: Path, tmp_path: Path, case: str
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    name, data = MALFORMED[case](scratch)
    response = client.post("/api/v1/imports/villages", files={"file": (name, data, "x")})
    assert response.status_code in (400, 413, 422), response.text
    body = response.json()
    assert body["code"] in ("invalid_input", "file_too_large")
    assert name in body["message"]
    _assert_no_server_paths(response.text, data_dir)
    assert _leftovers(data_dir) == []


def test_rejections_name_the_users_file_not_a_server_path(
    client: TestClient, data_dir: Path
) -> None:
    bad = b"\xe5\x8d\x95\xe4\xbd\x8d\xe5\x90\x8d\xe7\xa7\xb0,x\n" + "坏代码,1\n".encode()
    response = client.post("/api/v1/imports/units", files={"file": ("台账 2024.csv", bad, "x")})
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith("台账 2024.csv: ")
    _assert_no_server_paths(response.text, data_dir)
    bomb_name, bomb = xlsx_with_merged_range("A1:XFD1048576")
    response = client.post("/api/v1/imports/units", files={"file": (bomb_name, bomb, "x")})
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert bomb_name in response.json()["message"] and "1,000,000" in response.json()["message"]
    _assert_no_server_paths(response.text, data_dir)


def test_no_upload_is_left_behind(client: TestClient, data_dir: Path) -> None:
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("ledger.csv", NEW_UNIT_CSV)
    for name, data in [("ok.csv", NEW_UNIT_CSV), ("ok.zip", zipped.getvalue())]:
        response = client.post("/api/v1/imports/units", files={"file": (name, data, "x")})
        assert response.status_code == 200, response.text
        assert _leftovers(data_dir) == []
    assert (data_dir / "uploads").is_dir()  # the area was used, and emptied


def test_stale_uploads_are_removed_at_start(db_engine: Engine, data_dir: Path) -> None:
    root = data_dir / "uploads"
    crashed = root / "req-crashed"  # its process died: the lock file is there, unheld
    crashed.mkdir(parents=True)
    (crashed / LOCK_NAME).touch()
    (crashed / "台账.xlsx").write_bytes(b"x" * 1000)
    (crashed / "unpacked").mkdir()
    old = root / "req-old"  # died before taking its lock, long ago
    old.mkdir()
    os.utime(old, (time.time() - 2 * UNLOCKED_GRACE_S,) * 2)
    stray = root / "upload.zip"
    stray.write_bytes(b"PK")
    running = root / "req-running"  # another worker's request still in progress
    running.mkdir()
    held = os.open(running / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    young = root / "req-young"  # being created right now, lock not yet taken
    young.mkdir()
    try:
        app = create_app(
            Settings(database_url=UNUSED_URL, data_dir=data_dir, secret_key=TEST_SECRET), db_engine
        )
        assert crashed.exists()  # nothing happens before the service starts
        with TestClient(app):
            pass
        assert sorted(p.name for p in root.iterdir()) == ["req-running", "req-young"]
    finally:
        os.close(held)

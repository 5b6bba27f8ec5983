"""Assignment endpoints: dry run and write, teams, a unit's responsible people, roster downloads."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Connection, select

from api.dependencies import get_scope
from gis.access import Role, Scope
from gis.db.access_models import AuditLog

TOWN = "411003101000"


def run(client: TestClient, **body: object) -> dict:
    response = client.post("/api/v1/assignments/run", json={"town": TOWN, **body})
    assert response.status_code == 200, response.text
    return response.json()


def test_dry_run_then_write_then_teams_and_history(client: TestClient, db_conn: Connection) -> None:
    preview = run(client, as_of="2025-01-01", dry_run=True)
    assert not preview["written"] and preview["changes"]
    assert {s["role"] for s in preview["slots"]} >= {
        "grid_chief",
        "unit_inspector",
        "team_professional",
    }
    assert 0 <= preview["gap"] < 0.01
    teams = client.get("/api/v1/teams", params={"town": TOWN, "on": "2025-01-01"}).json()
    assert teams["complete"] == 0  # nothing written yet

    written = run(client, as_of="2025-01-01", dry_run=False)
    assert written["written"] and written["run_id"] is not None
    assert written["filled"] == preview["filled"]
    audited = db_conn.execute(
        select(AuditLog.row_key, AuditLog.after).where(AuditLog.action == "assign")
    ).all()
    assert [(key, after["filled"]) for key, after in audited] == [
        (str(written["run_id"]), written["filled"])
    ]
    teams = client.get("/api/v1/teams", params={"town": TOWN, "on": "2025-01-01"}).json()
    assert teams["total"] > 0 and teams["complete"] > 0
    team = next(t for t in teams["teams"] if t["complete"])
    assert len(team["members"]) == 5 and len({m["staff_id"] for m in team["members"]}) == 5

    who = client.get(
        f"/api/v1/units/{team['unit_id']}/responsible", params={"on": "2025-01-01"}
    ).json()
    roles = {p["role"] for p in who["people"]}
    assert {"team_regulator", "grid_chief"} <= roles
    before = client.get(
        f"/api/v1/units/{team['unit_id']}/responsible", params={"on": "2024-12-31"}
    ).json()
    assert before["people"] == []


def test_roster_downloads_are_printable_workbooks(client: TestClient) -> None:
    run(client, as_of="2025-01-01", dry_run=False)
    for kind, title in (("team", "五包一"), ("grid", "网格")):
        response = client.get(f"/api/v1/rosters/{kind}", params={"town": TOWN, "on": "2025-01-01"})
        assert response.status_code == 200
        ws = load_workbook(io.BytesIO(response.content)).active
        assert title in ws["A1"].value and ws["A3"].value == "序号"
        assert ws.page_setup.orientation == "landscape"
        assert ws.max_row > 4


def test_unknown_unit_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/units/999999999/responsible").status_code == 404


def test_scopes_are_respected(client: TestClient) -> None:
    app = client.app
    app.dependency_overrides[get_scope] = lambda: Scope(role=Role.TOWN_ADMIN, read_only=True)  # type: ignore[attr-defined]
    try:
        refused = client.post(
            "/api/v1/assignments/run", json={"town": TOWN, "as_of": "2025-01-01", "dry_run": False}
        )
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert run(client, as_of="2025-01-01", dry_run=True)["written"] is False
        app.dependency_overrides[get_scope] = lambda: Scope(  # type: ignore[attr-defined]
            role=Role.DEPARTMENT, department_codes=frozenset({"SCJG"})
        )
        assert client.post("/api/v1/assignments/run", json={"town": TOWN}).status_code == 403
        teams = client.get("/api/v1/teams", params={"town": TOWN}).json()["teams"]
        assert teams and all(t["unit_id"] for t in teams)
        app.dependency_overrides[get_scope] = lambda: Scope(role=Role.PUBLIC)  # type: ignore[attr-defined]
        assert client.get("/api/v1/teams", params={"town": TOWN}).status_code == 403
        assert client.get("/api/v1/rosters/grid", params={"town": TOWN}).status_code == 403
    finally:
        app.dependency_overrides.pop(get_scope, None)  # type: ignore[attr-defined]

"""The hazard API: report, verbs with If-Match / version, refusals with the current state."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from gis.access import Role
from gis.db.models import Unit
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN

WEEK = (dt.date.today() + dt.timedelta(days=7)).isoformat()


def _unit(conn: Connection, village: str) -> int:
    return int(
        conn.execute(
            select(Unit.id)
            .where(Unit.town_code == DEMO_TOWN, Unit.village_code == village)
            .order_by(Unit.id)
            .limit(1)
        ).scalar_one()
    )


def test_closed_loop_over_http(
    client: TestClient, client_as: ClientAs, db_conn: Connection
) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    unit_id = _unit(db_conn, village)
    created = chief.post(
        "/api/v1/hazards",
        json={
            "unit_id": unit_id,
            "category": "fire",
            "fatal_factor": "e_bike",
            "description": "电动自行车在楼道内充电",
            "source": "grid_patrol",
        },
    )
    assert created.status_code == 201, created.text
    hazard = created.json()
    hid = hazard["id"]
    assert (hazard["status"], hazard["version"], created.headers["ETag"]) == ("reported", 1, '"1"')
    assert hazard["actions"] == ["fix-on-spot"]  # a grid chief may not confirm

    # A grid chief may not confirm at all: the route's rule says so before anything is read.
    assert chief.post(f"/api/v1/hazards/{hid}/confirm", json={"version": 1}).status_code == 403
    # No version at all: 428 with a hint; a stale If-Match: 412; a stale body version: 409.
    assert client.post(f"/api/v1/hazards/{hid}/confirm").status_code == 428
    stale = client.post(f"/api/v1/hazards/{hid}/confirm", headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    assert stale.json()["current"]["version"] == 1
    assert client.post(f"/api/v1/hazards/{hid}/confirm", json={"version": 0}).status_code == 409

    confirmed = client.post(f"/api/v1/hazards/{hid}/confirm", headers={"If-Match": '"1"'})
    assert confirmed.status_code == 200 and confirmed.headers["ETag"] == '"2"'
    refused = client.post(f"/api/v1/hazards/{hid}/submit", json={"version": 2})
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == "transition_refused"
    assert body["current"]["status"] == "confirmed" and body["current"]["version"] == 2
    no_deadline = client.post(f"/api/v1/hazards/{hid}/rectify", json={"version": 2})
    assert no_deadline.status_code == 400 and "deadline" in no_deadline.json()["message"]
    steps = [
        (client, "rectify", {"deadline": WEEK}),
        (chief, "submit", {}),
        (client, "review", {}),
        (client, "sign-off", {"note": "复查合格，予以销号"}),
    ]
    version = 2
    for who, verb, extra in steps:
        moved = who.post(f"/api/v1/hazards/{hid}/{verb}", json={"version": version, **extra})
        assert moved.status_code == 200, (verb, moved.text)
        version += 1
    final = client.get(f"/api/v1/hazards/{hid}").json()
    assert (final["status"], final["version"], final["deadline"]) == ("closed", 6, WEEK)
    assert final["closed_on"] == dt.date.today().isoformat() and final["actions"] == []

    history = client.get(f"/api/v1/hazards/{hid}/history").json()
    assert [h["verb"] for h in history] == [
        "report",
        "confirm",
        "rectify",
        "submit",
        "review",
        "sign-off",
    ]
    assert all(a["hash"] == b["prev_hash"] for a, b in zip(history, history[1:], strict=False))
    assert history[0]["actor"] == chief.account["username"]  # type: ignore[attr-defined]
    # Account names are for the town office: the chief sees roles, not names.
    seen_by_chief = chief.get(f"/api/v1/hazards/{hid}/history").json()
    assert {h["actor"] for h in seen_by_chief} == {None}
    assert seen_by_chief[0]["actor_role"] == "grid_chief"

    # The GeoJSON layer still lists hazards, this one included.
    layer = client.get("/api/v1/hazards", params={"status": "closed", "limit": 5000}).json()
    feature = next(f for f in layer["features"] if f["id"] == hid)
    assert feature["properties"]["version"] == 6  # what a map client sends back as If-Match


def test_report_checks_its_input(client: TestClient, db_conn: Connection) -> None:
    major = client.post(
        "/api/v1/hazards",
        json={
            "category": "dust",
            "level": "major",
            "description": "粉尘涉爆",
            "lon": 114.0,
            "lat": 34.05,
        },
    )
    assert major.status_code == 400
    assert "major_basis" in major.json()["message"]
    outside = client.post(
        "/api/v1/hazards",
        json={"category": "fire", "description": "杂物堵塞通道", "lon": 100.0, "lat": 30.0},
    )
    assert outside.status_code == 400 and "town" in outside.json()["message"]
    assert client.get("/api/v1/hazards/999999999").status_code == 404

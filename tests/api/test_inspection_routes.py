"""POST /api/v1/routes, GET /api/v1/routes/{id}(.gpx): plans, scope and clear refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Connection, insert, text

from gis.access import Role
from gis.db.models import Responsibility
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN

XSD = Path(__file__).resolve().parents[1] / "gpx-1.1.xsd"


def _staff(conn: Connection, department: str, k: int = 1) -> list[int]:
    rows = conn.execute(
        text(
            "SELECT id FROM staff WHERE town_code = :t AND department_code = :d AND active"
            " AND geom IS NOT NULL ORDER BY id LIMIT :k"
        ),
        {"t": DEMO_TOWN, "d": department, "k": k},
    ).scalars()
    return [int(r) for r in rows]


def _units(conn: Connection, department: str, n: int) -> list[int]:
    rows = conn.execute(
        text(
            "SELECT id FROM units WHERE town_code = :t AND department_code = :d"
            " ORDER BY md5(id::text) LIMIT :n"
        ),
        {"t": DEMO_TOWN, "d": department, "n": n},
    ).scalars()
    return [int(r) for r in rows]


def test_plan_read_back_and_gpx(client: TestClient, db_conn: Connection) -> None:
    staff = _staff(db_conn, "SCJG", 2)
    units = _units(db_conn, "SCJG", 10)
    body = {
        "day": "2024-06-03",
        "staff_ids": staff,
        "units": units,
        "windows": [{"unit_id": units[0], "open": "14:00", "close": "15:30"}],
        "time_limit_s": 0.3,
    }
    made = client.post("/api/v1/routes", json=body)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["stop_count"] == 10
    placed = [s["unit_id"] for r in plan["plan"]["routes"] for s in r["stops"]]
    assert sorted(placed + [u["unit_id"] for u in plan["plan"]["unplanned"]]) == sorted(units)
    got = client.get(f"/api/v1/routes/{plan['id']}")
    assert got.status_code == 200 and got.json() == plan
    gpx = client.get(f"/api/v1/routes/{plan['id']}.gpx")
    assert gpx.status_code == 200
    assert gpx.headers["content-type"].startswith("application/gpx+xml")
    etree.XMLSchema(etree.parse(str(XSD))).assertValid(etree.fromstring(gpx.content))


def test_department_may_not_route_another_departments_staff_or_units(
    client_as: ClientAs, db_conn: Connection
) -> None:
    dept = client_as(Role.DEPARTMENT, department_code="SCJG")
    other = _staff(db_conn, "XF")
    body = {"day": "2024-06-03", "staff_ids": other, "units": _units(db_conn, "SCJG", 2)}
    refused = dept.post("/api/v1/routes", json=body)
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found" and "检查人员" in refused.json()["message"]
    body = {
        "day": "2024-06-03",
        "staff_ids": _staff(db_conn, "SCJG"),
        "units": _units(db_conn, "AJB", 2),
    }
    refused = dept.post("/api/v1/routes", json=body)
    assert refused.status_code == 404 and "单位" in refused.json()["message"]


def test_an_inspector_sees_only_routes_naming_it(
    client: TestClient, client_as: ClientAs, db_conn: Connection
) -> None:
    staff = _staff(db_conn, "SCJG", 2)
    made = client.post(
        "/api/v1/routes",
        json={
            "day": "2024-06-03",
            "staff_ids": [staff[1]],
            "units": _units(db_conn, "SCJG", 3),
            "time_limit_s": 0.1,
        },
    ).json()
    me = client_as(Role.INSPECTOR, staff_id=staff[0])
    assert me.get(f"/api/v1/routes/{made['id']}").status_code == 404
    assert me.get(f"/api/v1/routes/{made['id']}.gpx").status_code == 404
    them = client_as(Role.INSPECTOR, staff_id=staff[1])
    assert them.get(f"/api/v1/routes/{made['id']}").status_code == 200
    # Nor may it plan for someone else.
    refused = me.post(
        "/api/v1/routes", json={"day": "2024-06-03", "staff_ids": [staff[1]], "units": "due"}
    )
    assert refused.status_code == 404


def test_due_stops_are_the_inspectors_overdue_units(
    client: TestClient, db_conn: Connection
) -> None:
    (staff,) = _staff(db_conn, "SCJG")
    units = [
        int(u)
        for u in db_conn.execute(
            text(
                "SELECT id FROM units WHERE town_code = :t AND department_code = 'SCJG'"
                " AND status = 'operating' ORDER BY id LIMIT 6"
            ),
            {"t": DEMO_TOWN},
        ).scalars()
    ]
    for unit in units:
        db_conn.execute(
            insert(Responsibility).values(
                town_code=DEMO_TOWN,
                staff_id=staff,
                role="unit_inspector",
                unit_id=unit,
                valid_from=dt.date(2024, 1, 1),
            )
        )
    # One of them inspected the day before: not due.
    db_conn.execute(
        text(
            "INSERT INTO inspections (town_code, code, unit_id, inspected_on, kind,"
            " inspector_codes, hazard_count) VALUES (:t, 'XJTEST0001', :u, :d, 'department',"
            " '[]', 0)"
        ),
        {"t": DEMO_TOWN, "u": units[0], "d": dt.date(2025, 6, 2)},
    )
    made = client.post(
        "/api/v1/routes",
        json={"day": "2025-06-03", "staff_ids": [staff], "units": "due", "time_limit_s": 0.2},
    )
    assert made.status_code == 201, made.text
    plan = made.json()["plan"]
    stops = {s["unit_id"] for r in plan["routes"] for s in r["stops"]}
    stops |= {u["unit_id"] for u in plan["unplanned"]}
    # The other five are operating and last inspected in 2024 (the demo year): all overdue.
    assert units[0] not in stops
    assert stops <= set(units[1:]) and len(stops) == 5


def test_bad_input_is_a_clear_4xx(client: TestClient, db_conn: Connection) -> None:
    staff = _staff(db_conn, "SCJG")
    units = _units(db_conn, "SCJG", 2)
    unknown = client.post(
        "/api/v1/routes", json={"day": "2024-06-03", "staff_ids": [987654], "units": units}
    )
    assert unknown.status_code == 404 and "987654" in unknown.json()["message"]
    short = client.post(
        "/api/v1/routes",
        json={
            "day": "2024-06-03",
            "staff_ids": staff,
            "units": units,
            "start": "09:00",
            "end": "09:15",
            "lunch_start": None,
            "lunch_end": None,
        },
    )
    assert short.status_code == 400 and "too short" in short.json()["message"]
    lunch = client.post(
        "/api/v1/routes",
        json={
            "day": "2024-06-03",
            "staff_ids": staff,
            "units": units,
            "lunch_start": "18:00",
            "lunch_end": "19:00",
        },
    )
    assert lunch.status_code == 400 and "午休" in lunch.json()["message"]
    db_conn.execute(
        text("UPDATE units SET geom = ST_SetSRID(ST_MakePoint(116.0, 30.0), 4490) WHERE id = :u"),
        {"u": units[0]},
    )
    outside = client.post(
        "/api/v1/routes", json={"day": "2024-06-03", "staff_ids": staff, "units": units}
    )
    assert outside.status_code == 400 and "outside the town" in outside.json()["message"]
    window = client.post(
        "/api/v1/routes",
        json={
            "day": "2024-06-03",
            "staff_ids": staff,
            "units": units[1:],
            "windows": [{"unit_id": units[1], "open": "15:00", "close": "14:00"}],
        },
    )
    assert window.status_code == 422


def test_matching_departments_sends_fire_key_units_to_fire_officers(
    client: TestClient, db_conn: Connection
) -> None:
    fire_units = [
        int(u)
        for u in db_conn.execute(
            text(
                "SELECT id FROM units WHERE town_code = :t AND fire_key_level <> 'none'"
                " AND department_code = 'SCJG' ORDER BY id LIMIT 3"
            ),
            {"t": DEMO_TOWN},
        ).scalars()
    ]
    market = _units(db_conn, "SCJG", 4)
    fire, scjg = _staff(db_conn, "XF"), _staff(db_conn, "SCJG")
    made = client.post(
        "/api/v1/routes",
        json={
            "day": "2024-06-03",
            "staff_ids": fire + scjg,
            "units": fire_units + market,
            "match_department": True,
            "time_limit_s": 0.3,
        },
    )
    assert made.status_code == 201, made.text
    routes = {
        r["staff_id"]: {s["unit_id"] for s in r["stops"]} for r in made.json()["plan"]["routes"]
    }
    assert set(fire_units) <= routes[fire[0]]
    assert not set(fire_units) & routes[scjg[0]]


def test_stop_limit_per_inspector_is_kept_and_the_rest_explained(
    client: TestClient, db_conn: Connection
) -> None:
    staff = _staff(db_conn, "SCJG", 2)
    units = _units(db_conn, "SCJG", 9)
    made = client.post(
        "/api/v1/routes",
        json={
            "day": "2024-06-03",
            "staff_ids": staff,
            "units": units,
            "max_stops": 4,
            "time_limit_s": 0.3,
        },
    )
    assert made.status_code == 201, made.text
    plan = made.json()["plan"]
    assert all(len(r["stops"]) <= 4 for r in plan["routes"])
    assert [u["code"] for u in plan["unplanned"]] == ["capacity"]

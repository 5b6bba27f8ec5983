"""GET /api/v1/inspections/due on the demo town: the list matches an SQL witness, closed and
suspended units are on it under their stricter rule, the clause and people reach the caller."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from gis.access import Role
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN

#: The frequency rules written out independently in SQL (priority order, Postgres month
#: arithmetic clips to the month's end like add_months): which units are due by 2024-06-30.
WITNESS = """
WITH last AS (
    SELECT unit_id, max(inspected_on) AS last FROM inspections
    WHERE town_code = :t AND unit_id IS NOT NULL AND inspected_on <= :end GROUP BY unit_id
), ruled AS (
    SELECT u.id, u.status::text AS status, l.last,
        CASE WHEN u.status::text IN ('suspended', 'closed') THEN 'closed_or_suspended'
             WHEN u.high_risk THEN 'high_risk_industry'
             WHEN u.risk_color::text IN ('red', 'orange') THEN 'red_orange_risk'
             WHEN u.fire_key_level::text <> 'none' THEN 'fire_key_unit'
             ELSE 'default' END AS rule,
        CASE WHEN u.status::text IN ('suspended', 'closed') OR u.high_risk
                  OR u.risk_color::text IN ('red', 'orange') THEN 1 ELSE 3 END AS months
    FROM units u LEFT JOIN last l ON l.unit_id = u.id WHERE u.town_code = :t
)
SELECT id, status, rule FROM ruled
WHERE last IS NULL OR (last + make_interval(months => months))::date <= :end
"""


def _witness(conn: Connection) -> dict[int, tuple[str, str]]:
    rows = conn.execute(text(WITNESS), {"t": DEMO_TOWN, "end": dt.date(2024, 6, 30)})
    return {int(r.id): (r.status, r.rule) for r in rows}


def test_due_list_matches_the_witness(client: TestClient, db_conn: Connection) -> None:
    r = client.get("/api/v1/inspections/due", params={"period": "2024-06"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["start"], body["end"], body["period"]) == ("2024-06-01", "2024-06-30", "2024-06")
    got = {u["unit_id"]: u for u in body["units"]}
    witness = _witness(db_conn)
    assert set(got) == set(witness) and body["count"] == len(witness)
    assert all(got[i]["rule"] == rule for i, (_, rule) in witness.items())
    # Closed and suspended units are on the list under their monthly rule, with its clause.
    inactive = [u for u in body["units"] if u["status"] in ("closed", "suspended")]
    assert inactive, "the demo town has closed/suspended units due in June 2024"
    assert {u["rule"] for u in inactive} == {"closed_or_suspended"}
    assert all("四(四)" in u["clause"] and "加大巡查排查频次" in u["clause"] for u in inactive)
    for u in body["units"]:
        assert u["state"] in ("never", "overdue", "due")
        if u["due_on"] is not None:
            assert u["due_on"] <= "2024-06-30"
            assert (u["state"] == "overdue") == (u["due_on"] < "2024-06-01")


def _assign(conn: Connection, unit_id: int, village: str) -> tuple[int, int]:
    """An inspector for ``unit_id`` and a chief for ``village`` today, plus an ended record."""
    staff = (
        conn.execute(
            text("SELECT id FROM staff WHERE town_code = :t ORDER BY id LIMIT 3"), {"t": DEMO_TOWN}
        )
        .scalars()
        .all()
    )
    rows = [
        (staff[0], "unit_inspector", None, unit_id, "2024-01-01", None),
        (staff[1], "grid_chief", village, None, "2024-01-01", None),
        (staff[2], "unit_inspector", None, unit_id, "2023-01-01", "2024-01-01"),  # ended
    ]
    for staff_id, role, v, u, start, end in rows:
        conn.execute(
            text(
                "INSERT INTO responsibilities (town_code, staff_id, role, village_code, unit_id,"
                " valid_from, valid_to) VALUES (:t, :s, :r, :v, :u, :f, :e)"
            ),
            {"t": DEMO_TOWN, "s": staff_id, "r": role, "v": v, "u": u, "f": start, "e": end},
        )
    return int(staff[0]), int(staff[1])


def test_people_responsible_today(client: TestClient, db_conn: Connection) -> None:
    first = client.get("/api/v1/inspections/due", params={"period": "2024-Q2"}).json()["units"]
    unit = next(u for u in first if u["village_code"])
    inspector, chief = _assign(db_conn, unit["unit_id"], unit["village_code"])
    body = client.get("/api/v1/inspections/due", params={"period": "2024-Q2"}).json()
    mine = next(u for u in body["units"] if u["unit_id"] == unit["unit_id"])
    assert {(p["staff_id"], p["role"]) for p in mine["responsible"]} >= {
        (inspector, "unit_inspector"),
        (chief, "grid_chief"),
    }
    assert {p["role_label"] for p in mine["responsible"]} >= {"责任监管人员", "网格长"}
    held = db_conn.execute(
        text(
            "SELECT r.staff_id, r.role::text AS role, u.id AS unit_id FROM units u"
            " JOIN responsibilities r ON (r.unit_id = u.id OR r.village_code = u.village_code)"
            " WHERE u.town_code = :t AND r.valid_from <= current_date"
            " AND (r.valid_to IS NULL OR r.valid_to > current_date)"
        ),
        {"t": DEMO_TOWN},
    ).all()
    want: dict[int, set[tuple[int, str]]] = {}
    for h in held:
        want.setdefault(int(h.unit_id), set()).add((int(h.staff_id), h.role))
    assert body["units"]
    for u in body["units"]:
        assert {(p["staff_id"], p["role"]) for p in u["responsible"]} == want.get(
            u["unit_id"], set()
        )
    assert any(u["responsible"] for u in body["units"])


def test_scoped_to_the_department(client_as: ClientAs, db_conn: Connection) -> None:
    scjg = client_as(Role.DEPARTMENT, department_code="SCJG")
    body = scjg.get("/api/v1/inspections/due", params={"period": "2024-06"}).json()
    depts = dict(
        db_conn.execute(
            text("SELECT id, department_code FROM units WHERE town_code = :t"), {"t": DEMO_TOWN}
        ).all()
    )
    assert body["units"] and {depts[u["unit_id"]] for u in body["units"]} == {"SCJG"}
    want = {i for i in _witness(db_conn) if depts[i] == "SCJG"}
    assert {u["unit_id"] for u in body["units"]} == want


def test_bad_period_is_refused(client: TestClient) -> None:
    for bad in ("2024-13", "June", "2024-Q5"):
        r = client.get("/api/v1/inspections/due", params={"period": bad})
        assert r.status_code == 400, (bad, r.text)
        assert "period" in r.json()["message"]
    assert client.get("/api/v1/inspections/due").status_code == 422  # period is required

"""双随机 draws on the demo town: exclusions hold against the tables, strata meet their ratio,
a stored draw re-runs exactly, a tampered one fails, replacement never re-rolls in place."""

from __future__ import annotations

import datetime as dt
import io
import math

import openpyxl
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from gis.access import Role
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN

AS_OF = dt.date(2024, 6, 1)


def _q(conn: Connection, sql: str, **kw: object) -> pd.DataFrame:
    result = conn.execute(text(sql), {"t": DEMO_TOWN, **kw})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _setup(conn: Connection) -> pd.DataFrame:
    """Give SCJG units a responsible inspector, a last inspector and a declared conflict, each
    drawn from the SCJG staff who would otherwise be eligible."""
    units = _q(
        conn,
        "SELECT id, village_code FROM units WHERE town_code = :t AND department_code = 'SCJG'"
        " AND status IN ('operating', 'seasonal') ORDER BY id",
    )
    staff = _q(
        conn,
        "SELECT id, code FROM staff WHERE town_code = :t AND department_code = 'SCJG' AND active"
        " AND role IN ('inspector', 'police', 'firefighter') ORDER BY id",
    )
    assert len(staff) >= 3 and len(units) >= 20
    # One of them lives in the village of the first unit (home-village exclusion in play).
    conn.execute(
        text("UPDATE staff SET home_village_code = :v WHERE id = :s"),
        {"v": units["village_code"].iloc[0], "s": int(staff["id"].iloc[1])},
    )
    for k, u in enumerate(units.itertuples()):
        own, last, conflict = (staff.iloc[(k + j) % len(staff)] for j in range(3))
        conn.execute(
            text(
                "INSERT INTO responsibilities (town_code, staff_id, role, unit_id, valid_from)"
                " VALUES (:t, :s, 'unit_inspector', :u, '2024-01-01')"
            ),
            {"t": DEMO_TOWN, "s": int(own.id), "u": int(u.id)},
        )
        if k % 2 == 0:
            conn.execute(
                text(
                    "INSERT INTO inspections (town_code, code, unit_id, inspected_on, kind,"
                    " inspector_codes, hazard_count) VALUES (:t, :c, :u, '2024-05-30',"
                    " 'department', CAST(:codes AS jsonb), 0)"
                ),
                {"t": DEMO_TOWN, "c": f"DRAWT{k:05d}", "u": int(u.id), "codes": f'["{last.code}"]'},
            )
        if k % 5 == 1:
            conn.execute(
                text(
                    "INSERT INTO staff_conflicts (town_code, staff_id, unit_id, reason,"
                    " declared_on) VALUES (:t, :s, :u, '亲属经营', '2024-01-01')"
                ),
                {"t": DEMO_TOWN, "s": int(conflict.id), "u": int(u.id)},
            )
    return units


def _draw(client: TestClient, **body: object) -> dict:  # type: ignore[type-arg]
    r = client.post(
        "/api/v1/draws",
        json={"department_code": "SCJG", "as_of": AS_OF.isoformat(), "seed": "2024", **body},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_no_inspector_drawn_against_an_exclusion(client: TestClient, db_conn: Connection) -> None:
    _setup(db_conn)
    d = _draw(client, ratio=1.0)
    targets = d["result"]["targets"]
    assert targets
    # Independent witness straight from the tables, one query per exclusion.
    units = _q(db_conn, "SELECT id, village_code, department_code FROM units WHERE town_code = :t")
    units = units.set_index("id")
    staff = _q(db_conn, "SELECT id, code, department_code, home_village_code FROM staff")
    staff = staff.set_index("id")
    own = set(
        _q(
            db_conn,
            "SELECT unit_id, staff_id FROM responsibilities WHERE role = 'unit_inspector'"
            " AND unit_id IS NOT NULL AND valid_from <= :d AND (valid_to IS NULL OR valid_to > :d)",
            d=AS_OF,
        ).itertuples(index=False, name=None)
    )
    last = _q(
        db_conn,
        "SELECT i.unit_id, jsonb_array_elements_text(i.inspector_codes) AS code FROM inspections i"
        " WHERE i.inspected_on = (SELECT max(inspected_on) FROM inspections j"
        " WHERE j.unit_id = i.unit_id AND j.inspected_on <= :d)",
        d=AS_OF,
    )
    last_pairs = set(zip(last["unit_id"], last["code"], strict=True))
    conflicts = set(
        _q(db_conn, "SELECT unit_id, staff_id FROM staff_conflicts").itertuples(
            index=False, name=None
        )
    )
    for t in targets:
        u = units.loc[t["unit_id"]]
        assert len(t["inspectors"]) == 2 or t["short"]
        for s in t["inspectors"]:
            person = staff.loc[s]
            assert person["department_code"] == u["department_code"]  # 三管三必须
            assert (t["unit_id"], s) not in own
            assert (t["unit_id"], person["code"]) not in last_pairs
            assert person["home_village_code"] != u["village_code"]
            assert (t["unit_id"], s) not in conflicts
    # The exclusions were really in play: each reason removed someone somewhere.
    reasons = {r for p in d["pools"] for why in p["excluded"].values() for r in why}
    assert reasons == {
        "responsible_inspector",
        "inspected_last",
        "home_village",
        "declared_conflict",
    }


def test_every_stratum_meets_its_ratio(client: TestClient, db_conn: Connection) -> None:
    d = _draw(client, ratio=0.3, ratio_by_risk={"red": 1.0})
    units = _q(
        db_conn,
        "SELECT id, village_code, left(industry_code, 1) AS industry, risk_color::text AS risk"
        " FROM units WHERE town_code = :t AND department_code = 'SCJG'"
        " AND status IN ('operating', 'seasonal')",
    )
    sizes = units.groupby(["village_code", "industry", "risk"]).size()
    drawn = pd.Series([t["unit_id"] for t in d["result"]["targets"]])
    got = units[units["id"].isin(drawn)].groupby(["village_code", "industry", "risk"]).size()
    assert len(drawn) == drawn.nunique()
    for key, n in sizes.items():
        ratio = 1.0 if key[2] == "red" else 0.3
        assert got.get(key, 0) == math.ceil(round(ratio * n, 9)), key


def test_verify_reproduces_and_catches_tampering(client: TestClient, db_conn: Connection) -> None:
    d = _draw(client, ratio=0.5)
    r = client.post(f"/api/v1/draws/{d['id']}/verify")
    assert r.status_code == 200 and r.json()["ok"], r.text
    got = client.get(f"/api/v1/draws/{d['id']}").json()
    assert got["result"] == d["result"] and got["pools_sha256"] == d["pools_sha256"]
    # Swap one drawn inspector for another in the stored result: verify must fail.
    t0 = d["result"]["targets"][0]
    db_conn.execute(
        text(
            "UPDATE draws SET result = jsonb_set(result, '{targets,0,inspectors,0}', to_jsonb(:s))"
            " WHERE id = :i"
        ),
        {"s": t0["inspectors"][0] + 1, "i": d["id"]},
    )
    v = client.post(f"/api/v1/draws/{d['id']}/verify").json()
    assert not v["ok"] and not v["checks"]["result"] and v["checks"]["pools_sha256"]
    # Widen a pool after the fact: the stored hash no longer matches.
    d2 = _draw(client, ratio=0.5, seed="other")
    db_conn.execute(
        text("UPDATE draws SET pools = jsonb_set(pools, '{0,eligible}', '[1,2,3]') WHERE id = :i"),
        {"i": d2["id"]},
    )
    v = client.post(f"/api/v1/draws/{d2['id']}/verify").json()
    assert not v["ok"] and not v["checks"]["pools_sha256"]


def test_replacement_is_a_new_record(client: TestClient, db_conn: Connection) -> None:
    old = _draw(client, ratio=0.2)
    new = _draw(client, ratio=0.2, seed="2025", replaces=old["id"], reason="抽中单位已注销")
    assert new["id"] != old["id"] and new["replaces_id"] == old["id"]
    assert new["replace_reason"] == "抽中单位已注销"
    again = client.get(f"/api/v1/draws/{old['id']}").json()
    assert again["superseded_by"] == new["id"] and again["result"] == old["result"]
    r = client.post(
        "/api/v1/draws",
        json={"department_code": "SCJG", "ratio": 0.2, "replaces": old["id"], "reason": "again"},
    )
    assert r.status_code == 409, r.text
    audit = _q(db_conn, "SELECT action FROM audit_log WHERE table_name = 'draws'")
    assert {"draw", "supersede"} <= set(audit["action"])


def test_notice_names_only(client: TestClient, db_conn: Connection) -> None:
    d = _draw(client, ratio=0.2)
    notice = client.get(f"/api/v1/draws/{d['id']}/notice").json()
    assert len(notice["rows"]) == len(d["result"]["targets"])
    assert all(set(r) == {"unit", "village", "inspectors"} for r in notice["rows"])
    phones = set(_q(db_conn, "SELECT phone FROM staff WHERE phone IS NOT NULL")["phone"])
    body = client.get(f"/api/v1/draws/{d['id']}/notice").text
    assert not any(p in body for p in phones)
    x = client.get(f"/api/v1/draws/{d['id']}/notice", params={"format": "xlsx"})
    assert x.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert [r[1] for r in rows] == [r["unit"] for r in notice["rows"]]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_bad_input_and_scope(client: TestClient, client_as: ClientAs) -> None:
    for bad in (1.5, -0.1):
        r = client.post("/api/v1/draws", json={"ratio": bad})
        assert r.status_code == 422, r.text
    r = client.post("/api/v1/draws", json={"ratio": 0.5, "ratio_by_risk": {"red": 2}})
    assert r.status_code == 422
    scjg = client_as(Role.DEPARTMENT, department_code="SCJG")
    assert (
        scjg.post("/api/v1/draws", json={"ratio": 0.1, "department_code": "JT"}).status_code == 403
    )
    mine = scjg.post("/api/v1/draws", json={"ratio": 0.1, "department_code": "SCJG"})
    assert mine.status_code == 201, mine.text
    chief = client_as(Role.GRID_CHIEF)
    assert chief.post("/api/v1/draws", json={"ratio": 0.1}).status_code == 403
    assert chief.get(f"/api/v1/draws/{mine.json()['id']}").status_code == 404
    jt = _draw(client, ratio=0.1, department_code="JT")
    assert scjg.get(f"/api/v1/draws/{jt['id']}").status_code == 404

"""Hostile names in the database stay inert on every map and page, as every role that sees them.

Units, villages, the town, staff, fire stations and hazards are renamed with script payloads in
the test's transaction; each map and page is then read with the witness of ``tests.inert``
(HTML parsed, inline JavaScript lexed) against the nonce of its own CSP header.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Connection, text

from api.security import SESSION_COOKIE
from gis.access import Role
from maps.escaping import escape_markup
from tests.accounts import bearer_token, make_account
from tests.api.conftest import ClientAs
from tests.conftest import DEMO_TOWN
from tests.inert import PAYLOADS, SHORT_PAYLOADS, inert_problems

MAPS = ("/maps/area", "/maps/hazards", "/maps/gaps")
FORMULA = '=HYPERLINK("http://evil.example","点击")'


def _payload_case(column: str, param: str = "p") -> str:
    """SQL giving each row one of the payloads by its id (all four appear across rows)."""
    cases = " ".join(f"WHEN {i} THEN :{param}{i}" for i in range(len(PAYLOADS)))
    return f"CASE ({column}) % {len(PAYLOADS)} {cases} END"


@pytest.fixture
def hostile(db_conn: Connection) -> Iterator[None]:
    params = {f"p{i}": p for i, p in enumerate(PAYLOADS)}
    short = {f"p{i}": SHORT_PAYLOADS[i % len(SHORT_PAYLOADS)] for i in range(len(PAYLOADS))}
    town = {"town": DEMO_TOWN}
    db_conn.execute(
        text(f"UPDATE units SET name = {_payload_case('id')} || id WHERE town_code = :town"),
        {**params, **town},
    )
    # One unit in every village gets a formula instead, for the exports.
    db_conn.execute(
        text(
            "UPDATE units SET name = :formula || id WHERE id IN (SELECT min(id) FROM units "
            "WHERE town_code = :town GROUP BY village_code)"
        ),
        {"formula": FORMULA, **town},
    )
    village_case = _payload_case("right(code, 3)::int")
    db_conn.execute(
        text(f"UPDATE villages SET name = {village_case} || code WHERE town_code = :town"),
        {**params, **town},
    )
    db_conn.execute(text("UPDATE towns SET name = :p3 WHERE code = :town"), {**params, **town})
    db_conn.execute(
        text(f"UPDATE staff SET name = left({_payload_case('id')}, 50) WHERE town_code = :town"),
        {**params, **town},
    )
    db_conn.execute(text(f"UPDATE fire_stations SET name = {_payload_case('id')} || id"), params)
    db_conn.execute(
        text(
            f"UPDATE hazards SET code = left({_payload_case('id')} || id, 20), "
            f"description = {_payload_case('id', 'q')} WHERE town_code = :town"
        ),
        {**short, **town, **{f"q{i}": p for i, p in enumerate(PAYLOADS)}},
    )
    yield


def _nonce(response: Response) -> str:
    policy = response.headers["content-security-policy"]
    (source,) = [s for s in policy.split() if s.startswith("'nonce-")]
    return source[len("'nonce-") : -1].rstrip(";").rstrip("'")


def _check(response: Response, label: str) -> None:
    assert response.status_code == 200, (label, response.status_code)
    assert inert_problems(response.text, _nonce(response)) == [], label


@pytest.mark.usefixtures("hostile")
def test_maps_with_hostile_names_are_inert_for_every_role(client_as: ClientAs) -> None:
    reached: set[str] = set()
    for role in Role:
        client = client_as(role)
        for path in MAPS:
            response = client.get(path)
            if response.status_code == 403:
                continue  # the access matrix decides who sees which map
            _check(response, f"{role.value} {path}")
            if any(escape_markup(p) in response.text for p in PAYLOADS):
                reached.add(f"{role.value} {path}")
    # The payloads did reach the maps (escaped), for the town and for narrower roles.
    for path in MAPS:
        assert f"town_admin {path}" in reached, path
    assert "grid_chief /maps/area" in reached and "county_office /maps/area" in reached


@pytest.mark.usefixtures("hostile")
def test_a_village_map_titled_with_a_hostile_name_is_inert(client_as: ClientAs) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    for path in ("/maps/area", "/maps/hazards"):
        response = chief.get(path, params={"village": village})
        _check(response, path)
        assert escape_markup(PAYLOADS[int(village[-3:]) % len(PAYLOADS)]) in response.text


def test_sign_in_and_account_pages_are_inert(api_app: FastAPI, db_conn: Connection) -> None:
    account = make_account(db_conn, Role.TOWN_ADMIN, display_name=PAYLOADS[3][:50])
    with TestClient(api_app, follow_redirects=False) as web:
        for payload in PAYLOADS:
            # Reflected into the hidden "next" field (local paths only) and the username field.
            _check(web.get("/login", params={"next": "/" + payload}), f"next {payload}")
            failed = web.post(
                "/login",
                data={"username": payload, "password": "wrong", "csrf_token": "forged"},
            )
            assert inert_problems(failed.text, _nonce(failed)) == [], payload
            assert escape_markup(payload) in failed.text
    token = bearer_token(int(account["id"]))
    with TestClient(api_app, cookies={SESSION_COOKIE: token}, follow_redirects=False) as web:
        page = web.get("/account")
        _check(page, "/account")
        assert escape_markup(PAYLOADS[3]) in page.text


@pytest.mark.usefixtures("hostile")
def test_exports_of_hostile_names_hold_no_live_formula(client: TestClient) -> None:
    response = client.get("/api/v1/exports/units", params={"format": "xlsx"})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    names = []
    for row in book.worksheets[0].iter_rows(min_row=3):
        assert all(cell.data_type != "f" for cell in row)
        names.append(row[2].value)
    assert "'" + FORMULA in {str(n).rstrip("0123456789") for n in names}
    csv_text = client.get("/api/v1/exports/units", params={"format": "csv"}).content
    assert b"\"'=HYPERLINK(" in csv_text and b',"=HYPERLINK(' not in csv_text
    roster = client.get("/api/v1/rosters/team", params={"town": DEMO_TOWN})
    assert roster.status_code == 200
    for sheet in openpyxl.load_workbook(io.BytesIO(roster.content)).worksheets:
        assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)

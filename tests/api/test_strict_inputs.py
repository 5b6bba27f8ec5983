"""Request fields that decide whether (or for whom) something is written take no coercion.

A lax pydantic bool read ``{"dry_run": "no"}``, ``"0"``, ``0`` and ``"false "`` as False and so
wrote an assignment run the caller may only have meant to preview. Only JSON ``false`` writes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, func, select

from gis.db.access_models import Account, AuditLog
from gis.db.assignment_models import AssignmentRun
from gis.db.models import Responsibility
from tests.conftest import DEMO_TOWN

RUN = "/api/v1/assignments/run"


def _written(conn: Connection) -> tuple[int, ...]:
    return tuple(
        int(conn.execute(select(func.count()).select_from(model)).scalar_one())
        for model in (AssignmentRun, Responsibility, AuditLog)
    )


@pytest.mark.parametrize(
    "value", ["no", "0", 0, "false ", "false", "off", 0.0, 1, "true", None, [], {}], ids=repr
)
def test_a_dry_run_that_is_not_a_json_boolean_is_refused_and_writes_nothing(
    client: TestClient, db_conn: Connection, value: Any
) -> None:
    before = _written(db_conn)
    response = client.post(RUN, json={"town": DEMO_TOWN, "as_of": "2025-01-01", "dry_run": value})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_input" and body["field"] == "dry_run"
    assert _written(db_conn) == before


def test_a_misspelt_dry_run_is_refused_not_ignored(client: TestClient, db_conn: Connection) -> None:
    before = _written(db_conn)
    response = client.post(RUN, json={"town": DEMO_TOWN, "as_of": "2025-01-01", "dryrun": False})
    assert response.status_code == 422 and response.json()["field"] == "dryrun"
    assert _written(db_conn) == before


def test_json_false_writes_and_json_true_previews(client: TestClient, db_conn: Connection) -> None:
    runs, _, entries = _written(db_conn)
    preview = client.post(RUN, json={"town": DEMO_TOWN, "as_of": "2025-01-01", "dry_run": True})
    assert preview.status_code == 200 and not preview.json()["written"]
    assert _written(db_conn)[::2] == (runs, entries)
    written = client.post(RUN, json={"town": DEMO_TOWN, "as_of": "2025-01-01", "dry_run": False})
    assert written.status_code == 200 and written.json()["written"]
    assert _written(db_conn)[::2] == (runs + 1, entries + 1)


@pytest.mark.parametrize("staff_id", ["1", 1.0, True], ids=repr)
def test_an_inspector_account_names_its_staff_by_a_json_integer(
    client: TestClient, db_conn: Connection, staff_id: Any
) -> None:
    """The staff id decides which units the new account may change: no guessing from "1"."""
    before = db_conn.execute(select(func.count()).select_from(Account)).scalar_one()
    body = {
        "username": "strict-inspector",
        "password": "a long passphrase",
        "role": "inspector",
        "staff_id": staff_id,
    }
    response = client.post("/api/v1/accounts", json=body)
    assert response.status_code == 422 and response.json()["field"] == "staff_id", response.text
    assert db_conn.execute(select(func.count()).select_from(Account)).scalar_one() == before

"""The gap endpoints serve repeats from the report cache; an API import moves the version."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import Connection

from gis.workflows.coverage import REPORT_CACHE, data_versions
from tests.conftest import DEMO_TOWN
from tests.gis.workflows.test_coverage_cache import NEW_UNIT_CSV

AS_OF = dt.date(2024, 12, 31)


def test_api_import_moves_the_town_version(client: TestClient, db_conn: Connection) -> None:
    before = data_versions(db_conn, [DEMO_TOWN])[0]
    response = client.post(
        "/api/v1/imports/units",
        files={"file": ("ledger.csv", NEW_UNIT_CSV.encode(), "text/csv")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1
    assert data_versions(db_conn, [DEMO_TOWN])[0] > before


def test_gap_endpoints_compute_once_for_repeats(client: TestClient) -> None:
    REPORT_CACHE.clear()
    computed = REPORT_CACHE.stats.computed
    params = {"as_of": AS_OF.isoformat()}
    bodies = [client.get("/api/v1/gaps/summary", params=params).json() for _ in range(3)]
    assert client.get("/api/v1/gaps", params={**params, "limit": 5}).status_code == 200
    assert bodies[0] == bodies[1] == bodies[2]
    assert REPORT_CACHE.stats.computed == computed + 1

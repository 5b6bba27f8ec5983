"""Property-based fuzzing of the whole API from its OpenAPI schema: no input makes a server error.

Every operation gets up to ``FUZZ_EXAMPLES`` generated requests (schemathesis: valid and invalid
parameters, bodies and headers), sent in-process to the real app on the test database, signed in
as the demo town's safety office so the requests reach the handlers. Each request runs in a
savepoint of the test's transaction, so writes vanish and a failed statement cannot poison the
next request. The run is bounded in examples per operation and in wall time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy import Connection, Engine

from api.dependencies import get_conn
from api.main import create_app
from gis.settings import Settings
from tests.accounts import TEST_SECRET, bearer_headers
from tests.conftest import DEMO_TOWN

FUZZ_EXAMPLES = int(os.environ.get("GRIDSAFE_FUZZ_EXAMPLES", "25"))
#: Wall-time budget for the whole fuzz run; operations past it are skipped, loudly.
FUZZ_BUDGET_S = float(os.environ.get("GRIDSAFE_FUZZ_BUDGET_S", "300"))
_started: list[float] = []


def error_body_has_code_and_message(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every client error says what went wrong as ``{code, message}`` (api/errors.py)."""
    if (
        400 <= response.status_code < 500
        and "json" in response.headers.get("content-type", [""])[0]
    ):
        body = response.json()
        assert isinstance(body, dict) and {"code", "message"} <= body.keys(), body


#: No server error, every documented body and media type as documented, every 4xx explained.
#: Left out on purpose: "schema-valid request rejected" (bbox text, codes of unknown villages are
#: valid strings the handlers refuse with 400) and "undocumented status code".
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    error_body_has_code_and_message,
]

#: Expensive operations (optimiser runs, rendered maps: 0.5–3 s a call) get a few fuzzed examples
#: and no coverage phase; everything else gets the boundary-value coverage phase too.
EXPENSIVE = r"^/maps/|/assignments/run$"
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "generation": {
            "max-examples": FUZZ_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"coverage": {"unexpected-methods": []}},
        "operations": [
            {
                "include-path-regex": EXPENSIVE,
                "generation": {"max-examples": max(2, FUZZ_EXAMPLES // 8)},
                "phases": {"coverage": {"enabled": False}},
                # A dry run of the optimiser on the demo town can take over 10 s on 2 cores.
                "request-timeout": 120,
            }
        ],
    }
)

#: One app for the module: schemathesis reads its schema at import time to make one test per
#: operation; each test then points it at its own transaction (``fuzz_app``).
APP = create_app(
    Settings(secret_key=TEST_SECRET, database_url="postgresql+psycopg://unused@127.0.0.1/x")
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG)


@pytest.fixture
def fuzz_app(db_engine: Engine, db_conn: Connection) -> Iterator[FastAPI]:
    def savepoint_conn() -> Iterator[Connection]:
        with db_conn.begin_nested():
            yield db_conn

    APP.state.engine = db_engine
    APP.dependency_overrides[get_conn] = savepoint_conn
    yield APP
    del APP.dependency_overrides[get_conn]


@pytest.fixture
def town_admin(db_conn: Connection) -> dict[str, str]:
    return bearer_headers(db_conn, "town_admin", town_code=DEMO_TOWN)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(
    case: schemathesis.Case, fuzz_app: FastAPI, town_admin: dict[str, str]
) -> None:
    if not _started:
        _started.append(time.monotonic())
    if time.monotonic() - _started[0] > FUZZ_BUDGET_S:
        pytest.skip(f"fuzz time budget of {FUZZ_BUDGET_S:.0f} s used up")
    case.call_and_validate(headers=town_admin, checks=CHECKS)

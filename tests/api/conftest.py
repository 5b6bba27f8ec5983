"""API fixtures: the app on the test database, each request inside the test's transaction.

``client`` acts as the demo town's safety office (town admin); ``client_as(role, **area)`` gives a
client signed in as a fresh account of any role (bearer token), ``anonymous`` one with no
credentials. Accounts are created in the test's transaction, so they vanish with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, func, select

from api.dependencies import get_conn
from api.main import create_app
from gis.access import Role
from gis.db.models import Staff, Unit, Village
from gis.settings import Settings
from tests.accounts import TEST_SECRET, bearer_token, make_account
from tests.conftest import DEMO_TOWN

ClientAs = Callable[..., TestClient]


@pytest.fixture
def api_app(db_engine: Engine, db_conn: Connection) -> FastAPI:
    app = create_app(
        Settings(secret_key=TEST_SECRET, database_url="postgresql+psycopg://unused@127.0.0.1/x"),
        db_engine,
    )
    app.dependency_overrides[get_conn] = lambda: db_conn
    return app


@pytest.fixture
def demo_area(db_conn: Connection) -> dict[str, Any]:
    """Default scope fields per role in the demo town: the village with most units, etc."""
    village = db_conn.execute(
        select(Unit.village_code)
        .where(Unit.town_code == DEMO_TOWN, Unit.village_code.is_not(None))
        .group_by(Unit.village_code)
        .order_by(func.count().desc(), Unit.village_code)
        .limit(1)
    ).scalar_one()
    staff_id = db_conn.execute(
        select(Staff.id).where(Staff.town_code == DEMO_TOWN).order_by(Staff.id).limit(1)
    ).scalar_one()
    assert db_conn.execute(select(Village.code).where(Village.code == village)).first()
    return {
        Role.GRID_CHIEF: {"village_code": village},
        Role.DEPARTMENT: {"department_code": "SCJG"},
        Role.INSPECTOR: {"staff_id": staff_id},
    }


@pytest.fixture
def client_as(
    api_app: FastAPI, db_conn: Connection, demo_area: dict[Role, dict[str, Any]]
) -> Iterator[ClientAs]:
    """``client_as("grid_chief", village_code=...)`` → a TestClient signed in with a bearer token.

    The client's ``account`` attribute is the account row.
    """
    clients: list[TestClient] = []

    def make(role: Role | str, **area: Any) -> TestClient:
        role = Role(role)
        fields = {"town_code": DEMO_TOWN, **demo_area.get(role, {}), **area}
        account = make_account(db_conn, role, **fields)
        token = bearer_token(int(account["id"]), token_version=int(account["token_version"]))
        test_client = TestClient(api_app, headers={"Authorization": f"Bearer {token}"})
        test_client.account = account  # type: ignore[attr-defined]
        clients.append(test_client)
        return test_client

    yield make
    for test_client in clients:
        test_client.close()


@pytest.fixture
def anonymous(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as test_client:
        yield test_client


@pytest.fixture
def client(client_as: ClientAs) -> TestClient:
    """The demo town's safety office (镇安委办): sees and may change the whole town."""
    return client_as(Role.TOWN_ADMIN)

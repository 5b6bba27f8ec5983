"""API fixtures: the app on the test database, each request inside the test's transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from api.dependencies import get_conn
from api.main import create_app
from gis.settings import Settings


@pytest.fixture
def client(db_engine: Engine, db_conn: Connection) -> Iterator[TestClient]:
    app = create_app(Settings(database_url="postgresql+psycopg://unused@127.0.0.1/x"), db_engine)
    app.dependency_overrides[get_conn] = lambda: db_conn
    with TestClient(app) as test_client:
        yield test_client

"""Health and database outages: a clear 503 while the database is away."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from api.main import create_app
from gis.settings import Settings
from tests.accounts import TEST_SECRET, bearer_token


def test_health_reports_migrated_database(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["schema_revision"]
    assert body["towns"] >= 1


def test_database_unreachable_gives_503() -> None:
    # Nothing listens on port 1: every database call fails like a server that went away.
    engine = create_engine(
        "postgresql+psycopg://nobody:x@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    app = create_app(
        Settings(secret_key=TEST_SECRET, database_url="postgresql+psycopg://unused@127.0.0.1/x"),
        engine,
    )
    # A well-signed token: checking it needs the database, so the answer is 503, not 401.
    signed = {"Authorization": f"Bearer {bearer_token(1)}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        health = client.get("/health")
        layer = client.get("/api/v1/villages", headers=signed)
    assert health.status_code == 503
    assert health.json()["database"] == "unavailable"
    assert layer.status_code == 503
    assert layer.json()["code"] == "database_unavailable"
    assert layer.headers["retry-after"] == "5"

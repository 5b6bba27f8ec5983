"""The database goes away under a running service: a clear 503, then recovery on its own."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import dependencies
from api.main import create_app
from gis.access import Role, Scope
from gis.db.engine import engine_for
from gis.io.dataset import load_dataset
from gis.settings import Settings
from tests.accounts import TEST_SECRET
from tests.throwaway import (
    TINY_TOWN,
    TINY_VILLAGES,
    prepared_engine,
    throwaway_server,
    write_tiny_town,
)


def _as_town_admin(app: FastAPI) -> None:
    """Every scope dependency answers "the tiny town's safety office": this test is about the
    database, not about signing in (and a token check would need the database too)."""
    scope = Scope(role=Role.TOWN_ADMIN, town_codes=frozenset({TINY_TOWN}))
    for name, dependency in vars(dependencies).items():
        if name.startswith("get_") and name.endswith("scope") and callable(dependency):
            app.dependency_overrides[dependency] = lambda: scope


def test_database_outage_gives_503_and_the_service_recovers(tmp_path: Path) -> None:
    with throwaway_server() as server:
        setup = prepared_engine(server.url())
        with setup.begin() as conn:
            load_dataset(conn, write_tiny_town(tmp_path / "tiny", units=40))
        setup.dispose()
        # The engine the service itself uses (pool_pre_ping, connect timeout), not a test double.
        engine = engine_for(server.url())
        app = create_app(Settings(secret_key=TEST_SECRET, database_url=server.url()), engine)
        _as_town_admin(app)
        village = f"/api/v1/units?village={TINY_VILLAGES[0]}"
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                # Fill the pool with live connections that the outage will break.
                for _ in range(3):
                    assert client.get(village).json()["numberMatched"] == 20
                assert client.get("/health").status_code == 200

                server.stop()
                for path in (village, "/api/v1/villages", "/api/v1/roads?bbox=114,34,115,35"):
                    down = client.get(path)
                    assert down.status_code == 503, (path, down.text)
                    assert down.json() == {
                        "code": "database_unavailable",
                        "message": "数据库暂时不可用，请稍后重试",
                    }
                    assert down.headers["retry-after"] == "5"
                health = client.get("/health")
                assert health.status_code == 503
                assert health.json()["database"] == "unavailable"

                server.start()
                # No restart of the service: the pool drops dead connections and reconnects.
                for _ in range(3):
                    up = client.get(village)
                    assert up.status_code == 200, up.text
                    assert up.json()["numberMatched"] == 20
                assert client.get("/health").json()["database"] == "ok"
        finally:
            engine.dispose()
            engine_for.cache_clear()

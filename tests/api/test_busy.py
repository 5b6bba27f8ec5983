"""More requests than pooled connections: they queue and succeed; an exhausted pool is "busy".

A probe route holding its connection for a while stands in for a slow read; the engine is the
real one with a tiny pool, on the test server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from api.dependencies import ConnDep
from api.main import create_app
from gis.settings import Settings
from tests.accounts import TEST_SECRET

HOLD_S = 0.3


@pytest.fixture
def tiny_pool(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url, pool_size=2, max_overflow=0, pool_timeout=0.2)
    yield engine
    engine.dispose()


def _app(engine: Engine) -> FastAPI:
    app = create_app(
        Settings(database_url="postgresql+psycopg://unused@127.0.0.1/x", secret_key=TEST_SECRET),
        engine,
    )

    def hold(conn: ConnDep) -> dict[str, float]:
        return {"slept": float(conn.execute(text(f"SELECT pg_sleep({HOLD_S}), {HOLD_S}")).one()[1])}

    app.add_api_route("/_probe/hold", hold, methods=["GET"])
    return app


def test_more_requests_than_connections_queue_instead_of_failing(tiny_pool: Engine) -> None:
    statuses: list[int] = []
    with TestClient(_app(tiny_pool), raise_server_exceptions=False) as client:
        threads = [
            threading.Thread(target=lambda: statuses.append(client.get("/_probe/hold").status_code))
            for _ in range(8)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # 8 requests × 0.3 s on 2 connections: without admission control most would wait longer
    # than the pool timeout (0.2 s) for a connection and fail.
    assert statuses == [200] * 8


def test_exhausted_pool_is_an_honest_busy_503(tiny_pool: Engine) -> None:
    # Someone outside the API holds every pooled connection: the request is admitted, then no
    # connection comes free within the pool timeout.
    held = [tiny_pool.connect() for _ in range(2)]
    try:
        with TestClient(_app(tiny_pool), raise_server_exceptions=False) as client:
            response = client.get("/_probe/hold")
    finally:
        for conn in held:
            conn.close()
    assert response.status_code == 503
    assert response.json()["code"] == "database_busy"
    assert "繁忙" in response.json()["message"]
    assert response.headers["retry-after"] == "1"

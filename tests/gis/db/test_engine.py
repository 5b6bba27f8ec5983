"""Idle pooled connections are pinged before use; busy ones are handed out without a round trip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from gis.db.engine import ping_idle_connections


@pytest.fixture
def one_connection(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _kill_pooled_backend(engine: Engine, admin: Engine) -> None:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})


def test_a_dead_idle_connection_is_replaced(one_connection: Engine, db_engine: Engine) -> None:
    ping_idle_connections(one_connection, idle_s=0.0)
    _kill_pooled_backend(one_connection, db_engine)
    with one_connection.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_without_the_ping_the_dead_connection_fails_the_request(
    one_connection: Engine, db_engine: Engine
) -> None:
    """The witness: the same kill without the idle ping reaches the caller."""
    _kill_pooled_backend(one_connection, db_engine)
    with pytest.raises(OperationalError), one_connection.connect() as conn:
        conn.execute(text("SELECT 1"))


@pytest.mark.parametrize(("idle_s", "pings"), [(60.0, 0), (0.0, 3)])
def test_only_idle_connections_are_pinged(
    one_connection: Engine, monkeypatch: pytest.MonkeyPatch, idle_s: float, pings: int
) -> None:
    ping_idle_connections(one_connection, idle_s=idle_s)
    with one_connection.connect() as conn:  # the first checkout has never been idle
        conn.execute(text("SELECT 1"))
    calls: list[object] = []
    real = one_connection.dialect.do_ping
    monkeypatch.setattr(
        one_connection.dialect, "do_ping", lambda dbapi_conn: calls.append(1) or real(dbapi_conn)
    )
    for _ in range(3):
        with one_connection.connect() as conn:
            assert conn.execute(text("SELECT 42")).scalar_one() == 42
    assert len(calls) == pings

"""One engine per process, resolved from the settings (configured URL or the embedded cluster)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from gis.db.local_server import LocalServer
from gis.settings import Settings


def local_server(settings: Settings) -> LocalServer:
    """The embedded cluster that belongs to these settings' data directory."""
    return LocalServer(Path(settings.data_dir) / "pg")


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The configured URL, or the embedded cluster's (started on demand)."""
    if settings.database_url:
        return settings.database_url
    server = local_server(settings)
    return server.start() if start else server.url()


#: Connections each process keeps open. The API admits this many requests to the database at
#: once (``api.dependencies.get_conn``); the rest wait in the event loop holding neither a thread
#: nor a connection. On 2 cores, more would only queue inside PostgreSQL.
POOL_SIZE = 10
#: Head room above the admitted requests: the lifespan, the CLI, work done outside a request.
POOL_OVERFLOW = 5
#: A pooled connection idle for longer than this is pinged before it is handed out.
PING_IDLE_S = 10.0


def ping_idle_connections(engine: Engine, idle_s: float = PING_IDLE_S) -> None:
    """Ping a connection on checkout only if it sat in the pool for ``idle_s`` or more.

    ``pool_pre_ping`` pings on every checkout: a database round trip per request. A connection
    returned moments ago is as alive as the request that returned it; one that sat idle may
    have outlived a server restart, and it is replaced transparently (the pool retries on
    ``DisconnectionError``). A restart under load still fails the requests in flight, which
    invalidates the whole pool, so the next ones reconnect.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("idle connection is dead") from exc
        if not alive:
            raise DisconnectionError("idle connection is dead")


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """The process-wide engine for a URL (pool sized for the 2-core machines we target)."""
    engine = create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )
    ping_idle_connections(engine)
    return engine


def get_engine(settings: Settings) -> Engine:
    return engine_for(database_url(settings))


@lru_cache(maxsize=8)
def _sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with _sessionmaker(engine)() as session, session.begin():
        yield session

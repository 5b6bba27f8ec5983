"""Test fixtures: one throwaway PostGIS per run, migrated and loaded once; a rollback per test.

The cluster is started by the same mechanism as ``gridsafe demo`` (gis.db.local_server) unless
GRIDSAFE_TEST_DATABASE_URL points at a server to use instead. Only tests that ask for a database
fixture start it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.orm import Session

from data import DEMO_DIR, REFERENCE_DIR
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once, prepare
from gis.db.local_server import LocalServer
from tests.throwaway import throwaway_server

DEMO_TOWN = "411003101000"


@pytest.fixture(scope="session")
def db_server() -> Iterator[LocalServer | None]:
    """A throwaway local cluster for the whole run (None when an external URL is given)."""
    if os.environ.get("GRIDSAFE_TEST_DATABASE_URL"):
        yield None
        return
    with throwaway_server() as server:
        yield server


@pytest.fixture(scope="session")
def db_url(db_server: LocalServer | None) -> str:
    return os.environ.get("GRIDSAFE_TEST_DATABASE_URL") or db_server.url()  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Iterator[Engine]:
    """The migrated database with reference data and the demo town loaded once."""
    engine = create_engine(db_url, pool_size=5, max_overflow=10)
    prepare(engine, REFERENCE_DIR, actor=Actor.system("test:fixture"))
    load_dataset_once(engine, DEMO_DIR, actor=Actor.system("test:fixture"))
    yield engine
    engine.dispose()


@pytest.fixture
def db_conn(db_engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction rolled back after the test: tests never see each other."""
    with db_engine.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            trans.rollback()


@pytest.fixture
def db_session(db_conn: Connection) -> Iterator[Session]:
    """An ORM session on ``db_conn``; its commits become savepoints of the outer transaction."""
    with Session(bind=db_conn, join_transaction_mode="create_savepoint") as session:
        yield session

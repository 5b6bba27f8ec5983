"""Migrations: up from empty, down to nothing, up again; and they match the models exactly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import Engine, create_engine, inspect, make_url, text
from sqlalchemy.exc import IntegrityError

from gis.audit import Actor
from gis.db import migrate
from gis.db.all_models import Base

ACTOR = Actor.system("test:migrations")
SPATIAL_TABLES = {
    "inspections",
    "towns",
    "villages",
    "micro_grids",
    "units",
    "staff",
    "roads",
    "gas_pipelines",
    "gas_facilities",
    "fire_stations",
    "hazards",
}


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    """A brand-new empty database on the test server, dropped afterwards."""
    name = f"gridsafe_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(db_url).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _our_tables(engine: Engine) -> set[str]:
    names = set(inspect(engine).get_table_names())
    return names - {"spatial_ref_sys", "alembic_version"}


def test_upgrade_downgrade_upgrade(empty_engine: Engine) -> None:
    assert _our_tables(empty_engine) == set()
    migrate.upgrade(empty_engine, ACTOR)
    assert _our_tables(empty_engine) == set(Base.metadata.tables)
    assert migrate.current(empty_engine) is not None

    with empty_engine.connect() as conn:
        srids = dict(
            conn.execute(
                text(
                    "SELECT f_table_name, srid FROM geometry_columns"
                    " WHERE f_table_schema = 'public'"
                )
            ).all()
        )
        gist = {
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
            )
        }
    assert set(srids) == SPATIAL_TABLES
    assert set(srids.values()) == {4490}
    assert gist >= SPATIAL_TABLES

    migrate.downgrade(empty_engine, ACTOR, "base")
    assert _our_tables(empty_engine) == set()
    migrate.upgrade(empty_engine, ACTOR)
    assert _our_tables(empty_engine) == set(Base.metadata.tables)


def _include(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table" and name in {"spatial_ref_sys", "alembic_version"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def test_models_match_migrations(db_engine: Engine) -> None:
    """Autogenerate against the migrated test database finds nothing to change."""
    with db_engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": _include, "compare_type": True}
        )
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_0004_names_case_variant_usernames_instead_of_failing_on_the_index(
    empty_engine: Engine,
) -> None:
    """Usernames unique regardless of case: existing clashes are named, nothing is changed."""
    migrate.upgrade(empty_engine, ACTOR, "0002")
    with empty_engine.begin() as conn:
        for name in ("Chief-7", "chief-7", "other"):
            conn.execute(
                text(
                    "INSERT INTO accounts (username, password_hash, role, county_code, active,"
                    " is_demo, token_version, failed_logins)"
                    " VALUES (:n, 'x', 'county_office', '411003000000', true, false, 0, 0)"
                ),
                {"n": name},
            )
    with pytest.raises(RuntimeError, match="Chief-7, chief-7"):
        migrate.upgrade(empty_engine, ACTOR)
    assert "0004" not in (migrate.current(empty_engine) or "")
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET username = 'chief-7b' WHERE username = 'chief-7'"))
    migrate.upgrade(empty_engine, ACTOR)
    with empty_engine.begin() as conn, pytest.raises(IntegrityError):
        conn.execute(text("UPDATE accounts SET username = 'OTHER' WHERE username = 'chief-7b'"))

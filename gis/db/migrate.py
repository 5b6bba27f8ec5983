"""Schema migrations (Alembic) driven from code: the CLI and the tests both come through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect

from gis.audit import Actor, record
from gis.db.access_models import AuditLog

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, actor: Actor, revision: str = "heads") -> None:
    """Bring the schema up to ``revision`` (all branch heads by default) in one transaction.

    A change of revision is audited in that transaction (``migrate`` on ``alembic_version``).
    """
    with engine.begin() as conn:
        before = _heads(conn)
        command.upgrade(alembic_config(conn), revision)
        _record_change(conn, actor, before)


def downgrade(engine: Engine, actor: Actor, revision: str = "base") -> None:
    """Take the schema down to ``revision`` in one transaction; audited like ``upgrade``.

    Below revision 0002 the audit log itself is dropped, and with it every entry, this one too.
    """
    with engine.begin() as conn:
        before = _heads(conn)
        command.downgrade(alembic_config(conn), revision)
        _record_change(conn, actor, before)


def _heads(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return ",".join(sorted(MigrationContext.configure(conn).get_current_heads())) or None


def _record_change(conn: Connection, actor: Actor, before: str | None) -> None:
    after = _heads(conn)
    if after != before and inspect(conn).has_table(AuditLog.__tablename__):
        record(
            conn,
            actor,
            "migrate",
            "alembic_version",
            after,
            {"revision": before},
            {"revision": after},
        )


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _heads(conn)

"""Backup and restore of a gridsafe database with pg_dump / pg_restore, and table checksums.

The password travels in the ``PGPASSWORD`` environment variable of the child process, never on
its command line (where ``ps`` would show it). A restore runs in one transaction: a dump that
fails half-way leaves the database as it was.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from gis.db.local_server import find_bindir
from gis.errors import EmbeddedDatabaseError, InvalidInput

#: Base tables of the public schema that belong to no extension (PostGIS owns spatial_ref_sys).
_TABLES_SQL = """
SELECT c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (
    SELECT 1 FROM pg_depend d
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY c.relname
"""


@dataclass(frozen=True)
class TableChecksum:
    """Row count and an order-independent digest of one table's contents."""

    rows: int
    md5: str


def _client(program: str) -> Path:
    bindir = find_bindir()
    if bindir is None or not (bindir / program).exists():
        raise EmbeddedDatabaseError(
            f"{program} not found: install the PostgreSQL 15 client (postgresql-client-15)"
        )
    return bindir / program


def _connection_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Host/port/user/database as arguments and the password as environment, from a URL."""
    parsed = make_url(url)
    if not parsed.database:
        raise InvalidInput(f"database URL names no database: {parsed.render_as_string()}")
    args = ["--dbname", parsed.database]
    if parsed.host:
        args += ["--host", parsed.host]
    if parsed.port:
        args += ["--port", str(parsed.port)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LC_ALL": "C.UTF-8",
        "PGCONNECT_TIMEOUT": "10",
    }
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return args, env


def _run(argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise EmbeddedDatabaseError(
            f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        )


def backup(url: str, out: Path) -> Path:
    """Dump the database at ``url`` to ``out`` in pg_dump's custom format (compressed).

    The dump is written next to ``out`` and renamed into place when complete, so an interrupted
    backup never leaves a truncated file under the requested name.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    args, env = _connection_args(url)
    try:
        _run([str(_client("pg_dump")), "--format=custom", "--file", str(partial), *args], env)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def restore(url: str, dump: Path) -> None:
    """Replace the contents of the database at ``url`` with those of ``dump``.

    Objects in the dump are dropped and recreated (``--clean --if-exists``) in a single
    transaction; on any error nothing changes.
    """
    dump = Path(dump)
    if not dump.is_file():
        raise InvalidInput(f"no backup file at {dump}")
    args, env = _connection_args(url)
    # Read the table of contents first: a file that is not a dump fails here, before any drop.
    _run([str(_client("pg_restore")), "--list", str(dump)], env)
    _run(
        [
            str(_client("pg_restore")),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            *args,
            str(dump),
        ],
        env,
    )


def table_checksums(conn: Connection) -> dict[str, TableChecksum]:
    """Row count and md5 of the sorted row texts of every gridsafe table.

    Two databases with equal checksums hold the same rows (geometry included, as its EWKB hex).
    """
    result: dict[str, TableChecksum] = {}
    for (table,) in conn.execute(text(_TABLES_SQL)):
        quoted = conn.dialect.identifier_preparer.quote(table)
        rows, digest = conn.execute(
            text(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')"
                f" FROM {quoted} AS t"  # noqa: S608 - table names come from the catalogue
            )
        ).one()
        result[table] = TableChecksum(int(rows), str(digest))
    return result

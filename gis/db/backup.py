"""Backup and restore of a gridsafe database with pg_dump / pg_restore, and table checksums.

The password travels in the ``PGPASSWORD`` environment variable of the child process, never on
its command line (where ``ps`` would show it). A restore runs in one transaction: a dump that
fails half-way leaves the database as it was.

A restore replaces the audit log with the dump's, so it then appends its own entry (file, size,
SHA-256, who) and keeps the log append-only across the restore: entries the live log had beyond
the dump's last one are carried over when both logs share that entry (same history, the dump is
just older), and counted as replaced otherwise (see README, "Backup and restore").
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, func, insert, inspect, select, text
from sqlalchemy.engine import make_url

from gis.audit import Actor, record
from gis.db.access_models import AuditLog
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


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise EmbeddedDatabaseError(
            f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


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


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did to the audit log, and the id of its own entry."""

    file: str
    size: int
    sha256: str
    entry_id: int
    #: The last audit entry in the dump (None: the dump has no audit entries).
    dump_last_entry: int | None
    #: Live entries past the dump's last one, appended again after the restore (same history).
    carried: int
    #: Live entries past the dump's last one that the restore dropped (the logs diverge).
    replaced: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _dump_last_audit_id(dump: Path, env: dict[str, str]) -> int | None:
    """The highest ``audit_log.id`` in ``dump``, read from its data without restoring it."""
    argv = [
        str(_client("pg_restore")),
        "--data-only",
        "--table=audit_log",
        "--file=-",
        str(dump),
    ]
    last: int | None = None
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        id_column: int | None = None
        for line in proc.stdout:
            if id_column is None:
                header = re.match(r"COPY \S*audit_log \(([^)]*)\) FROM stdin;", line)
                if header:
                    id_column = [c.strip() for c in header.group(1).split(",")].index("id")
                continue
            if line.startswith("\\."):
                break
            value = int(line.split("\t")[id_column])
            last = value if last is None else max(last, value)
        proc.stdout.read()  # drain, so the child is not left writing into a closed pipe
        stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise EmbeddedDatabaseError(f"pg_restore failed ({proc.returncode}): {stderr[-2000:]}")
    return last


def _entry(conn: Connection, entry_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(AuditLog.__table__).where(AuditLog.id == entry_id)).mappings()
    found = row.first()
    return None if found is None else dict(found)


def _entries_after(conn: Connection, after_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(AuditLog.__table__).where(AuditLog.id > after_id).order_by(AuditLog.id)
    ).mappings()
    return [dict(r) for r in rows]


def _has_audit_log(conn: Connection) -> bool:
    return inspect(conn).has_table(AuditLog.__tablename__)


def restore(url: str, dump: Path, *, actor: Actor) -> RestoreReport:
    """Replace the contents of the database at ``url`` with those of ``dump``; audited.

    Objects in the dump are dropped and recreated (``--clean --if-exists``) in a single
    transaction; on any error nothing changes. Then, in one more transaction, the live log's
    entries past the dump's last one are appended again if both logs hold that same entry (an
    older dump of this database: its history continues, including the writes the restore just
    undid), and the restore's own ``restore`` entry is appended: file name, size, SHA-256, the
    operating-system user and ``actor``, and what happened to the log. Stop the service first:
    entries written between the read of the live log and the restore would be lost.
    """
    dump = Path(dump)
    if not dump.is_file():
        raise InvalidInput(f"no backup file at {dump}")
    args, env = _connection_args(url)
    # Read the table of contents first: a file that is not a dump fails here, before any drop.
    listing = _run([str(_client("pg_restore")), "--list", str(dump)], env)
    created = re.search(r"^; Archive created at (.+)$", listing, re.MULTILINE)
    size, sha256 = dump.stat().st_size, _sha256(dump)
    dump_last = _dump_last_audit_id(dump, env)

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            live = _has_audit_log(conn)
            shared = _entry(conn, dump_last) if live and dump_last is not None else None
            after_id = dump_last if dump_last is not None else 0
            tail = _entries_after(conn, after_id) if live else []
            live_last = conn.execute(select(func.max(AuditLog.id))).scalar() if live else None
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
        with engine.begin() as conn:
            kept = {e["id"]: e for e in _entries_after(conn, after_id)} if live else {}
            lost = [e for e in tail if kept.get(e["id"]) != e]
            # The live entries the restore dropped happened on this database. When the dump
            # shares the live log's history up to its last entry (an older backup of this
            # database), they are appended again, ids, times and actors unchanged, so the log
            # still says what was done (and, by the restore entry below, that it was undone).
            same_history = dump_last is None or (
                shared is not None and _entry(conn, shared["id"]) == shared
            )
            carried = (
                lost
                if lost and same_history and min(e["id"] for e in lost) > max(kept, default=0)
                else []
            )
            if carried:
                conn.execute(insert(AuditLog), carried)
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), "
                        "(SELECT max(id) FROM audit_log))"
                    )
                )
            entry_id = record(
                conn,
                actor,
                "restore",
                "database",
                dump.name,
                {"last_entry": live_last},
                {
                    "file": str(dump.resolve()),
                    "size": size,
                    "sha256": sha256,
                    "archive_created": created.group(1).strip() if created else None,
                    "os_user": _os_user(),
                    "dump_last_entry": dump_last,
                    "carried_entries": len(carried),
                    "replaced_entries": len(lost) - len(carried),
                },
            )
    finally:
        engine.dispose()
    return RestoreReport(
        file=dump.name,
        size=size,
        sha256=sha256,
        entry_id=entry_id,
        dump_last_entry=dump_last,
        carried=len(carried),
        replaced=len(lost) - len(carried),
    )


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return None


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

"""``gridsafe backup`` and ``gridsafe restore``: pg_dump / pg_restore of the configured database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gis.settings import get_settings


def _url() -> str:
    """The configured database URL, or the embedded cluster's (started if it is stopped)."""
    from gis.db.engine import database_url

    return database_url(get_settings())


def _summary(url: str) -> str:
    from sqlalchemy import create_engine

    from gis.db.backup import table_checksums

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            sums = table_checksums(conn)
    finally:
        engine.dispose()
    busy = {name: s.rows for name, s in sums.items() if s.rows}
    return (
        f"{len(sums)} tables, {sum(busy.values())} rows ("
        + ", ".join(f"{name} {rows}" for name, rows in sorted(busy.items()))
        + ")"
    )


def cmd_backup(args: argparse.Namespace) -> int:
    from gis.db.backup import backup

    url = _url()
    out = backup(url, Path(args.out))
    print(f"backup written to {out} ({out.stat().st_size:,} bytes): {_summary(url)}", flush=True)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from gis.audit import Actor
    from gis.db.backup import restore

    url = _url()
    if not args.yes and sys.stdin.isatty():
        answer = input(f"replace every table of {url.split('@')[-1]} with {args.file}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("restore cancelled", flush=True)
            return 1
    # The deployment's town, so its safety office sees the restore in its audit log.
    actor = Actor.system("cli:restore", town_code=get_settings().town_code)
    done = restore(url, Path(args.file), actor=actor)
    print(f"restored {args.file}: {_summary(url)}", flush=True)
    print(
        f"audit entry #{done.entry_id}: sha256 {done.sha256}, {done.size:,} bytes; "
        f"entries after the dump's last (#{done.dump_last_entry}): "
        f"{done.carried} kept, {done.replaced} replaced",
        flush=True,
    )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``backup`` and ``restore`` on the gridsafe command line."""
    backup = sub.add_parser("backup", help="dump the database to a file (pg_dump custom format)")
    backup.add_argument("--out", required=True, help="file to write, e.g. gridsafe-2024-06-01.dump")
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser(
        "restore", help="replace the database contents with a backup (one transaction)"
    )
    restore.add_argument("file", help="a file written by `gridsafe backup`")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(func=cmd_restore)

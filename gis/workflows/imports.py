"""Importing a ledger or GIS file: every door (API, CLI) runs this one workflow.

It owns the savepoint (a dry run rolls back whatever the importer wrote) and writes the audit
entry inside the same transaction as the rows, so an import is audited however it arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from sqlalchemy import Connection

from gis.audit import Actor, record
from gis.io.importers import ImportReport, import_units, import_villages
from gis.io.readers import Coords, Format

Dataset = Literal["units", "villages"]


def import_file(
    conn: Connection,
    dataset: Dataset,
    path: Path,
    *,
    town_code: str,
    actor: Actor,
    coords: Coords = "wgs84",
    fmt: Format | None = None,
    dry_run: bool = False,
    source_name: str | None = None,
) -> ImportReport:
    """Import ``path`` into ``dataset`` of ``town_code`` in the caller's transaction; audited.

    A dry run validates and classifies every row exactly as a real run does, then rolls its
    savepoint back: nothing is written and nothing is audited. ``source_name`` is the name the
    user knows the file by (an upload's own name, not the server's temporary path).
    """
    importer = import_units if dataset == "units" else import_villages
    savepoint = conn.begin_nested()
    try:
        report = importer(conn, path, town_code=town_code, fmt=fmt, coords=coords)
    except BaseException:
        savepoint.rollback()
        raise
    report.source = source_name or path.name
    if dry_run:
        savepoint.rollback()
        return report
    savepoint.commit()
    record(
        conn,
        actor,
        "import",
        dataset,
        report.source,
        None,
        {
            "inserted": report.inserted_keys,
            "updated": report.updated_keys,
            "unchanged": report.unchanged,
            "rows": report.rows,
        },
        town_code=town_code,
    )
    return report

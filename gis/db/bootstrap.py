"""Bring a database to a usable state: migrate, load reference data, load a town dataset once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from gis.audit import Actor, record
from gis.db import migrate
from gis.db.models import (
    ChecklistTemplate,
    Department,
    IndustryDepartment,
    InspectionFrequencyRule,
    Town,
)
from gis.db.reference import load_reference
from gis.io.dataset import LoadReport, load_dataset, read_layer

#: The shared reference tables ``load_reference`` upserts from ``data/reference``.
REFERENCE_TABLES = tuple(
    m.__tablename__
    for m in (Department, IndustryDepartment, InspectionFrequencyRule, ChecklistTemplate)
)


def prepare(engine: Engine, reference_dir: Path, *, actor: Actor) -> None:
    """Migrate to head and upsert the reference tables; each change audited, as ``actor``.

    Every start runs this, so only a real change is recorded: a new schema revision
    (``migrate``) or a reference table whose contents differ afterwards (``reference``, one
    entry per table, with its row count and digest before and after).
    """
    migrate.upgrade(engine, actor)
    with engine.begin() as conn:
        before = {t: _digest(conn, t) for t in REFERENCE_TABLES}
        load_reference(conn, reference_dir)
        for table in REFERENCE_TABLES:
            after = _digest(conn, table)
            if after != before[table]:
                record(
                    conn,
                    actor,
                    "reference",
                    table,
                    reference_dir.name,
                    before[table],
                    after,
                )


def _digest(conn: Connection, table: str) -> dict[str, Any]:
    """Row count and md5 of a reference table's contents, surrogate ids left out (the shared
    三管三必须 rows are deleted and inserted again on every start, under new ids)."""
    quoted = conn.dialect.identifier_preparer.quote(table)
    rows, digest = conn.execute(
        text(
            "SELECT count(*), coalesce(md5(string_agg(r, E'\\n' ORDER BY r)), '') FROM "
            f"(SELECT (to_jsonb(t) - 'id')::text AS r FROM {quoted} AS t) AS s"  # noqa: S608
        )
    ).one()
    return {"rows": int(rows), "md5": str(digest)}


def load_dataset_once(engine: Engine, dataset_dir: Path, *, actor: Actor) -> LoadReport | None:
    """Load a dataset unless its town is already there; None when it was already loaded.

    The load is audited (``load`` on ``towns``, keyed by the town code, with the rows per table)
    in the transaction that writes it, whichever command asked for it (``gridsafe demo``,
    ``gridsafe generate --load``).
    """
    town_code = str(read_layer(dataset_dir / "town.geojson")["code"].iloc[0])
    with engine.begin() as conn:
        if conn.execute(select(Town.code).where(Town.code == town_code)).first():
            return None
        report = load_dataset(conn, dataset_dir)
        record(
            conn,
            actor,
            "load",
            "towns",
            town_code,
            None,
            {"source": Path(dataset_dir).name, "rows": report.rows},
            town_code=town_code,
        )
        return report

"""Bring a database to a usable state: migrate, load reference data, load a town dataset once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from gis.audit import Actor, record
from gis.db import migrate
from gis.db.models import Town
from gis.db.reference import load_reference
from gis.io.dataset import LoadReport, load_dataset, read_layer


def prepare(engine: Engine, reference_dir: Path) -> None:
    """Migrate to head and upsert the reference tables."""
    migrate.upgrade(engine)
    with engine.begin() as conn:
        load_reference(conn, reference_dir)


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

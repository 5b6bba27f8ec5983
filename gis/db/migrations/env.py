"""Alembic environment: runs migrations on the connection handed over by gis.db.migrate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection, create_engine

if TYPE_CHECKING:
    from alembic.runtime.environment import NameFilterType
    from sqlalchemy.schema import SchemaItem

from gis.db.all_models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(
    obj: SchemaItem,
    name: str | None,
    type_: NameFilterType,
    reflected: bool,
    compare_to: SchemaItem | None,
) -> bool:
    # Tables owned by extensions (PostGIS, pgRouting) are not ours to manage.
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    include: bool = alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
    return include


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no connection handed over (gis.db.migrate) and no sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()

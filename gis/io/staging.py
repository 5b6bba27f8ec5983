"""Set-based upsert of validated import rows: COPY into a temporary staging table, then one
``INSERT … SELECT … ON CONFLICT DO UPDATE`` that also tells inserts, updates and unchanged rows
apart — any number of rows in the caller's transaction (one multi-row INSERT with bound
parameters stops at psycopg's 65 535 parameters, about 3 600 units)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
import shapely
from sqlalchemy import Connection, Table, text
from sqlalchemy.exc import DBAPIError

from gis.crs import STORAGE_SRID
from gis.errors import ImportRejected, RowProblem

STAGING = "gridsafe_import_staging"
#: Geometries within this many degrees (~0.1 mm) of the stored one count as unchanged.
GEOMETRY_TOLERANCE_DEG = 1e-9
#: Where the database says which staging line failed ("COPY gridsafe_import_staging, line 3").
_COPY_LINE = re.compile(r"line (\d+)")
DATABASE_FIELD = "(数据库)"


@dataclass(frozen=True)
class UpsertSpec:
    """How one table is upserted: its natural key, what is compared, what is rewritten."""

    table: Table
    key: tuple[str, ...]  # join columns of the natural key (e.g. town_code, uscc)
    conflict: str  # ON CONFLICT target: "ON CONSTRAINT name" or "(column)"
    report_key: str  # the column reported in inserted/updated keys
    touch_updated_at: bool = False


@dataclass
class UpsertResult:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0


def _copy_value(value: Any) -> Any:
    value = getattr(value, "value", value)  # enums travel as their stored text
    if isinstance(value, np.generic):
        return value.item()
    return value


def _raw(conn: Connection) -> psycopg.Connection[Any]:
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def _broken(conn: Connection, exc: BaseException) -> bool:
    """A lost connection is an outage (503), not a problem of the file."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    raw = conn.connection.driver_connection
    return isinstance(orig, psycopg.OperationalError) and (
        not isinstance(raw, psycopg.Connection) or raw.broken or raw.closed
    )


def _rejection(
    exc: BaseException,
    records: Sequence[dict[str, Any]],
    rows: Sequence[int],
    spec: UpsertSpec,
    source: str,
) -> ImportRejected:
    """The database's refusal as a row problem: the row when the database names it."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(orig).splitlines()[0]
    detail = getattr(diag, "message_detail", None) or ""
    context = getattr(diag, "context", None) or ""
    column = getattr(diag, "column_name", None) or getattr(diag, "constraint_name", None)
    row = 0
    match = _COPY_LINE.search(context) if STAGING in context else None
    if match and 0 < int(match.group(1)) <= len(rows):
        row = rows[int(match.group(1)) - 1]
    elif detail:
        row = next(
            (n for r, n in zip(records, rows, strict=True) if str(r[spec.report_key]) in detail),
            0,
        )
    reason = f"数据库拒绝写入，未导入任何数据：{primary}" + (f"（{detail}）" if detail else "")
    field_name = f"{DATABASE_FIELD} {column}" if column else DATABASE_FIELD
    return ImportRejected([RowProblem(row, field_name, reason)], source)


def upsert(
    conn: Connection,
    spec: UpsertSpec,
    records: Sequence[dict[str, Any]],
    rows: Sequence[int],
    *,
    compared: Sequence[str],
    source: str = "",
) -> UpsertResult:
    """Write ``records`` (dicts of column values, ``geom`` a Shapely geometry in EPSG:4490)
    into ``spec.table`` in the caller's transaction, inside a savepoint.

    Every record carries the same columns. Rows whose ``compared`` columns and geometry equal
    the stored row are left alone (not even ``updated_at`` moves); new keys are inserted; the
    others updated — the ``compared`` columns and the geometry only.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    spec
        The table, its natural key and conflict target.
    records
        Validated rows as column values.
    rows
        The source row number of each record, to name the row if the database refuses one.
    compared
        Columns that decide "unchanged" and that an update rewrites.
    source
        File name for the rejection message.

    Returns
    -------
    UpsertResult
        The report keys inserted and updated (in record order) and the unchanged count.

    Raises
    ------
    ImportRejected
        When the database refuses a value (nothing is written); a lost connection is re-raised.
    """
    result = UpsertResult()
    if not records:
        return result
    columns = list(records[0])
    table = spec.table.name
    geoms = shapely.set_srid(np.array([r["geom"] for r in records], dtype=object), STORAGE_SRID)
    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
    plain = [c for c in columns if c != "geom"]
    compare = [c for c in compared if c in columns and c != "geom"]
    on_key = " AND ".join(f"t.{k} = s.{k}" for k in spec.key)
    same_values = (
        f"({', '.join(f's.{c}' for c in compare)}) IS NOT DISTINCT FROM "
        f"({', '.join(f't.{c}' for c in compare)})"
        if compare
        else "TRUE"
    )
    assignments = [f"{c} = EXCLUDED.{c}" for c in [*compare, "geom"]]
    if spec.touch_updated_at:
        assignments.append("updated_at = now()")
    col_list = ", ".join(columns)
    statement = f"""
        WITH changed AS (
            SELECT s.*, t.{spec.key[-1]} IS NULL AS is_new
            FROM {STAGING} s LEFT JOIN {table} t ON {on_key}
            WHERE t.{spec.key[-1]} IS NULL
               OR NOT ({same_values})
               OR ST_HausdorffDistance(s.geom, t.geom) > {GEOMETRY_TOLERANCE_DEG}
        ), written AS (
            INSERT INTO {table} ({col_list})
            SELECT {col_list} FROM changed ORDER BY line
            ON CONFLICT {spec.conflict} DO UPDATE SET {", ".join(assignments)}
            RETURNING 1
        )
        -- Every changed row is written (DO UPDATE has no WHERE), so "changed" is the answer;
        -- the count guards that. (A join back on the RETURNING rows ran as a nested loop.)
        SELECT {spec.report_key}, is_new, (SELECT count(*) FROM written) AS n_written
        FROM changed ORDER BY line
    """  # noqa: S608 - table and column names come from the models, values are COPYed
    try:
        with conn.begin_nested():
            conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{STAGING}"))
            conn.execute(
                text(
                    f"CREATE TEMP TABLE {STAGING} ON COMMIT DROP AS "  # noqa: S608 - model names
                    f"SELECT {col_list} FROM {table} WITH NO DATA"
                )
            )
            conn.execute(text(f"ALTER TABLE {STAGING} ADD COLUMN line integer"))
            raw = _raw(conn)
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY {STAGING} ({', '.join(plain)}, geom, line) FROM STDIN") as copy,
            ):
                for line, (record, wkb) in enumerate(zip(records, ewkb, strict=True), start=1):
                    copy.write_row([*(_copy_value(record[c]) for c in plain), wkb, line])
            conn.execute(text(f"ANALYZE {STAGING}"))
            written = conn.execute(text(statement)).all()
            conn.execute(text(f"DROP TABLE pg_temp.{STAGING}"))
    except (DBAPIError, psycopg.Error) as exc:
        if _broken(conn, exc):
            raise
        raise _rejection(exc, records, rows, spec, source) from exc
    for key, is_new, n_written in written:
        assert n_written == len(written), "every changed row must be written"
        (result.inserted if is_new else result.updated).append(str(key))
    result.unchanged = len(records) - len(written)
    return result

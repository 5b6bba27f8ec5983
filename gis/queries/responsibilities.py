"""Time-versioned responsibility records: who held which slot on a date, closing and opening them.

A record holds from ``valid_from`` (inclusive) to ``valid_to`` (exclusive, null = still current),
so "who was responsible for unit U on date D" is one indexed range predicate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    insert,
    or_,
    select,
    true,
    update,
)

from gis.access import Scope, scope_clause
from gis.access import held_on as held_on  # re-exported: the one "held on a date" predicate
from gis.db.models import Responsibility, Staff, Unit, Village


def responsibilities_on(
    town: str, on: dt.date, scope: Scope, people_in_scope: bool = True
) -> Select[*tuple[Any, ...]]:
    """Every record of ``town`` in force on ``on``, with the holder's name, phone and role.

    With ``people_in_scope`` (the default) only holders the scope may see as staff are listed;
    ``False`` lists every holder of a visible slot (used only to tell filled from empty slots).
    """
    return (
        select(
            Responsibility.id,
            Responsibility.staff_id,
            Responsibility.role,
            Responsibility.village_code,
            Responsibility.unit_id,
            Responsibility.valid_from,
            Responsibility.reason,
            Staff.code.label("staff_code"),
            Staff.name.label("staff_name"),
            Staff.phone,
            Staff.department_code,
            Staff.role.label("staff_role"),
        )
        .join(Staff, Staff.id == Responsibility.staff_id)
        .where(
            Responsibility.town_code == town,
            held_on(on),
            scope_clause(Responsibility, scope),
            scope_clause(Staff, scope) if people_in_scope else true(),
        )
        .order_by(
            Responsibility.role,
            Responsibility.village_code,
            Responsibility.unit_id,
            Responsibility.staff_id,
        )
    )


def responsible_for_unit(unit_id: int, on: dt.date, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Who was responsible for unit ``unit_id`` on ``on``: its inspector, its 五包一 team and
    the chief and members of the grid the unit lies in."""
    unit = select(Unit.village_code).where(Unit.id == unit_id).scalar_subquery()
    return (
        select(
            Responsibility.id,
            Responsibility.role,
            Responsibility.staff_id,
            Staff.code.label("staff_code"),
            Staff.name.label("staff_name"),
            Staff.phone,
            Staff.department_code,
            Responsibility.unit_id,
            Responsibility.village_code,
            Responsibility.valid_from,
            Responsibility.valid_to,
            Responsibility.reason,
        )
        .join(Staff, Staff.id == Responsibility.staff_id)
        .where(
            or_(Responsibility.unit_id == unit_id, Responsibility.village_code == unit),
            held_on(on),
            scope_clause(Responsibility, scope),
            scope_clause(Staff, scope),
        )
        .order_by(Responsibility.role, Responsibility.staff_id)
    )


def unit_in_scope(unit_id: int, scope: Scope) -> Select[int, str, str, str | None]:
    return select(Unit.id, Unit.town_code, Unit.name, Unit.village_code).where(
        Unit.id == unit_id, scope_clause(Unit, scope)
    )


def village_names(town: str, scope: Scope) -> Select[str, str]:
    return select(Village.code, Village.name).where(
        Village.town_code == town, scope_clause(Village, scope)
    )


def close(conn: Connection, ids: Sequence[int], on: dt.date, reason: str | None = None) -> int:
    """End records ``ids`` on ``on`` (exclusive); returns how many were still open and closed.

    Only records still open and begun before ``on`` are touched, so a concurrent run cannot
    close a record twice; a record begun on ``on`` itself is deleted instead (it never held).
    """
    if not ids:
        return 0
    stmt = (
        update(Responsibility)
        .where(
            Responsibility.id.in_(list(ids)),
            Responsibility.valid_to.is_(None),
            Responsibility.valid_from < on,
        )
        .values(valid_to=on)
    )
    closed = conn.execute(stmt).rowcount
    same_day = Responsibility.__table__.delete().where(
        Responsibility.id.in_(list(ids)),
        Responsibility.valid_to.is_(None),
        Responsibility.valid_from >= on,
    )
    return int(closed) + int(conn.execute(same_day).rowcount)


def open_records(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert new current records (keys: town_code, staff_id, role, village_code, unit_id,
    valid_from, reason)."""
    batch = [dict(r) for r in rows]
    if batch:
        conn.execute(insert(Responsibility), batch)
    return len(batch)

"""Selects behind the due lists: the units a scope may see with what the rules read, and each
unit's latest inspection up to a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, func, select

from gis.access import Scope, scope_clause
from gis.db.models import Inspection, Unit


def rule_units(town: str, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Every unit of ``town`` within scope, every status, with the columns rules may name."""
    return (
        select(
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.address,
            Unit.village_code,
            Unit.department_code,
            Unit.industry_code,
            Unit.status,
            Unit.high_risk,
            Unit.risk_color,
            Unit.fire_key_level,
        )
        .where(Unit.town_code == town, scope_clause(Unit, scope))
        .order_by(Unit.id)
    )


def latest_inspections(town: str, until: dt.date) -> Select[int | None, dt.date]:
    """Each unit's latest inspection of ``town`` on or before ``until``."""
    return (
        select(Inspection.unit_id, func.max(Inspection.inspected_on).label("last"))
        .where(
            Inspection.town_code == town,
            Inspection.unit_id.is_not(None),
            Inspection.inspected_on <= until,
        )
        .group_by(Inspection.unit_id)
    )

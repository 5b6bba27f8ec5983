"""Who answers for each unit and when it is next due: what a map popup tells a grid chief."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection, func, select

from gis.access import Scope, scope_clause
from gis.analysis.inspection_frequency import inspection_status
from gis.db.models import Inspection, InspectionFrequencyRule, Responsibility, Staff, Unit
from gis.domain import ResponsibilityRole
from gis.queries.responsibilities import held_on

#: The five slots of a 五包一 team, in the order a popup lists them.
TEAM_ROLES = (
    ResponsibilityRole.TEAM_REGULATOR,
    ResponsibilityRole.TEAM_TOWN_CADRE,
    ResponsibilityRole.TEAM_VILLAGE_STAFF,
    ResponsibilityRole.TEAM_FIRE_POLICE,
    ResponsibilityRole.TEAM_PROFESSIONAL,
)


@dataclass
class UnitDuties:
    """The unit's inspector(s), its 五包一 team as (role label, name), and its next due date."""

    inspectors: list[str] = field(default_factory=list)
    team: list[tuple[str, str]] = field(default_factory=list)
    #: None when the unit was never inspected (due at once) or has no obligation.
    next_due: dt.date | None = None


def unit_duties(
    conn: Connection, unit_ids: Sequence[int], scope: Scope, on: dt.date
) -> dict[int, UnitDuties]:
    """Duties of the units ``unit_ids`` on ``on``, naming only staff ``scope`` may see.

    Three selects (responsibilities, units with their rule columns, latest inspections) whatever
    the number of units; the due date comes from the same frequency rules as coverage gaps.
    """
    ids = sorted(set(unit_ids))
    duties = {i: UnitDuties() for i in ids}
    if not ids:
        return duties
    held = conn.execute(
        select(Responsibility.unit_id, Responsibility.role, Staff.name)
        .join(Staff, Staff.id == Responsibility.staff_id)
        .where(
            Responsibility.unit_id.in_(ids),
            held_on(on),
            scope_clause(Responsibility, scope),
            scope_clause(Staff, scope),
        )
        .order_by(Responsibility.unit_id, Responsibility.role, Staff.name)
    ).all()
    for unit_id, role, name in held:
        if unit_id is None:  # excluded by the WHERE clause; the column is nullable
            continue
        role = ResponsibilityRole(role)
        if role is ResponsibilityRole.UNIT_INSPECTOR:
            duties[unit_id].inspectors.append(name)
        elif role in TEAM_ROLES:
            duties[unit_id].team.append((role.label, name))
    for d in duties.values():
        d.team.sort(key=lambda t: [r.label for r in TEAM_ROLES].index(t[0]))
    units = pd.DataFrame(
        conn.execute(
            select(Unit.id, Unit.status, Unit.high_risk, Unit.risk_color, Unit.fire_key_level)
            .where(Unit.id.in_(ids))
            .order_by(Unit.id)
        ).all(),
        columns=["id", "status", "high_risk", "risk_color", "fire_key_level"],
    )
    last = conn.execute(
        select(Inspection.unit_id, func.max(Inspection.inspected_on))
        .where(Inspection.unit_id.in_(ids), Inspection.inspected_on <= on)
        .group_by(Inspection.unit_id)
    ).all()
    rules = pd.DataFrame(
        conn.execute(
            select(
                InspectionFrequencyRule.rule,
                InspectionFrequencyRule.priority,
                InspectionFrequencyRule.interval_months,
            )
        ).all(),
        columns=["rule", "priority", "interval_months"],
    )
    last_by_unit = pd.Series([d for _, d in last], index=[u for u, _ in last], dtype=object)
    status = inspection_status(units, last_by_unit, rules, on)
    for row in status.itertuples():
        due = row.due_on
        duties[int(row.unit_id)].next_due = None if due is None or pd.isna(due) else due
    return duties

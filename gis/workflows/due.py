"""The due list of a town for a month or quarter: units, their rule and clause, the people
responsible today."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select

from gis.access import Scope
from gis.analysis.due import Period, due_in_period, parse_period
from gis.db.models import InspectionFrequencyRule
from gis.domain import ResponsibilityRole
from gis.errors import InvalidInput, NotFound
from gis.queries import due as q
from gis.queries.assignments import frame
from gis.queries.coverage import town_codes_for
from gis.queries.responsibilities import responsibilities_on


def period_of(text: str) -> Period:
    """:func:`parse_period` with the domain error the API maps to 422."""
    try:
        return parse_period(text)
    except ValueError as exc:
        raise InvalidInput(f"period 无效 (invalid period): {exc}") from exc


def _people(conn: Connection, town: str, today: dt.date, scope: Scope) -> pd.DataFrame:
    people = frame(conn, responsibilities_on(town, today, scope))
    people["role_label"] = people["role"].map(lambda r: ResponsibilityRole(r).label)
    return people


def due_list(
    conn: Connection,
    period: Period,
    scope: Scope,
    *,
    town: str,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Every unit of ``town`` the scope may see that is due or overdue in ``period``.

    Each row carries its rule, the clause the rule implements, the last inspection, the due
    date and the people responsible for it ``today`` (its inspector, its 五包一 team and its
    village's grid chief and members), naming only staff the scope may see.
    """
    today = today or scope.as_of
    if town not in town_codes_for(conn, scope, town):
        raise NotFound(f"镇 {town} 不存在或不在您的管辖范围内 (unknown or out-of-scope town)")
    units = frame(conn, q.rule_units(town, scope))
    empty = {"town": town, "period": period, "today": today, "units": []}
    if units.empty:
        return empty
    rules = frame(conn, select(InspectionFrequencyRule))
    last = frame(conn, q.latest_inspections(town, period.end))
    last_by_unit = pd.Series(last["last"].to_numpy(), index=last["unit_id"].to_numpy())
    due = due_in_period(units, last_by_unit, rules, period)
    people = _people(conn, town, today, scope)
    by_unit = {k: g for k, g in people[people["unit_id"].notna()].groupby("unit_id")}
    by_village = {k: g for k, g in people[people["village_code"].notna()].groupby("village_code")}
    info = units.set_index("id")
    rows = []
    for r in due.itertuples(index=False):
        u = info.loc[r.unit_id]
        held = [
            g for g in (by_unit.get(r.unit_id), by_village.get(u["village_code"])) if g is not None
        ]
        responsible = [
            {
                "staff_id": int(p.staff_id),
                "code": p.staff_code,
                "name": p.staff_name,
                "phone": p.phone,
                "department_code": p.department_code,
                "role": p.role,
                "role_label": p.role_label,
            }
            for g in held
            for p in g.itertuples(index=False)
        ]
        rows.append(
            {
                "unit_id": int(r.unit_id),
                "code": u["code"],
                "name": u["name"],
                "address": u["address"],
                "village_code": u["village_code"],
                "department_code": u["department_code"],
                "status": u["status"],
                "rule": r.rule,
                "interval_months": int(r.interval_months),
                "clause": r.clause,
                "last_inspected_on": r.last_inspected_on,
                "due_on": r.due_on,
                "state": r.state,
                "responsible": responsible,
            }
        )
    return {**empty, "units": rows}

"""Inspection frequency: which rule applies to a unit, when its next inspection is due.

The rules are data: the ``inspection_frequency_rules`` table, loaded from
``data/reference/inspection_frequency.csv``. Each rule's ``applies_to`` is an expression over a
unit's columns (``high_risk == true``, ``risk_color in (red, orange)``, ``*``) evaluated here, so
the table alone says which units a rule covers and coverage gaps, due lists and routes agree on
who is overdue. Every unit is under some rule: suspended and closed ones too (seed 000 四(四)).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

import numpy as np
import pandas as pd

#: The unit columns an ``applies_to`` expression may name.
UNIT_COLUMNS = ("high_risk", "risk_color", "fire_key_level", "status")
RULE_COLUMNS = ("rule", "priority", "applies_to", "interval_months")

_TERM = re.compile(
    r"^\s*(?P<column>[a-z_]+)\s*(?:(?P<op>==|!=)\s*(?P<value>[A-Za-z0-9_]+)"
    r"|(?P<neg>not\s+)?in\s*\((?P<values>[^()]*)\))\s*$"
)

Predicate = tuple[tuple[str, bool, frozenset[str]], ...]


@cache
def parse_applies_to(expr: str) -> Predicate:
    """``applies_to`` as terms ``(column, negated, values)``, all of which must hold.

    The grammar is deliberately tiny (no ``eval``): ``*`` (every unit), or terms joined by
    ``and``, each ``column == value``, ``column != value``, ``column in (a, b)`` or
    ``column not in (a, b)``; ``true``/``false`` compare with boolean columns.

    Examples
    --------
    >>> parse_applies_to("status not in (closed) and high_risk == true")
    (('status', True, frozenset({'closed'})), ('high_risk', False, frozenset({'true'})))
    """
    if expr.strip() == "*":
        return ()
    terms = []
    for part in re.split(r"\s+and\s+", expr.strip()):
        m = _TERM.match(part)
        if m is None:
            raise ValueError(f"applies_to {expr!r}: cannot read term {part!r}")
        if m["column"] not in UNIT_COLUMNS:
            raise ValueError(f"applies_to {expr!r}: unknown column {m['column']!r}")
        if m["op"]:
            values = frozenset({m["value"]})
            negated = m["op"] == "!="
        else:
            values = frozenset(v.strip() for v in m["values"].split(",") if v.strip())
            negated = bool(m["neg"])
        terms.append((m["column"], negated, values))
    return tuple(terms)


def rule_matches(expr: str, units: pd.DataFrame) -> pd.Series:
    """Which of ``units`` the ``applies_to`` expression ``expr`` covers (a boolean Series)."""
    hit = pd.Series(True, index=units.index)
    for column, negated, values in parse_applies_to(expr):
        col = units[column]
        if col.dtype == bool or column == "high_risk":
            text = col.fillna(False).astype(bool).map({True: "true", False: "false"})
        else:
            text = (
                col.astype("object")
                .where(col.notna(), None)
                .map(lambda v: None if v is None else str(v))
            )
        inside = text.isin(values)
        hit &= ~inside if negated else inside
    return hit


def applicable_rules(units: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """The frequency rule that applies to each unit: the matching rule of lowest ``priority``.

    Parameters
    ----------
    units : pandas.DataFrame
        One row per unit with the columns ``applies_to`` expressions name (``UNIT_COLUMNS``).
    rules : pandas.DataFrame
        The ``inspection_frequency_rules`` table: ``rule``, ``priority``, ``applies_to``,
        ``interval_months`` and, when present, ``clause``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``units``, with ``rule``, ``interval_months`` and ``clause`` (None when the
        table has no clause column).

    Examples
    --------
    >>> units = pd.DataFrame({"high_risk": [True, False], "risk_color": ["blue", "blue"],
    ...                       "fire_key_level": ["none", "none"], "status": ["operating"] * 2})
    >>> rules = pd.DataFrame({"rule": ["high_risk_industry", "default"], "priority": [1, 9],
    ...                       "applies_to": ["high_risk == true", "*"], "interval_months": [1, 3]})
    >>> applicable_rules(units, rules)["interval_months"].tolist()
    [1, 3]
    """
    missing = [c for c in RULE_COLUMNS if c not in rules.columns]
    if missing:
        raise ValueError(f"rules lacks column(s) {missing}")
    needed = {c for expr in rules["applies_to"] for c, _, _ in parse_applies_to(str(expr))}
    missing = sorted(needed - set(units.columns))
    if missing:
        raise ValueError(f"units lacks column(s) {missing}")
    rule = pd.Series(pd.NA, index=units.index, dtype="object")
    months = pd.Series(pd.NA, index=units.index, dtype="Int64")
    clause = pd.Series(None, index=units.index, dtype="object")
    has_clause = "clause" in rules.columns
    # Lowest priority wins: apply from the highest down so later (stronger) rules overwrite.
    for row in rules.sort_values("priority", ascending=False).to_dict("records"):
        hit = rule_matches(str(row["applies_to"]), units).to_numpy(dtype=bool)
        rule[hit] = row["rule"]
        months[hit] = int(row["interval_months"])
        if has_clause:
            clause[hit] = row["clause"]
    if rule.isna().any():
        raise ValueError("no frequency rule applies to some units: the table needs a '*' rule")
    return pd.DataFrame({"rule": rule, "interval_months": months.astype(int), "clause": clause})


def add_months(dates: pd.Series, months: pd.Series) -> pd.Series:
    """``dates`` plus ``months`` calendar months, the day clipped to the month's end."""
    d = pd.to_datetime(dates)
    total = d.dt.year * 12 + (d.dt.month - 1) + months.astype(int)
    year, month = total // 12, total % 12 + 1
    first = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    last_day = (first + pd.offsets.MonthEnd(0)).dt.day
    day = np.minimum(d.dt.day, last_day)
    return pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day})).dt.date


def inspection_status(
    units: pd.DataFrame,
    last_inspected: pd.Series,
    rules: pd.DataFrame,
    as_of: dt.date,
) -> pd.DataFrame:
    """Each obliged unit's rule, last inspection, due date and whether it is overdue on ``as_of``.

    A unit is overdue when it was never inspected, or when ``as_of`` is after its last inspection
    plus the rule's interval. Every unit is listed: suspended and closed units fall under the
    rule the table gives them (more patrols, not none).

    Parameters
    ----------
    units : pandas.DataFrame
        ``id``, ``status`` and the columns of :func:`applicable_rules`.
    last_inspected : pandas.Series
        Date of each unit's latest inspection on or before ``as_of``, indexed by unit id.
    rules : pandas.DataFrame
        The frequency rules table.
    as_of : datetime.date
        The day the question is asked.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``rule``, ``interval_months``, ``clause``, ``last_inspected_on`` (None if
        never), ``due_on`` (None if never inspected), ``overdue`` and ``days_overdue``.
    """
    if "id" not in units.columns or "status" not in units.columns:
        raise ValueError("units needs columns id and status")
    obliged = units
    applied = applicable_rules(obliged, rules)
    last = obliged["id"].map(last_inspected)
    last = last.where(pd.notna(last), None)
    inspected = last.notna()
    due = pd.Series(None, index=obliged.index, dtype="object")
    if inspected.any():
        due[inspected] = add_months(last[inspected], applied["interval_months"][inspected])
    due_ts = pd.to_datetime(due)
    as_of_ts = pd.Timestamp(as_of)
    overdue = (~inspected) | (due_ts < as_of_ts)
    days = (as_of_ts - due_ts).dt.days.where(inspected, other=np.nan)
    return pd.DataFrame(
        {
            "unit_id": obliged["id"].to_numpy(),
            "rule": applied["rule"].to_numpy(),
            "interval_months": applied["interval_months"].to_numpy(),
            "clause": applied["clause"].to_numpy(),
            "last_inspected_on": last.to_numpy(),
            "due_on": due.to_numpy(),
            "overdue": overdue.to_numpy(dtype=bool),
            "days_overdue": days.clip(lower=0).to_numpy(),
        }
    )

"""Inspection frequency: which rule applies to a unit, when its next inspection is due.

The rules themselves (priority, interval) are data: the ``inspection_frequency_rules`` table,
loaded from ``data/reference/inspection_frequency.csv``. This module is the one place that says
what each rule's ``applies_to`` means for a unit row, so coverage gaps, schedules and reports all
agree on who is overdue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd

from gis.domain import FireKeyLevel, OperatingStatus, RiskColor

UnitPredicate = Callable[[pd.DataFrame], "pd.Series[bool]"]

#: What each rule name in the table means, evaluated on a frame of units.
RULE_PREDICATES: dict[str, UnitPredicate] = {
    "high_risk_industry": lambda u: u["high_risk"].fillna(False).astype(bool),
    "red_orange_risk": lambda u: u["risk_color"].isin([RiskColor.RED, RiskColor.ORANGE]),
    "fire_key_unit": lambda u: u["fire_key_level"].fillna(FireKeyLevel.NONE) != FireKeyLevel.NONE,
    "default": lambda u: pd.Series(True, index=u.index),
}

#: Units under an inspection obligation: operating ones (suspended and closed units are not).
OBLIGED_STATUSES = (OperatingStatus.OPERATING, OperatingStatus.SEASONAL)

UNIT_COLUMNS = ("high_risk", "risk_color", "fire_key_level")
RULE_COLUMNS = ("rule", "priority", "interval_months")


def applicable_rules(units: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """The frequency rule that applies to each unit: the matching rule of lowest ``priority``.

    Parameters
    ----------
    units : pandas.DataFrame
        One row per unit with ``high_risk``, ``risk_color`` and ``fire_key_level``.
    rules : pandas.DataFrame
        The ``inspection_frequency_rules`` table: ``rule``, ``priority``, ``interval_months``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``units``, with ``rule`` and ``interval_months``.

    Examples
    --------
    >>> units = pd.DataFrame({"high_risk": [True, False], "risk_color": ["blue", "blue"],
    ...                       "fire_key_level": ["none", "none"]})
    >>> rules = pd.DataFrame({"rule": ["high_risk_industry", "default"], "priority": [1, 9],
    ...                       "interval_months": [1, 3]})
    >>> applicable_rules(units, rules)["interval_months"].tolist()
    [1, 3]
    """
    missing = [c for c in UNIT_COLUMNS if c not in units.columns]
    if missing:
        raise ValueError(f"units lacks column(s) {missing}")
    missing = [c for c in RULE_COLUMNS if c not in rules.columns]
    if missing:
        raise ValueError(f"rules lacks column(s) {missing}")
    unknown = sorted(set(rules["rule"]) - set(RULE_PREDICATES))
    if unknown:
        raise ValueError(f"rules holds rule(s) with no meaning defined: {unknown}")
    rule = pd.Series(pd.NA, index=units.index, dtype="object")
    months = pd.Series(pd.NA, index=units.index, dtype="Int64")
    for row in rules.sort_values("priority", ascending=False).itertuples():
        hit = RULE_PREDICATES[str(row.rule)](units).to_numpy(dtype=bool)
        rule[hit] = row.rule
        months[hit] = int(row.interval_months)
    if rule.isna().any():
        raise ValueError("no frequency rule applies to some units: the table needs a default rule")
    return pd.DataFrame({"rule": rule, "interval_months": months.astype(int)})


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
    plus the rule's interval. Units not operating (``status`` not in ``OBLIGED_STATUSES``) are
    left out.

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
        ``unit_id``, ``rule``, ``interval_months``, ``last_inspected_on`` (None if never),
        ``due_on`` (None if never inspected), ``overdue`` and ``days_overdue``.
    """
    if "id" not in units.columns or "status" not in units.columns:
        raise ValueError("units needs columns id and status")
    obliged = units[units["status"].isin(OBLIGED_STATUSES)]
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
            "last_inspected_on": last.to_numpy(),
            "due_on": due.to_numpy(),
            "overdue": overdue.to_numpy(dtype=bool),
            "days_overdue": days.clip(lower=0).to_numpy(),
        }
    )

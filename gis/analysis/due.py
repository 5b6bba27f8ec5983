"""Due lists: which units need an inspection in a month or quarter, under the frequency rules.

Pure: frames in, frame out. The rule of each unit, its interval and clause come from
:func:`gis.analysis.inspection_frequency.inspection_status`, so a due list, a coverage gap and a
route's "due" stops never disagree about a unit.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from gis.analysis.inspection_frequency import inspection_status

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """A planning period: ``start`` and ``end`` inclusive, with its label (``2024-06``)."""

    label: str
    start: dt.date
    end: dt.date


def _month(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(f"{year:04d}-{month:02d}", dt.date(year, month, 1), dt.date(year, month, last))


def parse_period(text: str) -> Period:
    """``2024-06`` (a month), ``2024-Q2`` / ``2024Q2`` (a quarter) or ``2024-06-15`` (the month
    holding that day).

    Examples
    --------
    >>> parse_period("2024-Q1")
    Period(label='2024-Q1', start=datetime.date(2024, 1, 1), end=datetime.date(2024, 3, 31))
    """
    text = text.strip()
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise ValueError(f"period {text!r}: month must be 01–12")
        return _month(year, month)
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        first, last = _month(year, 3 * q - 2), _month(year, 3 * q)
        return Period(f"{year:04d}-Q{q}", first.start, last.end)
    if _DAY.match(text):
        day = dt.date.fromisoformat(text)
        return _month(day.year, day.month)
    raise ValueError(f"period {text!r}: expected YYYY-MM, YYYY-Qn or YYYY-MM-DD")


def due_in_period(
    units: pd.DataFrame, last_inspected: pd.Series, rules: pd.DataFrame, period: Period
) -> pd.DataFrame:
    """The units due or overdue for inspection in ``period``.

    A unit is listed when its next inspection falls on or before the period's last day: its
    last inspection on or before that day plus its rule's interval, or at once when never
    inspected. An inspection inside the period that already satisfies the rule takes the unit
    off the list. ``state`` says why it is listed: ``never`` (no inspection on record),
    ``overdue`` (the due date is before the period starts) or ``due`` (it falls inside).

    Parameters
    ----------
    units : pandas.DataFrame
        ``id``, ``status`` and the columns the rules' ``applies_to`` name.
    last_inspected : pandas.Series
        Each unit's latest inspection on or before ``period.end``, indexed by unit id.
    rules : pandas.DataFrame
        The frequency rules table (``rule``, ``priority``, ``applies_to``, ``interval_months``,
        ``clause``).
    period : Period
        The month or quarter planned.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``rule``, ``interval_months``, ``clause``, ``last_inspected_on``,
        ``due_on`` (None when never inspected) and ``state``; overdue and never-inspected units
        first, then by due date and unit id.
    """
    status = inspection_status(units, last_inspected, rules, period.end)
    due_ts = pd.to_datetime(status["due_on"])
    listed = due_ts.isna() | (due_ts <= pd.Timestamp(period.end))
    out = status.loc[listed].copy()
    due_ts = due_ts[listed]
    out["state"] = "due"
    out.loc[due_ts < pd.Timestamp(period.start), "state"] = "overdue"
    out.loc[due_ts.isna(), "state"] = "never"
    # Never inspected first, then by due date (overdue ones come before due ones by date).
    out = out.assign(_never=due_ts.notna(), _d=due_ts)
    out = out.sort_values(["_never", "_d", "unit_id"], kind="stable").drop(columns=["_never", "_d"])
    for col in ("last_inspected_on", "due_on"):
        out[col] = [None if pd.isna(v) else v for v in out[col]]
    return out[
        ["unit_id", "rule", "interval_months", "clause", "last_inspected_on", "due_on", "state"]
    ].reset_index(drop=True)

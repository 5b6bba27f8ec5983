"""Due lists on a hand-worked ledger: units due, overdue or never inspected in a period."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gis.analysis.due import Period, due_in_period, parse_period
from tests.gis.analysis.test_coverage import RULES


def test_parse_period() -> None:
    assert parse_period("2024-06") == Period("2024-06", dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    assert parse_period("2024-02").end == dt.date(2024, 2, 29)
    assert parse_period("2024Q3") == Period("2024-Q3", dt.date(2024, 7, 1), dt.date(2024, 9, 30))
    assert parse_period("2024-q4").end == dt.date(2024, 12, 31)
    assert parse_period("2024-06-15").label == "2024-06"
    for bad in ("2024-13", "June", "2024-Q5", "2024-06-31"):
        with pytest.raises(ValueError):
            parse_period(bad)


UNITS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "status": ["operating", "operating", "operating", "closed", "suspended", "operating"],
        "high_risk": [False, False, False, False, False, True],
        "risk_color": ["blue", "blue", "yellow", "blue", "blue", "blue"],
        "fire_key_level": ["none"] * 6,
    }
)
LAST = pd.Series(
    {
        1: dt.date(2024, 3, 10),  # quarterly: due 06-10, inside June
        2: dt.date(2024, 1, 5),  # quarterly: due 04-05, overdue before June
        3: dt.date(2024, 6, 2),  # inspected in June: next due 09-02
        4: dt.date(2024, 5, 20),  # closed, monthly: due 06-20 (quarterly would be 08-20)
        6: dt.date(2024, 6, 15),  # high risk, monthly: due 07-15
    }
)


def test_due_in_a_month() -> None:
    got = due_in_period(UNITS, LAST, RULES, parse_period("2024-06"))
    assert got["unit_id"].tolist() == [5, 2, 1, 4]
    assert got["state"].tolist() == ["never", "overdue", "due", "due"]
    assert got["due_on"].tolist() == [
        None,
        dt.date(2024, 4, 5),
        dt.date(2024, 6, 10),
        dt.date(2024, 6, 20),
    ]
    closed = got.set_index("unit_id").loc[4]
    assert closed["rule"] == "closed_or_suspended" and closed["clause"] == "四(四)"
    assert got.set_index("unit_id").loc[5, "rule"] == "closed_or_suspended"


def test_due_in_a_quarter_counts_inspections_up_to_its_end() -> None:
    got = due_in_period(UNITS, LAST, RULES, parse_period("2024-Q3")).set_index("unit_id")
    # Unit 3 (06-02) falls due 09-02; unit 6 (06-15, monthly) 07-15; unit 4 06-20 is overdue.
    assert set(got.index) == {1, 2, 3, 4, 5, 6}
    assert got.loc[4, "state"] == "overdue" and got.loc[3, "state"] == "due"
    # An inspection inside the period that meets the rule takes the unit off the list.
    later = pd.concat([LAST.drop(3), pd.Series({3: dt.date(2024, 7, 1)})])
    got = due_in_period(UNITS, later, RULES, parse_period("2024-Q3"))
    assert 3 not in set(got["unit_id"])

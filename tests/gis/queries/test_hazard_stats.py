"""Hazard statistics against an independent pandas computation over the raw tables.

The witness reads ``hazards``, ``units`` and ``inspections`` as plain tables and recomputes every
figure with pandas (merge, boolean masks, groupby): no SQL aggregate and no code under test.
Before comparing, a few demo hazards are turned into the cases the demo year lacks (rejected,
major and cleared, major and overdue, closed after the period), so each definition is exercised.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Connection, text

from gis.access import Role, Scope
from gis.errors import InvalidInput
from gis.queries.hazard_stats import Dimension, hazard_stats, parse_period
from tests.conftest import DEMO_TOWN


def _frames(conn: Connection) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    hazards = pd.read_sql(text("SELECT * FROM hazards"), conn)
    units = pd.read_sql(text("SELECT id, industry_code, department_code FROM units"), conn)
    inspections = pd.read_sql(text("SELECT * FROM inspections"), conn)
    for col in ("found_on", "closed_on", "deadline"):
        hazards[col] = pd.to_datetime(hazards[col])
    inspections["inspected_on"] = pd.to_datetime(inspections["inspected_on"])
    return hazards, units, inspections


def _key(frame: pd.DataFrame, by: Dimension, date_col: str) -> pd.Series:
    if by is Dimension.INDUSTRY:
        return frame["industry_code"].str[:1]
    if by is Dimension.VILLAGE:
        return frame["village_code"]
    if by is Dimension.DEPARTMENT:
        return frame["department_code"]
    if by is Dimension.MONTH:
        return frame[date_col].dt.strftime("%Y-%m")
    return frame[by.value].astype(str)


def witness(conn: Connection, start: dt.date, end: dt.date, by: Dimension) -> dict[Any, dict]:
    """Every group's figures, computed with pandas from the raw tables."""
    hazards, units, inspections = _frames(conn)
    units = units.rename(columns={"id": "unit_id"})
    h = hazards.merge(units, on="unit_id", how="left")
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    h = h[(h["found_on"] >= lo) & (h["found_on"] <= hi) & (h["status"] != "rejected")]
    closed = h["closed_on"].notna() & (h["closed_on"] <= hi)
    major = h["level"] == "major"
    df = pd.DataFrame(
        {
            "key": _key(h, by, "found_on"),
            "found": 1,
            "rectified": closed.astype(int),
            "overdue": ((h["deadline"] < hi) & ~closed).astype(int),
            "major_found": major.astype(int),
            "major_cleared": (major & closed).astype(int),
            "days": (h["closed_on"] - h["found_on"]).dt.days.where(closed, 0),
        }
    )
    out: dict[Any, dict] = {}
    for key, g in df.groupby("key", dropna=False):
        k = None if pd.isna(key) else key
        out[k] = g.drop(columns="key").sum().to_dict() | {"inspections": 0, "insp_hazards": 0}
    i = inspections.merge(units, on="unit_id", how="left")
    i = i[(i["inspected_on"] >= lo) & (i["inspected_on"] <= hi)]
    if by in (Dimension.CATEGORY, Dimension.LEVEL, Dimension.SOURCE):
        out["__total_inspections__"] = {"n": len(i), "hz": int(i["hazard_count"].sum())}
        return out
    for key, g in i.groupby(_key(i, by, "inspected_on"), dropna=False):
        k = None if pd.isna(key) else key
        row = out.setdefault(
            k,
            {"found": 0, "rectified": 0, "overdue": 0, "major_found": 0, "major_cleared": 0}
            | {"days": 0, "inspections": 0, "insp_hazards": 0},
        )
        row["inspections"] = len(g)
        row["insp_hazards"] = int(g["hazard_count"].sum())
    return out


@pytest.fixture
def varied(db_conn: Connection) -> Connection:
    """The demo year plus the cases it lacks, inside the test's transaction."""
    ids = (
        db_conn.execute(
            text(
                "SELECT id FROM hazards WHERE town_code = :t AND status = 'closed' "
                "AND found_on BETWEEN '2024-06-01' AND '2024-06-30' ORDER BY id LIMIT 6"
            ),
            {"t": DEMO_TOWN},
        )
        .scalars()
        .all()
    )
    assert len(ids) == 6
    a, b, c, d, e, f = ids
    db_conn.execute(
        text("UPDATE hazards SET status = 'rejected', closed_on = NULL WHERE id = :i"), {"i": a}
    )
    db_conn.execute(
        text("UPDATE hazards SET level = 'major', major_basis = 'x' WHERE id = :i"), {"i": b}
    )
    db_conn.execute(
        text(
            "UPDATE hazards SET level = 'major', major_basis = 'x', status = 'rectifying', "
            "closed_on = NULL, deadline = found_on WHERE id IN (:c, :d)"
        ),
        {"c": c, "d": d},
    )
    # Closed only after the month ended: open (and overdue) at the cut-off of June.
    db_conn.execute(
        text("UPDATE hazards SET closed_on = '2024-07-15', deadline = found_on WHERE id = :i"),
        {"i": e},
    )
    # A public report tied to no unit.
    db_conn.execute(text("UPDATE hazards SET unit_id = NULL WHERE id = :i"), {"i": f})
    return db_conn


@pytest.mark.parametrize("by", list(Dimension))
@pytest.mark.parametrize("period", ["2024", "2024-06"])
def test_stats_equal_a_pandas_witness(varied: Connection, by: Dimension, period: str) -> None:
    p = parse_period(period)
    table = hazard_stats(varied, Scope.unrestricted(), p, by, today=dt.date(2026, 1, 1))
    expected = witness(varied, p.start, p.end, by)
    loose = expected.pop("__total_inspections__", None)
    got = {r.key: r for r in table.rows}
    assert set(got) == set(expected)
    for key, e in expected.items():
        r = got[key]
        assert (r.found, r.rectified, r.overdue) == (e["found"], e["rectified"], e["overdue"]), key
        assert (r.major_found, r.major_cleared) == (e["major_found"], e["major_cleared"]), key
        assert (r.inspections, r.inspection_hazards) == (e["inspections"], e["insp_hazards"]), key
        if e["found"]:
            assert r.rectification_rate == pytest.approx(e["rectified"] / e["found"], abs=1e-4)
        if e["rectified"]:
            assert r.avg_days_to_close == pytest.approx(e["days"] / e["rectified"], abs=0.01)
        else:
            assert r.avg_days_to_close is None
    total = table.total
    assert total.found == sum(e["found"] for e in expected.values())
    assert total.major_found >= 3 and total.overdue >= 3  # the varied cases are counted
    inspections = loose["n"] if loose else sum(e["inspections"] for e in expected.values())
    assert total.inspections == inspections > 0


def test_labels_and_the_unlinked_group(varied: Connection) -> None:
    table = hazard_stats(varied, Scope.unrestricted(), parse_period("2024-06"), Dimension.INDUSTRY)
    labels = {r.key: r.label for r in table.rows}
    assert labels[None] == "未关联单位"
    assert labels["C"] == "C 制造业"
    months = hazard_stats(varied, Scope.unrestricted(), parse_period("2024-Q2"), Dimension.MONTH)
    assert [r.label for r in months.rows] == ["2024年4月", "2024年5月", "2024年6月"]


def test_a_grid_chief_counts_only_their_village(varied: Connection) -> None:
    village = varied.execute(
        text("SELECT village_code FROM hazards WHERE town_code = :t LIMIT 1"), {"t": DEMO_TOWN}
    ).scalar_one()
    scope = Scope(
        role=Role.GRID_CHIEF,
        town_codes=frozenset({DEMO_TOWN}),
        village_codes=frozenset({village}),
    )
    table = hazard_stats(varied, scope, parse_period("2024"), Dimension.VILLAGE)
    assert [r.key for r in table.rows] == [village]
    everyone = hazard_stats(varied, Scope.unrestricted(), parse_period("2024"), Dimension.VILLAGE)
    assert table.total.found == next(r.found for r in everyone.rows if r.key == village)


def test_a_running_period_is_counted_to_today(varied: Connection) -> None:
    p = parse_period("2024-06")
    mid = hazard_stats(varied, Scope.unrestricted(), p, Dimension.LEVEL, today=dt.date(2024, 6, 10))
    full = hazard_stats(varied, Scope.unrestricted(), p, Dimension.LEVEL, today=dt.date(2025, 1, 1))
    assert mid.cut == dt.date(2024, 6, 10) and full.cut == p.end
    assert mid.total.found < full.total.found
    by_level = witness(varied, p.start, dt.date(2024, 6, 10), Dimension.LEVEL)
    by_level.pop("__total_inspections__")
    assert mid.total.found == sum(e["found"] for e in by_level.values())
    assert mid.total.overdue == sum(e["overdue"] for e in by_level.values())


@pytest.mark.parametrize(
    ("text_", "start", "end"),
    [
        ("2024-06", dt.date(2024, 6, 1), dt.date(2024, 6, 30)),
        ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("2024-Q4", dt.date(2024, 10, 1), dt.date(2024, 12, 31)),
        ("2024", dt.date(2024, 1, 1), dt.date(2024, 12, 31)),
    ],
)
def test_parse_period(text_: str, start: dt.date, end: dt.date) -> None:
    p = parse_period(text_)
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize("bad", ["2024-13", "2024-Q5", "24-06", "2024-6", "june", ""])
def test_parse_period_refuses(bad: str) -> None:
    with pytest.raises(InvalidInput, match="period"):
        parse_period(bad)

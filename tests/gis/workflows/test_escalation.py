"""Escalation: overdue hazards climb village → town → county, once per level; the notice list."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import Connection, text

from gis.audit import Actor
from gis.domain import HazardLevel, HazardStatus
from gis.io.hazard_notices import write_notice_list
from gis.workflows import hazard_ledger
from gis.workflows.escalation import escalate
from tests.gis.workflows.hazard_world import TODAY, make_world


def test_overdue_hazards_climb_and_are_listed(db_conn: Connection, tmp_path: Path) -> None:
    world = make_world(db_conn)
    cases = {
        (HazardLevel.GENERAL, 3): "village",
        (HazardLevel.GENERAL, 10): "town",
        (HazardLevel.GENERAL, 40): "county",
        (HazardLevel.MAJOR, 2): "town",
        (HazardLevel.MAJOR, 20): "county",
        (HazardLevel.GENERAL, 0): None,  # due today: not overdue yet
    }
    ids = {}
    for (level, days), _ in cases.items():
        hid = world.hazard(HazardStatus.RECTIFYING, level)
        db_conn.execute(
            text("UPDATE hazards SET deadline = :d, found_on = :f WHERE id = :id"),
            {"d": TODAY - dt.timedelta(days=days), "f": TODAY - dt.timedelta(days=60), "id": hid},
        )
        ids[(level, days)] = hid
    closed = world.hazard(HazardStatus.AWAITING_REVIEW)
    db_conn.execute(text("UPDATE hazards SET deadline = found_on WHERE id = :id"), {"id": closed})
    actor = Actor.system("test:escalate")
    rows = {r["id"]: r for r in escalate(db_conn, actor, TODAY)}
    for key, expected in cases.items():
        got = rows.get(ids[key])
        assert (got["escalation"] if got else None) == expected, key
        if got:
            assert got["escalated"] and got["days_overdue"] == key[1]
            assert got["listing_candidate"] is (key[0] is HazardLevel.MAJOR)
    assert closed not in rows
    # Run again the same day: nothing climbs twice; a week later the 3-day one reaches the town.
    again = {r["id"]: r for r in escalate(db_conn, actor, TODAY)}
    assert not any(again[i]["escalated"] for i in ids.values() if i in again)
    later = {r["id"]: r for r in escalate(db_conn, actor, TODAY + dt.timedelta(days=7))}
    first = later[ids[(HazardLevel.GENERAL, 3)]]
    assert first["escalated"] and first["escalation"] == "town"
    version = db_conn.execute(
        text("SELECT version FROM hazards WHERE id = :id"), {"id": first["id"]}
    ).scalar_one()
    assert version == 2  # raised twice, two history rows
    assert hazard_ledger.verify(db_conn) == []

    hostile = '=HYPERLINK("http://evil.example","点击")'
    later[first["id"]]["description"] = hostile
    out = write_notice_list(list(later.values()), TODAY, tmp_path / "notices.xlsx")
    sheet = load_workbook(out).active
    assert sheet is not None
    assert str(sheet.cell(1, 1).value).startswith("逾期隐患督办清单")
    assert sheet.cell(2, 2).value == "隐患编号"
    codes = {sheet.cell(r, 2).value for r in range(3, sheet.max_row + 1)}
    assert len(codes) == len(later)
    descriptions = [sheet.cell(r, 7).value for r in range(3, sheet.max_row + 1)]
    assert "'" + hostile in descriptions  # stored as inert text, not a formula
    assert not any(str(v).startswith("=") for v in descriptions)

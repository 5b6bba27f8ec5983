"""Recording an inspection: three wanting items → three linked hazards, or nothing at all."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from gis.access import Role
from gis.db.access_models import AuditLog
from gis.db.hazard_models import HazardHistory
from gis.db.models import Hazard, Inspection
from gis.domain import FatalFactor, HazardLevel, ItemResult
from gis.errors import Conflict, InvalidInput
from gis.workflows import hazard_ledger
from gis.workflows import hazards as hazard_flow
from gis.workflows.inspections import (
    ItemFinding,
    NewInspection,
    checklists,
    record_inspection,
)
from tests.gis.workflows.hazard_world import HazardWorld, make_world


@pytest.fixture
def world(db_conn: Connection) -> HazardWorld:
    return make_world(db_conn)


def _fatal_checklist(conn: Connection) -> dict[str, Any]:
    return next(c for c in checklists(conn) if c["code"] == "ten_fatal_factors")


def _inspection(world: HazardWorld, wanting: dict[int, dict[str, Any]], **kw: Any) -> NewInspection:
    checklist = _fatal_checklist(world.conn)
    items = [
        ItemFinding(no=i["no"], result=ItemResult.HAZARD, **wanting[i["no"]])
        if i["no"] in wanting
        else ItemFinding(no=i["no"], result=ItemResult.OK)
        for i in checklist["items"]
    ]
    fields: dict[str, Any] = {
        "unit_id": world.unit_id,
        "checklist": checklist["code"],
        "checklist_version": checklist["version"],
        "items": items,
        "inspectors": ["张检查", "李检查"],
        "explained": "讲解了电动自行车充电和安全出口的要求",
        "handed_over": "责令七日内整改",
        "unit_signer": "王老板",
    }
    return NewInspection(**(fields | kw))


def _counts(conn: Connection) -> tuple[int, ...]:
    return tuple(
        int(conn.execute(select(func.count()).select_from(t)).scalar_one())
        for t in (Inspection, Hazard, HazardHistory, AuditLog)
    )


def test_three_wanting_items_file_three_linked_hazards(world: HazardWorld) -> None:
    conn, insp = world.conn, Role.INSPECTOR
    before = _counts(conn)
    new = _inspection(
        world,
        {1: {"note": "后门锁闭"}, 9: {"note": "楼道充电"}, 4: {"fixed_on_spot": True}},
    )
    result = record_inspection(conn, world.scopes[insp], world.actors[insp], new, radius_m=100)
    assert result["hazard_count"] == 3
    assert [h["item_no"] for h in result["hazards"]] == [1, 4, 9]
    rows = (
        conn.execute(select(Hazard).where(Hazard.inspection_id == result["id"]).order_by(Hazard.id))
        .mappings()
        .all()
    )
    assert len(rows) == 3
    assert [r["fatal_factor"] for r in rows] == [
        FatalFactor.EXITS,
        FatalFactor.FIRE_EQUIPMENT,
        FatalFactor.E_BIKE,
    ]
    assert [r["status"] for r in rows] == ["reported", "closed", "reported"]
    assert rows[0]["description"] == "安全出口、疏散通道：后门锁闭"
    assert {r["source"] for r in rows} == {"department"} and {r["unit_id"] for r in rows} == {
        world.unit_id
    }
    inspection = (
        conn.execute(select(Inspection).where(Inspection.id == result["id"])).mappings().one()
    )
    assert inspection["hazard_count"] == 3 and inspection["unit_signer"] == "王老板"
    assert inspection["checkin_flagged"] is None  # no GPS given
    assert [i.get("hazard_id") for i in inspection["items"] if i["result"] == "hazard"] == [
        r["id"] for r in rows
    ]
    # One inspection, three hazards, four history rows (one fixed on the spot), 1 + 3 + 1 audits.
    after = _counts(conn)
    assert tuple(a - b for a, b in zip(after, before, strict=True)) == (1, 3, 4, 5)
    assert hazard_ledger.verify(conn) == []


def test_a_failure_in_the_middle_leaves_nothing(
    world: HazardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, insp = world.conn, Role.INSPECTOR
    before = _counts(conn)
    real = hazard_flow.insert_hazard
    calls = []

    def second_fails(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(hazard_flow, "insert_hazard", second_fails)
    new = _inspection(world, {1: {}, 2: {}, 3: {}})
    with pytest.raises(RuntimeError, match="disk full"):
        record_inspection(conn, world.scopes[insp], world.actors[insp], new, radius_m=100)
    assert len(calls) == 2
    assert _counts(conn) == before


def test_bad_records_are_refused_with_the_item(world: HazardWorld) -> None:
    conn, insp = world.conn, Role.INSPECTOR
    scope, actor = world.scopes[insp], world.actors[insp]
    missing = _inspection(world, {})
    missing = NewInspection(**{**missing.__dict__, "items": list(missing.items)[:-1]})
    with pytest.raises(InvalidInput, match="缺少第10项"):
        record_inspection(conn, scope, actor, missing, radius_m=100)
    major = _inspection(world, {2: {"level": HazardLevel.MAJOR, "fixed_on_spot": True}})
    with pytest.raises(InvalidInput, match=r"items\[1\]\.major_basis.*items\[1\]\.fixed_on_spot"):
        record_inspection(conn, scope, actor, major, radius_m=100)
    with pytest.raises(Conflict, match="检查表已更新"):
        record_inspection(
            conn, scope, actor, _inspection(world, {}, checklist_version="0" * 12), radius_m=100
        )

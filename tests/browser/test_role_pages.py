"""Each role's pages in Debian's Chromium at phone and desk size, and the forms round-trip.

Set ``GRIDSAFE_DOCS_SHOTS=1`` to (re)write the README's screenshots under ``docs/``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from gis.access import Role
from gis.db.models import Responsibility, Staff, Town, Unit
from tests.browser.conftest import DESK, PHONE, LiveService, Visit
from tests.conftest import DEMO_TOWN

VisitFn = Callable[..., Visit]
DOCS = Path(__file__).resolve().parents[2] / "docs"
HEADINGS = {
    Role.GRID_CHIEF: "我的网格",
    Role.INSPECTOR: "今日工作",
    Role.DEPARTMENT: "本部门监管单位与隐患",
    Role.TOWN_ADMIN: "全镇概况",
    Role.COUNTY_OFFICE: "各乡镇对比",
}


def _overflow(seen: Visit) -> int:
    return int(
        seen.page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def _area(live: LiveService, role: Role) -> dict[str, Any]:
    """Scope fields per role: the busiest village, a department, an inspector with units."""
    with live.engine.connect() as conn:
        if role is Role.GRID_CHIEF:
            village = conn.execute(
                select(Unit.village_code)
                .where(Unit.town_code == DEMO_TOWN, Unit.village_code.is_not(None))
                .group_by(Unit.village_code)
                .order_by(func.count().desc(), Unit.village_code)
                .limit(1)
            ).scalar_one()
            return {"village_code": village}
        if role is Role.COUNTY_OFFICE:
            county = conn.execute(select(Town.county_code).where(Town.code == DEMO_TOWN))
            return {"county_code": county.scalar_one()}
    if role is Role.INSPECTOR:
        return {"staff_id": _inspector_with_units(live)[0]}
    return {"department_code": "SCJG"} if role is Role.DEPARTMENT else {}


def _inspector_with_units(live: LiveService) -> tuple[int, int]:
    """A staff member holding a unit-inspector slot today, and one of their units.

    The demo data has no responsibilities until the assignment runs; the browser database is
    committed, so the slot is made once, for a unit of its own, and reused.
    """
    with live.engine.begin() as conn:
        held = conn.execute(
            select(Responsibility.staff_id, Responsibility.unit_id)
            .where(
                Responsibility.town_code == DEMO_TOWN,
                Responsibility.role == "unit_inspector",
                Responsibility.valid_to.is_(None),
                Responsibility.reason == "browser test",
            )
            .limit(1)
        ).first()
        if held is not None:
            return int(held[0]), int(held[1])
        staff_id = conn.execute(
            select(Staff.id)
            .where(Staff.town_code == DEMO_TOWN, Staff.role == "inspector")
            .order_by(Staff.id)
            .limit(1)
        ).scalar_one()
        unit_id = conn.execute(
            select(Unit.id).where(Unit.town_code == DEMO_TOWN).order_by(Unit.id.desc()).limit(1)
        ).scalar_one()
        conn.execute(
            insert(Responsibility).values(
                town_code=DEMO_TOWN,
                staff_id=staff_id,
                role="unit_inspector",
                unit_id=unit_id,
                valid_from=dt.date(2024, 1, 1),
                reason="browser test",
            )
        )
    return int(staff_id), int(unit_id)


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
@pytest.mark.parametrize("role", list(HEADINGS), ids=lambda r: r.value)
def test_each_role_home_renders_offline_without_sideways_scroll(
    visit: VisitFn, live_service: LiveService, role: Role, viewport: dict[str, int]
) -> None:
    seen = visit(role, viewport=viewport, **_area(live_service, role))
    assert seen.page.url.endswith("/home"), seen.page.url
    assert HEADINGS[role] in seen.page.inner_text("h1")
    assert _overflow(seen) <= 0
    # Every link on the home leads to a page that answers (no dead links, no placeholders).
    for href in set(
        seen.page.eval_on_selector_all(
            "a[href^='/']", "els => els.map(e => e.getAttribute('href'))"
        )
    ):
        status = seen.page.request.get(live_service.base_url + href).status
        assert status == 200, f"{href}: {status}"
    assert seen.foreign_requests() == [] and seen.errors == []
    if role is Role.GRID_CHIEF and viewport is PHONE and os.environ.get("GRIDSAFE_DOCS_SHOTS"):
        DOCS.mkdir(exist_ok=True)
        seen.page.screenshot(path=str(DOCS / "pages-chief-home-phone.png"))
        seen.page.goto(f"{live_service.base_url}/units")
        seen.page.screenshot(path=str(DOCS / "pages-chief-units-phone.png"))


def test_grid_chief_filters_units_by_risk_colour(visit: VisitFn, live_service: LiveService) -> None:
    seen = visit(Role.GRID_CHIEF, viewport=PHONE, **_area(live_service, Role.GRID_CHIEF))
    seen.page.select_option("select#risk", "orange")
    seen.page.click("form[action='/units'] button[type=submit]")
    seen.page.wait_for_load_state("networkidle")
    assert "/units?" in seen.page.url and "risk=orange" in seen.page.url
    chips = seen.page.eval_on_selector_all(
        "ul.units .chip[class*='risk-']", "els => els.map(e => e.className)"
    )
    assert chips and all("risk-orange" in c for c in chips)
    assert seen.page.locator("select#risk").input_value() == "orange"  # the filter is kept
    assert _overflow(seen) <= 0 and seen.foreign_requests() == [] and seen.errors == []


def test_inspector_records_an_inspection_and_sees_the_hazard(
    visit: VisitFn, live_service: LiveService
) -> None:
    staff_id, unit_id = _inspector_with_units(live_service)
    seen = visit(Role.INSPECTOR, viewport=PHONE, staff_id=staff_id)
    page = seen.page
    page.goto(f"{live_service.base_url}/units/{unit_id}")
    page.click("text=填写检查表")
    page.wait_for_load_state("networkidle")
    items = page.locator("fieldset.item").count()
    assert items > 1
    for n in range(2, items + 1):
        page.check(f"input[name=item_{n}][value=ok]")
    page.fill("#inspectors", "浏览器测试员")
    page.fill("#unit_signer", "店主")
    page.click("#inspect-form button[type=submit]")  # item 1 and 现场讲 left empty
    page.wait_for_load_state("networkidle")
    assert "请选择检查结果" in page.inner_text("#field-item_1")
    assert "请填写现场讲解内容" in page.inner_text("#explained + .field-error")
    assert page.input_value("#inspectors") == "浏览器测试员"  # what was typed is kept
    note = f"安全出口堵塞（浏览器测试 {staff_id}-{unit_id}）"
    page.check("input[name=item_1][value=hazard]")
    page.fill("#note_1", note)
    page.select_option("#category_1", "fire")
    page.fill("#explained", "讲解了安全出口要求")
    page.click("#inspect-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert f"/units/{unit_id}?recorded=" in page.url
    assert "已保存" in page.inner_text("body")
    assert note in page.inner_text("body")  # the hazard it filed is on the unit page
    assert _overflow(seen) <= 0 and seen.foreign_requests() == [] and seen.errors == []


def test_signed_out_visit_signs_in_and_returns(visit: VisitFn, live_service: LiveService) -> None:
    from tests.browser.conftest import PASSWORD

    username = live_service.account(Role.TOWN_ADMIN)
    seen = visit(None, viewport=PHONE)
    seen.page.goto(f"{live_service.base_url}/units?risk=red&kind=fire_key")
    assert "/login?next=" in seen.page.url
    seen.page.fill("input[name=username]", username)
    seen.page.fill("input[name=password]", PASSWORD)
    seen.page.click("button[type=submit]")
    seen.page.wait_for_load_state("networkidle")
    assert seen.page.url.endswith("/units?risk=red&kind=fire_key"), seen.page.url
    assert seen.page.locator("select#risk").input_value() == "red"
    assert seen.foreign_requests() == [] and seen.errors == []

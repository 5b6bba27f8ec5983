"""Hostile names imported into the data render inert on every map and page, in a real browser.

A name can attack three contexts: HTML (``<img onerror>``), the JavaScript template literals
folium wraps popup HTML in (``${…}``, a backtick), and a ``<script>`` block (``</script>``).
Each payload below tries to open a dialog or break the page's script; neither may happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update

from gis.access import Role
from gis.db.models import Hazard, Unit, Village
from gis.domain import HazardStatus
from tests.browser.conftest import LiveService, Visit
from tests.conftest import DEMO_TOWN

PAYLOADS = (
    "<img src=x onerror=alert(1)>",
    "${alert(2)}",
    "`;alert(3);`",
    "</script><script>alert(4)</script>",
)
PAGES = ("/maps/area", "/maps/hazards", "/maps/gaps?as_of=2024-12-31", "/account")


@pytest.fixture(scope="module")
def hostile_data(live_service: LiveService) -> Iterator[None]:
    """Units, villages and open hazards named with one payload each (restored afterwards)."""
    n = len(PAYLOADS)
    with live_service.engine.begin() as conn:
        units = conn.execute(
            select(Unit.id, Unit.name, Unit.village_code)
            .where(Unit.town_code == DEMO_TOWN, Unit.village_code.is_not(None))
            .order_by(Unit.id)
            .limit(n)
        ).all()
        villages = conn.execute(
            select(Village.code, Village.name)
            .where(Village.town_code == DEMO_TOWN)
            .order_by(Village.code)
            .limit(n)
        ).all()
        hazards = conn.execute(
            select(Hazard.id, Hazard.description)
            .where(Hazard.town_code == DEMO_TOWN, Hazard.status != HazardStatus.CLOSED)
            .order_by(Hazard.id)
            .limit(n)
        ).all()
        for payload, unit, village, hazard in zip(PAYLOADS, units, villages, hazards, strict=True):
            conn.execute(update(Unit).where(Unit.id == unit.id).values(name="危" + payload))
            conn.execute(
                update(Village).where(Village.code == village.code).values(name="危" + payload)
            )
            conn.execute(
                update(Hazard).where(Hazard.id == hazard.id).values(description="危" + payload)
            )
    yield
    with live_service.engine.begin() as conn:
        for unit, village, hazard in zip(units, villages, hazards, strict=True):
            conn.execute(update(Unit).where(Unit.id == unit.id).values(name=unit.name))
            conn.execute(
                update(Village).where(Village.code == village.code).values(name=village.name)
            )
            conn.execute(
                update(Hazard).where(Hazard.id == hazard.id).values(description=hazard.description)
            )


@pytest.mark.parametrize("path", PAGES)
def test_hostile_names_do_not_run(
    hostile_data: None, visit: Callable[..., Visit], live_service: LiveService, path: str
) -> None:
    seen = visit(Role.TOWN_ADMIN)
    response = seen.page.goto(f"{live_service.base_url}{path}")
    assert response is not None and response.status == 200, path
    seen.page.wait_for_load_state("networkidle")
    # Open every popup too: some libraries build popup content only when it is opened.
    seen.page.evaluate(
        """() => {
          const map = Object.values(window).find((v) => window.L && v instanceof L.Map);
          if (!map) return;
          map.eachLayer((layer) => { if (layer.getPopup && layer.getPopup()) layer.openPopup(); });
        }"""
    )
    seen.page.wait_for_timeout(200)
    assert seen.dialogs == [], path
    # A payload that breaks the page's script is an attack too (and leaves an empty map).
    assert seen.errors == [], path

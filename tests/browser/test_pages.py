"""The sign-in page, the account page and the maps in a real browser, at phone and desk size."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from gis.access import Role
from gis.db.models import Unit
from tests.browser.conftest import DESK, PHONE, LiveService, Visit
from tests.conftest import DEMO_TOWN

VisitFn = Callable[..., Visit]

#: Circle markers on the page's Leaflet map (folium keeps the map in a global ``map_<id>``).
CIRCLE_MARKERS_JS = """() => {
  const map = Object.values(window).find((v) => v instanceof L.Map);
  let n = 0;
  map.eachLayer((layer) => { if (layer instanceof L.CircleMarker) n += 1; });
  return n;
}"""


def _horizontal_overflow(visit: Visit) -> int:
    """Pixels by which the page is wider than the viewport (0: no sideways scrolling)."""
    return int(
        visit.page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


@pytest.mark.parametrize("viewport", [PHONE, DESK], ids=["phone", "desk"])
def test_sign_in_lands_on_the_home_page(
    visit: VisitFn, live_service: LiveService, viewport: dict[str, int]
) -> None:
    seen = visit(Role.TOWN_ADMIN, viewport=viewport)
    assert seen.page.url.endswith("/home"), seen.page.url
    assert "镇安委办" in seen.page.inner_text("body")
    assert _horizontal_overflow(seen) <= 0
    assert seen.foreign_requests() == [] and seen.errors == []


def test_area_map_draws_every_unit_of_the_town_offline(
    visit: VisitFn, live_service: LiveService
) -> None:
    seen = visit(Role.TOWN_ADMIN)
    seen.page.goto(f"{live_service.base_url}/maps/area")
    seen.page.wait_for_load_state("networkidle")
    with live_service.engine.connect() as conn:
        units = len(conn.execute(select(Unit.id).where(Unit.town_code == DEMO_TOWN)).all())
    # Units are circle markers on a canvas: count them through Leaflet itself.
    drawn = seen.page.evaluate(CIRCLE_MARKERS_JS)
    assert drawn >= units > 0
    assert seen.foreign_requests() == [] and seen.errors == []

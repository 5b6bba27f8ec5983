"""Map pages: served with vendored assets, titled for the place, layers drawn from scoped data."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from gis.access import Role
from maps.area_map import LAYER_NAMES
from tests.api.conftest import ClientAs


def test_map_pages_load_their_assets_from_the_service(client: TestClient) -> None:
    for page in ("/maps/area", "/maps/hazards"):
        html = client.get(page).text
        urls = set(re.findall(r'(?:src|href)="([^"]+)"', html))
        assert urls and all(u.startswith("/static/maps/") for u in urls), urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200 and len(response.content) > 1000, url


def test_area_map_of_a_village_for_its_grid_chief(client_as: ClientAs) -> None:
    chief = client_as(Role.GRID_CHIEF)
    village = chief.account["village_code"]  # type: ignore[attr-defined]
    html = chief.get("/maps/area", params={"village": village}).text
    assert "安全生产网格图" in html
    for key in ("villages", "roads", "units"):
        name = LAYER_NAMES[key]
        assert name in html or json.dumps(name)[1:-1] in html  # the layer control escapes it
    # Another village is not the chief's to see.
    other = "411003101201" if village != "411003101201" else "411003101202"
    assert chief.get("/maps/area", params={"village": other}).status_code == 404

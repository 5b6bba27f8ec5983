"""Maps load Leaflet from vendored files the service itself serves: no CDN, so intranets work."""

from __future__ import annotations

import re

import pytest

from maps.area_map import area_map
from maps.assets import ASSET_DIR, render
from maps.hazard_map import hazard_map

POINT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [114.0, 34.05]},
    "properties": {"level": "major", "name": "甲", "risk_color": "red", "fire_key_level": "none"},
}


def _assets(html: str) -> set[str]:
    return set(re.findall(r'(?:src|href)="([^"]+)"', html))


@pytest.mark.parametrize(
    "fmap",
    [
        area_map({"units": [POINT], "hazards": [POINT]}, title="t"),
        hazard_map([POINT], [], title="t"),
    ],
    ids=["area", "heat"],
)
def test_rendered_maps_reference_only_vendored_assets(fmap: object) -> None:
    urls = _assets(render(fmap, "/static/maps"))  # type: ignore[arg-type]
    assert urls and all(u.startswith("/static/maps/") for u in urls), urls
    assert all((ASSET_DIR / u.rsplit("/", 1)[1]).is_file() for u in urls)

"""Vendored Leaflet assets, so maps render on offline and intranet machines (no CDN reachable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import folium
from branca.element import Element

ASSET_DIR = Path(__file__).with_name("assets")
#: Where the API serves ASSET_DIR.
ASSET_URL = "/static/maps"

# Folium's default page also loads Bootstrap, Font Awesome and awesome-markers; our maps draw only
# GeoJSON, circle markers, tooltips, popups (built with jQuery), a layer control and a heat layer.
MAP_JS = [("leaflet", "leaflet.js"), ("jquery", "jquery.min.js")]
MAP_CSS = [("leaflet_css", "leaflet.css")]


@runtime_checkable
class _LoadsScripts(Protocol):
    """An element with scripts to load: a JSCSSMixin, or a plugin (Timeline) setting them bare."""

    default_js: list[tuple[str, str]]


def _descendants(element: Element) -> Iterator[Element]:
    for child in element._children.values():
        yield child
        yield from _descendants(child)


def use_local_assets(fmap: folium.Map, base_url: str = ASSET_URL) -> folium.Map:
    """Point ``fmap`` and its plugins at the vendored copies under ``base_url``.

    A plugin script we do not vendor keeps its CDN address rather than being dropped.
    """
    base = base_url.rstrip("/")
    fmap.default_js = [(name, f"{base}/{file}") for name, file in MAP_JS]
    fmap.default_css = [(name, f"{base}/{file}") for name, file in MAP_CSS]
    for element in _descendants(fmap):
        if isinstance(element, _LoadsScripts) and element.default_js:
            element.default_js = [
                (name, f"{base}/{Path(url).name}" if (ASSET_DIR / Path(url).name).exists() else url)
                for name, url in element.default_js
            ]
    return fmap


def render(fmap: folium.Map, base_url: str = ASSET_URL) -> str:
    """The map's standalone HTML page, loading only vendored assets."""
    return use_local_assets(fmap, base_url).get_root().render()

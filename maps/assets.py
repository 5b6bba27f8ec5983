"""Vendored Leaflet assets, so maps render on offline and intranet machines (no CDN reachable)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import folium
from branca.element import Element, Figure

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


def render(fmap: folium.Map, base_url: str = ASSET_URL, nonce: str | None = None) -> str:
    """The map's standalone HTML page, loading only vendored assets.

    With a ``nonce`` (the Content-Security-Policy nonce of the response) the page's own inline
    scripts carry it, so the browser runs them and nothing else: a script that escaped into the
    page through data has no nonce. The nonce is added here, where the page is assembled from its
    parts, never by searching the finished page, which would bless an injected script too.
    """
    figure = cast(Figure, use_local_assets(fmap, base_url).get_root())
    # What Figure.render does, with the nonce on the scripts this function writes itself.
    for child in figure._children.values():
        child.render()
    header, body, script = figure.header.render(), figure.html.render(), figure.script.render()
    attr = f' nonce="{nonce}"' if nonce else ""
    # The head holds asset links, styles and folium's global switches, never data (titles and
    # popups go to the body and the script), so its bare inline scripts are folium's own.
    header = header.replace("<script>", f"<script{attr}>")
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        f"{header}\n</head>\n<body>\n{body}\n</body>\n<script{attr}>\n{script}\n</script>\n</html>\n"
    )

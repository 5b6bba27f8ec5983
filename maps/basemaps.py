"""Basemaps: Tianditu (CGCS2000, no shift) with a key, AMap (GCJ-02, overlays shifted), or none."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit

import folium

TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}"
    "&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
TIANDITU_ATTR = '&copy; <a href="https://www.tianditu.gov.cn">天地图</a>'
AMAP_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)


TILE_URLS = (TIANDITU_URL, AMAP_URL)


def tile_sources() -> list[str]:
    """The tile hosts of every basemap as Content-Security-Policy sources (``img-src``).

    Read off the URL templates, so a changed basemap cannot be forgotten in the policy; a
    ``{s}`` subdomain placeholder becomes the ``*.`` wildcard CSP allows in the leftmost label.
    """
    sources = []
    for url in TILE_URLS:
        parts = urlsplit(url)
        first, _, rest = parts.netloc.partition(".")
        host = f"*.{rest}" if "{" in first else parts.netloc
        sources.append(f"{parts.scheme}://{host}")
    return list(dict.fromkeys(sources))


class Basemap(StrEnum):
    NONE = "none"
    TIANDITU_VECTOR = "tianditu_vec"
    TIANDITU_IMAGE = "tianditu_img"
    AMAP = "amap"

    @property
    def needs_gcj02(self) -> bool:
        """AMap tiles are drawn in GCJ-02: overlays must be shifted ~570 m to line up."""
        return self is Basemap.AMAP


def choose(requested: str | None, tianditu_key: str | None) -> Basemap:
    """The basemap to use: the requested one if possible, else Tianditu with a key, else none."""
    if requested:
        basemap = Basemap(requested)
        if basemap in (Basemap.TIANDITU_VECTOR, Basemap.TIANDITU_IMAGE) and not tianditu_key:
            return Basemap.NONE
        return basemap
    return Basemap.TIANDITU_VECTOR if tianditu_key else Basemap.NONE


def add_basemap(fmap: folium.Map, basemap: Basemap, tianditu_key: str | None = None) -> None:
    """Add the base layer and its annotation layer (Tianditu needs both) to ``fmap``."""
    if basemap is Basemap.NONE:
        return
    if basemap is Basemap.AMAP:
        folium.TileLayer(
            AMAP_URL, attr="&copy; 高德地图", name="高德地图", subdomains="1234", max_zoom=18
        ).add_to(fmap)
        return
    base, notes = ("vec", "cva") if basemap is Basemap.TIANDITU_VECTOR else ("img", "cia")
    for layer, overlay, name in ((base, False, "天地图"), (notes, True, "天地图注记")):
        folium.TileLayer(
            TIANDITU_URL.format(s="{s}", layer=layer, key=tianditu_key),
            attr=TIANDITU_ATTR,
            name=name,
            subdomains="01234567",
            overlay=overlay,
            control=False,
            max_zoom=18,
        ).add_to(fmap)

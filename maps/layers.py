"""Building blocks every map shares: the page (basemap, title, footer) and the grid layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import folium
from branca.element import Figure

from maps.basemaps import Basemap, add_basemap
from maps.escaping import escape_markup
from maps.styles import village_style

Feature = dict[str, Any]
GRID_LAYER = "村（社区）网格"
FOOTER = "2000国家大地坐标系 · 示例数据 · 内部资料 注意保存"


def new_map(title: str, basemap: Basemap, tianditu_key: str | None) -> folium.Map:
    """An empty map page with its basemap and title (``maps.orientation.finish`` adds the rest)."""
    fmap = folium.Map(tiles=None, control_scale=False, prefer_canvas=True)
    add_basemap(fmap, basemap, tianditu_key)
    # A folium.Map always sits in a Figure; get_root is typed as returning any Element.
    cast(Figure, fmap.get_root()).html.add_child(
        folium.Element(
            # Below Leaflet's controls (z-index 1000): an expanded layer list covers the title,
            # never the reverse; its width stops short of the collapsed layer button on a phone.
            f'<div class="gs-title">{escape_markup(title)}</div>'
        )
    )
    return fmap


def embedded(
    features: Sequence[Feature], keep: Sequence[str] = (), escape: Sequence[str] = ()
) -> dict[str, Any]:
    """A FeatureCollection to embed in a page, carrying only the properties the page uses.

    ``keep`` are read by style functions (in Python); ``escape`` are shown by a
    ``GeoJsonTooltip``, which writes them into ``innerHTML`` at hover time, so they are stored
    already escaped. Nothing else about a feature is shipped to the browser.
    """

    def props(p: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **{k: p.get(k) for k in keep},
            **{k: escape_markup(p.get(k)) for k in escape},
        }

    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": f.get("geometry"), "properties": props(f["properties"])}
            for f in features
        ],
    }


def tooltip(fields: Sequence[str], aliases: Sequence[str]) -> folium.GeoJsonTooltip:
    """A GeoJSON tooltip over fields that ``embedded`` stored escaped."""
    return folium.GeoJsonTooltip(fields=list(fields), aliases=[escape_markup(a) for a in aliases])


def add_grid_layer(fmap: folium.Map, villages: Sequence[Feature]) -> None:
    """The village grids as one named GeoJSON layer with name/code tooltips."""
    if not villages:
        return
    folium.GeoJson(
        embedded(villages, escape=("name", "code")),
        name=escape_markup(GRID_LAYER),
        style_function=village_style,
        tooltip=tooltip(["name", "code"], ["名称", "代码"]),
    ).add_to(fmap)

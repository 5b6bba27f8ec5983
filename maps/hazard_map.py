"""The hazard heat map (隐患热力图) for 月调度 and 季通报 meetings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
from folium.plugins import HeatMap

from maps.area_map import shift_to_gcj02
from maps.basemaps import Basemap
from maps.escaping import escape_markup
from maps.layers import Feature, add_grid_layer, new_map

HEAT_LAYER = "隐患热力"
#: Major hazards weigh more: one 重大 counts like five 一般 on the heat map.
LEVEL_WEIGHTS = {"general": 1.0, "major": 5.0}


def heat_points(hazards: Sequence[Feature]) -> list[list[float]]:
    """[lat, lon, weight] for every hazard with a location."""
    points = []
    for feature in hazards:
        geometry = feature.get("geometry")
        if not geometry:
            continue
        lon, lat = geometry["coordinates"][:2]
        weight = LEVEL_WEIGHTS.get(feature["properties"].get("level", "general"), 1.0)
        points.append([lat, lon, weight])
    return points


def hazard_map(
    hazards: Sequence[Feature],
    villages: Sequence[Feature],
    *,
    title: str,
    basemap: Basemap = Basemap.NONE,
    tianditu_key: str | None = None,
) -> folium.Map:
    """A heat map of hazards over the village grids; returns a ``folium.Map``."""
    if basemap.needs_gcj02:
        hazards, villages = shift_to_gcj02(hazards), shift_to_gcj02(villages)
    fmap = new_map(title, basemap, tianditu_key)
    add_grid_layer(fmap, villages)
    points = heat_points(hazards)
    group = folium.FeatureGroup(name=escape_markup(HEAT_LAYER))
    if points:
        HeatMap(points, radius=18, blur=14, min_opacity=0.3).add_to(group)
    group.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    all_coords: list[Any] = [p[:2] for p in points]
    if all_coords:
        lats = [c[0] for c in all_coords]
        lons = [c[1] for c in all_coords]
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    return fmap

"""The area map (网格图): grids, units, networks and open hazards of a town or village."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import folium
import numpy as np
import shapely
from shapely.geometry import mapping, shape

from gis.domain import FireKeyLevel, HazardLevel, PressureClass, RiskColor, RoadClass
from gis.gcj02 import wgs_to_gcj
from maps.basemaps import Basemap
from maps.escaping import escape_markup as esc
from maps.layers import GRID_LAYER, Feature, add_grid_layer, embedded, new_map, tooltip
from maps.orientation import LegendEntry, finish
from maps.styles import (
    HAZARD_LEVEL_COLORS,
    PRESSURE_COLORS,
    RISK_COLORS,
    ROAD_COLOR,
    VILLAGE_EDGE,
    pipeline_style,
    road_style,
)

#: Layer key → the name shown in the layer control (also what tests assert on).
LAYER_NAMES = {
    "villages": GRID_LAYER,
    "roads": "道路",
    "pipelines": "燃气管线",
    "fire-stations": "消防站",
    "units": "生产经营单位",
    "key-units": "消防安全重点单位",
    "hazards": "未销号隐患",
}
STATION_COLOR = "#e31a1c"
KEY_UNIT_COLOR = "#b10026"


def shift_to_gcj02(features: Sequence[Feature]) -> list[Feature]:
    """Copies of the features with every coordinate moved into GCJ-02 (for AMap tiles)."""
    shifted = []
    for feature in features:
        if feature.get("geometry") is None:
            shifted.append(feature)
            continue
        geom = shapely.transform(
            shape(feature["geometry"]),
            lambda xy: np.column_stack(wgs_to_gcj(xy[:, 0], xy[:, 1])),
        )
        shifted.append({**feature, "geometry": mapping(geom)})
    return shifted


def _bounds(features: Sequence[Feature]) -> list[list[float]] | None:
    geoms = [shape(f["geometry"]) for f in features if f.get("geometry")]
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.GeometryCollection(geoms).bounds
    return [[miny, minx], [maxy, maxx]]


def _unit_popup(p: Mapping[str, Any]) -> str:
    risk = RiskColor(p["risk_color"]).label if p.get("risk_color") else ""
    key = FireKeyLevel(p["fire_key_level"]).label if p.get("fire_key_level") != "none" else "否"
    team = "<br>".join(f"　{esc(role)}：{esc(name)}" for role, name in p.get("team") or [])
    return (
        f"<b>{esc(p.get('name'))}</b><br>统一社会信用代码：{esc(p.get('uscc'))}<br>"
        f"行业：{esc(p.get('industry_code'))}　风险等级：{esc(risk)}<br>"
        f"消防安全重点单位：{esc(key)}<br>"
        f"责任监管人员：{esc(p.get('inspector') or '未落实')}<br>"
        f"五包一：{('<br>' + team) if team else '未落实'}<br>"
        f"下次检查：{esc(p.get('next_due') or '未检查过，应尽快检查')}"
    )


def legend_for(layers: Mapping[str, Sequence[Feature]]) -> list[LegendEntry]:
    """Legend lines for exactly the layers and classes drawn from ``layers``."""

    def present(key: str, prop: str) -> set[str]:
        return {str(f["properties"].get(prop)) for f in layers.get(key) or []}

    entries = []
    if layers.get("villages"):
        entries.append(LegendEntry(GRID_LAYER, VILLAGE_EDGE, "area"))
    entries += [
        LegendEntry(f"{c.label}（{c.value}）", ROAD_COLOR, "line")
        for c in RoadClass
        if c.value in present("roads", "road_class")
    ]
    entries += [
        LegendEntry(f"{c.label}燃气管线", PRESSURE_COLORS[c.value], "dashed")
        for c in PressureClass
        if c.value in present("pipelines", "pressure_class")
    ]
    if layers.get("fire-stations"):
        entries.append(LegendEntry(LAYER_NAMES["fire-stations"], STATION_COLOR))
    entries += [
        LegendEntry(f"{c.label}单位", RISK_COLORS[c.value])
        for c in RiskColor
        if c.value in present("units", "risk_color")
    ]
    if layers.get("key-units"):
        entries.append(LegendEntry(LAYER_NAMES["key-units"], KEY_UNIT_COLOR))
    entries += [
        LegendEntry(f"{c.label}隐患（未销号）", HAZARD_LEVEL_COLORS[c.value])
        for c in HazardLevel
        if c.value in present("hazards", "level")
    ]
    return entries


def _points(
    group: folium.FeatureGroup,
    features: Sequence[Feature],
    color: Callable[[Mapping[str, Any]], str],
    popup: Callable[[Mapping[str, Any]], str],
    radius: float = 5,
) -> None:
    for feature in features:
        if not feature.get("geometry"):
            continue
        lon, lat = feature["geometry"]["coordinates"][:2]
        folium.CircleMarker(
            location=[lat, lon],
            radius=radius,
            color=color(feature["properties"]),
            fill=True,
            fill_opacity=0.85,
            weight=1,
            popup=folium.Popup(popup(feature["properties"]), max_width=320),
        ).add_to(group)


def area_map(
    layers: Mapping[str, Sequence[Feature]],
    *,
    title: str,
    basemap: Basemap = Basemap.NONE,
    tianditu_key: str | None = None,
) -> folium.Map:
    """Render an area map from GeoJSON features per layer (keys of ``LAYER_NAMES``).

    Features are in CGCS2000 lon/lat; with an AMap basemap they are shifted to GCJ-02 so they
    line up with its tiles. Each layer becomes a named ``FeatureGroup`` with a layer control.

    Examples
    --------
    >>> fmap = area_map({"villages": []}, title="示例")
    >>> isinstance(fmap, folium.Map)
    True
    """
    if basemap.needs_gcj02:
        layers = {key: shift_to_gcj02(features) for key, features in layers.items()}
    fmap = new_map(title, basemap, tianditu_key)
    add_grid_layer(fmap, layers.get("villages") or [])
    lines = (("roads", road_style, "road_class"), ("pipelines", pipeline_style, "pressure_class"))
    for key, style, style_key in lines:
        if layers.get(key):
            folium.GeoJson(
                embedded(layers[key], keep=(style_key,), escape=("name",)),
                name=esc(LAYER_NAMES[key]),
                style_function=style,
                tooltip=tooltip(["name"], ["名称"]),
            ).add_to(fmap)

    def station_popup(p: Mapping[str, Any]) -> str:
        return f"<b>{esc(p.get('name'))}</b>"

    def hazard_popup(p: Mapping[str, Any]) -> str:
        level = HazardLevel(p["level"]).label if p.get("level") else ""
        return (
            f"<b>{esc(p.get('code'))}</b> {esc(level)}隐患<br>"
            f"整改期限：{esc(p.get('deadline') or '—')}"
        )

    groups: list[tuple[str, Callable[[Mapping[str, Any]], str], Callable[..., str], float]] = [
        ("fire-stations", lambda p: STATION_COLOR, station_popup, 7),
        (
            "units",
            lambda p: RISK_COLORS.get(p.get("risk_color", "blue"), "#2c7bb6"),
            _unit_popup,
            4,
        ),
        ("key-units", lambda p: KEY_UNIT_COLOR, _unit_popup, 7),
        (
            "hazards",
            lambda p: HAZARD_LEVEL_COLORS.get(p.get("level", "general"), "#f4a582"),
            hazard_popup,
            5,
        ),
    ]
    for key, color, popup, radius in groups:
        if layers.get(key):
            group = folium.FeatureGroup(name=esc(LAYER_NAMES[key]))
            _points(group, layers[key], color, popup, radius)
            group.add_to(fmap)
    finish(
        fmap,
        legend=legend_for(layers),
        villages=layers.get("villages") or [],
        roads=layers.get("roads") or [],
    )
    bounds = _bounds(layers.get("villages") or [f for fs in layers.values() for f in fs])
    if bounds:
        fmap.fit_bounds(bounds)
    return fmap

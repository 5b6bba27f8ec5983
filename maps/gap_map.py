"""The coverage-gap map (覆盖缺口图): one named layer per gap type over the village grids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import folium

from gis.analysis.coverage import GapType
from maps.area_map import _bounds, shift_to_gcj02
from maps.basemaps import Basemap
from maps.escaping import escape_markup as esc
from maps.layers import GRID_LAYER, Feature, add_grid_layer, new_map
from maps.orientation import LegendEntry, finish
from maps.styles import VILLAGE_EDGE

SITES_LAYER = "建议新增微型消防站"

#: Short names for the layer control (the full label is in each popup).
GAP_LAYER_NAMES: dict[str, str] = {
    GapType.UNIT_OUTSIDE_GRID: "网格外单位",
    GapType.UNIT_ON_BOUNDARY: "网格边界上的单位",
    GapType.UNIT_VILLAGE_MISMATCH: "登记村与位置不符",
    GapType.VILLAGE_WITHOUT_CHIEF: "无网格长的网格",
    GapType.VILLAGE_WITHOUT_MEMBERS: "无网格员的网格",
    GapType.UNIT_WITHOUT_INSPECTOR: "无责任监管人员",
    GapType.TEAM_INCOMPLETE: "五包一不完整",
    GapType.STAFF_OVER_CAPACITY: "超负荷人员",
    GapType.INSPECTION_OVERDUE: "检查逾期",
    GapType.BEYOND_FIRE_COVER: "消防到场超时",
    GapType.GAS_BOTTLED_NEAR_MAIN: "瓶改管候选",
    GapType.GAS_IN_PROTECTION_CORRIDOR: "燃气管道保护范围内",
    GapType.GAS_HIGH_CONSEQUENCE: "燃气高后果区",
}

GAP_COLORS: dict[str, str] = {
    GapType.UNIT_OUTSIDE_GRID: "#000000",
    GapType.UNIT_ON_BOUNDARY: "#636363",
    GapType.UNIT_VILLAGE_MISMATCH: "#969696",
    GapType.VILLAGE_WITHOUT_CHIEF: "#d7191c",
    GapType.VILLAGE_WITHOUT_MEMBERS: "#fdae61",
    GapType.UNIT_WITHOUT_INSPECTOR: "#e7298a",
    GapType.TEAM_INCOMPLETE: "#b10026",
    GapType.STAFF_OVER_CAPACITY: "#7570b3",
    GapType.INSPECTION_OVERDUE: "#ff7f00",
    GapType.BEYOND_FIRE_COVER: "#e31a1c",
    GapType.GAS_BOTTLED_NEAR_MAIN: "#1b9e77",
    GapType.GAS_IN_PROTECTION_CORRIDOR: "#a6761d",
    GapType.GAS_HIGH_CONSEQUENCE: "#7b3294",
}


def _popup(p: Mapping[str, Any]) -> str:
    people = "、".join(
        f"{r.get('name', '')}（{r.get('role_label') or '本人'}）"
        for r in p.get("responsible") or []
    )
    subject = p.get("unit_name") or p.get("village_code") or ""
    return (
        f"<b>{esc(p.get('label'))}</b><br>{esc(subject)}<br>"
        f"{esc(p.get('detail'))}<br>责任人：{esc(people or '—')}"
    )


def gap_map(
    gaps: Sequence[Feature],
    *,
    villages: Sequence[Feature] = (),
    sites: Sequence[Feature] = (),
    title: str,
    basemap: Basemap = Basemap.NONE,
    tianditu_key: str | None = None,
) -> folium.Map:
    """Render coverage gaps: one ``FeatureGroup`` per gap type present, named in Chinese.

    Parameters
    ----------
    gaps : sequence of GeoJSON features
        Gap features in CGCS2000 lon/lat with ``gap_type`` among their properties (as served by
        ``GET /api/v1/gaps``).
    villages : sequence of GeoJSON features
        Village grid polygons drawn under the gaps.
    sites : sequence of GeoJSON features
        Suggested micro fire station sites (optional layer).
    title : str
        Shown at the top of the map.
    basemap, tianditu_key
        As in :mod:`maps.basemaps`; features are shifted to GCJ-02 for AMap tiles.

    Returns
    -------
    folium.Map

    Examples
    --------
    >>> fmap = gap_map([], title="示例")
    >>> isinstance(fmap, folium.Map)
    True
    """
    if basemap.needs_gcj02:
        gaps, villages, sites = (shift_to_gcj02(x) for x in (gaps, villages, sites))
    fmap = new_map(title, basemap, tianditu_key)
    add_grid_layer(fmap, villages)
    by_type: dict[str, list[Feature]] = {}
    for feature in gaps:
        by_type.setdefault(str(feature["properties"]["gap_type"]), []).append(feature)
    for gap_type in GapType:
        features = by_type.get(gap_type.value)
        if not features:
            continue
        color = GAP_COLORS[gap_type]
        group = folium.FeatureGroup(name=esc(f"{GAP_LAYER_NAMES[gap_type]}（{len(features)}）"))
        for feature in features:
            geom = feature.get("geometry")
            if not geom:
                continue
            popup = folium.Popup(_popup(feature["properties"]), max_width=360)
            if geom["type"] == "Point":
                lon, lat = geom["coordinates"][:2]
                folium.CircleMarker(
                    location=[lat, lon],
                    radius=6,
                    color=color,
                    fill=True,
                    fill_opacity=0.8,
                    weight=1,
                    popup=popup,
                ).add_to(group)
            else:
                folium.GeoJson(
                    {"type": "Feature", "geometry": geom, "properties": {}},
                    style_function=lambda _, c=color: {
                        "color": c,
                        "weight": 3,
                        "fillColor": c,
                        "fillOpacity": 0.15,
                    },
                    # folium adds a plain Popup too but annotates GeoJsonPopup only.
                    popup=popup,  # type: ignore[arg-type]
                ).add_to(group)
        group.add_to(fmap)
    if sites:
        group = folium.FeatureGroup(name=esc(SITES_LAYER))
        for feature in sites:
            lon, lat = feature["geometry"]["coordinates"][:2]
            p = feature["properties"]
            folium.Marker(
                location=[lat, lon],
                tooltip=esc(f"建议站点 {p.get('rank')}：可覆盖 {p.get('covers')} 个重点单位"),
                icon=folium.Icon(color="red", icon="fire"),
            ).add_to(group)
        group.add_to(fmap)
    legend = [LegendEntry(GRID_LAYER, VILLAGE_EDGE, "area")] if villages else []
    legend += [
        LegendEntry(GAP_LAYER_NAMES[t], GAP_COLORS[t]) for t in GapType if by_type.get(t.value)
    ]
    if sites:
        legend.append(LegendEntry(SITES_LAYER, "#d63e2a"))
    finish(fmap, legend=legend, villages=villages)
    bounds = _bounds(list(villages) or [f for f in gaps if f.get("geometry")])
    if bounds:
        fmap.fit_bounds(bounds)
    return fmap


def feature_count(fmap: folium.Map) -> dict[str, int]:
    """Markers and shapes per named layer (what tests and the CLI report)."""
    counts = {}
    for child in fmap._children.values():
        if isinstance(child, folium.FeatureGroup) and not isinstance(child, folium.GeoJson):
            counts[child.layer_name] = len(child._children)
    return counts

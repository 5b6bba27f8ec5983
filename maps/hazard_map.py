"""The hazard heat map (隐患热力图) for 月调度 and 季通报 meetings, with a month slider.

The page carries one ``[lat, lon, weight]`` per drawn cell and month: each hazard when there are
few, bin centres with summed weights when there are many (see :mod:`gis.queries.hazard_bins`),
so its size follows the bins, not the hazards. The map says which of the two it shows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import folium
import numpy as np
from branca.element import MacroElement
from folium.plugins import HeatMap
from jinja2 import Template

from gis.gcj02 import wgs_to_gcj
from gis.queries.hazard_bins import LEVEL_WEIGHTS, HeatCell, HeatData
from maps.area_map import shift_to_gcj02
from maps.basemaps import Basemap
from maps.escaping import escape_markup
from maps.layers import GRID_LAYER, Feature, add_grid_layer, new_map
from maps.orientation import LegendEntry, finish
from maps.styles import VILLAGE_EDGE

HEAT_LAYER = "隐患热力"
ALL_MONTHS = "全部月份"

__all__ = ["HEAT_LAYER", "LEVEL_WEIGHTS", "hazard_map", "heat_data", "heat_points"]


def heat_points(hazards: Sequence[Feature]) -> list[list[float]]:
    """[lat, lon, weight] for every hazard with a location (level weights only)."""
    points = []
    for feature in hazards:
        geometry = feature.get("geometry")
        if not geometry:
            continue
        lon, lat = geometry["coordinates"][:2]
        weight = LEVEL_WEIGHTS.get(feature["properties"].get("level", "general"), 1.0)
        points.append([lat, lon, weight])
    return points


def heat_data(hazards: Sequence[Feature]) -> HeatData:
    """Unbinned heat data from hazard features (for callers holding features, e.g. tests)."""
    cells = []
    for feature in hazards:
        if not feature.get("geometry"):
            continue
        lon, lat = feature["geometry"]["coordinates"][:2]
        p = feature["properties"]
        weight = LEVEL_WEIGHTS.get(p.get("level", "general"), 1.0)
        cells.append(HeatCell(str(p.get("found_on") or "")[:7], lat, lon, weight, 1))
    return HeatData(cells, len(cells), None)


def describe(data: HeatData) -> str:
    """What the map shows, in words on the map: nothing is summarised silently."""
    if data.cell_m is None:
        return f"共 {data.hazards} 处隐患，逐处绘制（按等级、状态加权）"
    return (
        f"共 {data.hazards} 处隐患，按 {data.cell_m:g} 米格网汇总为 "
        f"{len({(c.lat, c.lon) for c in data.cells})} 个格（按等级、状态加权，无遗漏）"
    )


class MonthSlider(MacroElement):
    """A range input choosing the month shown by the heat layer (0 = every month)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
  var heat = {{ this.heat_name }}, series = {{ this.series }}, months = {{ this.months }};
  var C = L.Control.extend({onAdd: function () {
    var div = L.DomUtil.create("div", "gs-box gs-months");
    div.innerHTML = '<div class="gs-note">' + {{ this.note }} + '</div>' +
      '<input type="range" min="0" max="' + months.length + '" value="0" step="1"' +
      ' aria-label="月份"> <span class="gs-month"></span>';
    L.DomEvent.disableClickPropagation(div);
    var input = div.querySelector("input"), label = div.querySelector(".gs-month");
    function show() {
      var i = +input.value, month = i === 0 ? null : months[i - 1];
      label.textContent = month || {{ this.all }};
      heat.setLatLngs(month ? (series[month] || []) : series[""]);
    }
    input.addEventListener("input", show);
    show();
    return div;
  }});
  new C({position: "topright"}).addTo({{ this._parent.get_name() }});
})();
{% endmacro %}
"""
    )

    def __init__(self, heat: HeatMap, series: dict[str, list[list[float]]], note: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "MonthSlider"
        self.heat_name = heat.get_name()
        months = sorted(m for m in series if m)
        self.series = json.dumps(series, separators=(",", ":"), ensure_ascii=False)
        self.months = json.dumps(months, ensure_ascii=False)
        self.note = json.dumps(escape_markup(note), ensure_ascii=False)
        self.all = json.dumps(ALL_MONTHS, ensure_ascii=False)


def _series(cells: Sequence[HeatCell], gcj02: bool) -> dict[str, list[list[float]]]:
    """Points per month, plus "" for every month summed per cell (the slider's first stop)."""
    if not cells:
        return {"": []}
    lat = np.array([c.lat for c in cells])
    lon = np.array([c.lon for c in cells])
    if gcj02:
        lon, lat = wgs_to_gcj(lon, lat)
    # Six decimals (~0.1 m) are finer than any bin: fewer bytes, same picture.
    lat, lon = np.round(lat, 6), np.round(lon, 6)
    series: dict[str, list[list[float]]] = {}
    total: dict[tuple[float, float], float] = {}
    for cell, y, x in zip(cells, lat.tolist(), lon.tolist(), strict=True):
        series.setdefault(cell.month, []).append([y, x, round(cell.weight, 2)])
        total[(y, x)] = total.get((y, x), 0.0) + cell.weight
    series[""] = [[y, x, round(w, 2)] for (y, x), w in total.items()]
    return series


def hazard_map(
    hazards: Sequence[Feature] | HeatData,
    villages: Sequence[Feature],
    *,
    title: str,
    basemap: Basemap = Basemap.NONE,
    tianditu_key: str | None = None,
) -> folium.Map:
    """A heat map of hazards over the village grids, with a month slider; a ``folium.Map``.

    ``hazards`` are features (drawn one by one) or :class:`HeatData` from the database, binned
    past a threshold; in both cases the map states how many hazards it sums and how.
    """
    data = hazards if isinstance(hazards, HeatData) else heat_data(hazards)
    if basemap.needs_gcj02:
        villages = shift_to_gcj02(villages)
    fmap = new_map(title, basemap, tianditu_key)
    add_grid_layer(fmap, villages)
    series = _series(data.cells, basemap.needs_gcj02)
    group = folium.FeatureGroup(name=escape_markup(HEAT_LAYER))
    # Empty here: the slider fills it, so the points are shipped once, not twice.
    heat = HeatMap([], radius=18, blur=14, min_opacity=0.3)
    heat.add_to(group)
    group.add_to(fmap)
    MonthSlider(heat, series, describe(data)).add_to(fmap)
    legend = [LegendEntry(GRID_LAYER, VILLAGE_EDGE, "area")] if villages else []
    if data.cells:
        legend.append(LegendEntry(f"{HEAT_LAYER}（重大隐患权重×5）", "", "heat"))
    finish(fmap, legend=legend, villages=villages)
    if series[""]:
        lats = [p[0] for p in series[""]]
        lons = [p[1] for p in series[""]]
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    return fmap

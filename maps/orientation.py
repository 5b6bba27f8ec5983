"""What lets a reader find their way on any map, with or without a basemap.

A layer control (collapsed on a phone), a legend drawn from the layers actually on the map, a
metric scale bar, a north arrow, a fullscreen button, village names and road names from
gridsafe's own tables, the town seat, and CSS for phones (the title never covers the layer list)
and for print (no zoom or fullscreen buttons). Every text that reaches the page passes through
:func:`maps.escaping.escape_markup`; the label data travel as JSON of escaped strings, so a name
can neither end the script nor become markup when Leaflet writes it with ``innerHTML``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import folium
import shapely
from branca.element import Figure, MacroElement
from jinja2 import Template
from shapely.geometry import shape

from maps.escaping import escape_markup as esc
from maps.layers import FOOTER, Feature

Symbol = Literal["point", "line", "dashed", "area", "heat", "label", "seat"]
#: Phones and small tablets: below this width the layer list starts collapsed.
PHONE_MAX_WIDTH = 600
#: 城乡分类代码 121 (镇中心区): the village holding the town seat.
TOWN_SEAT_CODE = "121"
VILLAGE_LABELS = "村（社区）名称"
ROAD_LABELS = "道路名称"
TOWN_SEAT = "镇政府驻地"

CSS = f"""
<style>
.gs-title{{position:fixed;top:10px;left:54px;z-index:900;background:#fff;padding:4px 10px;
 font-size:16px;font-weight:bold;max-width:calc(100vw - 130px);box-shadow:0 1px 4px #0004;
 border-radius:4px}}
.gs-box{{background:#fff;padding:4px 8px;border-radius:4px;box-shadow:0 1px 4px #0004;
 font-size:12px;line-height:18px}}
.gs-legend{{max-height:40vh;overflow-y:auto}}
.gs-legend .gs-sw{{display:inline-block;vertical-align:middle;margin-right:6px}}
.gs-sw-point{{width:10px;height:10px;border-radius:50%;border:1px solid #333}}
.gs-sw-seat{{width:10px;height:10px;border:2px solid #000;background:#ffd700}}
.gs-sw-line{{width:18px;height:0;border-top:3px solid}}
.gs-sw-dashed{{width:18px;height:0;border-top:3px dashed}}
.gs-sw-area{{width:14px;height:10px;border:1.5px solid}}
.gs-sw-heat{{width:40px;height:10px;background:linear-gradient(90deg,blue,cyan,lime,yellow,red)}}
.gs-sw-label{{width:auto;font-weight:bold}}
.gs-north{{font:bold 14px sans-serif;text-align:center;padding:2px 6px}}
.gs-north b{{display:block;font-size:18px;line-height:16px}}
.gs-fullscreen{{font-size:18px;cursor:pointer}}
.gs-label{{white-space:nowrap;font:bold 13px sans-serif;color:#222;
 text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff;pointer-events:none}}
.gs-label.gs-road{{font-weight:normal;font-size:11px;color:#6b4c12}}
.gs-label.gs-seat{{font-size:13px;color:#000}}
.gs-label.gs-seat:before{{content:"\\2605 ";color:#d40000}}
@media (max-width:{PHONE_MAX_WIDTH}px){{.gs-title{{font-size:14px}}.gs-legend{{max-height:28vh}}}}
@media print{{.leaflet-control-zoom,.gs-fullscreen,.leaflet-control-layers{{display:none}}}}
</style>
"""


@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: the symbol drawn, its colour and its label."""

    label: str
    color: str
    symbol: Symbol = "point"

    def html(self) -> str:
        color = esc(self.color)
        if self.symbol == "label":
            return f'<span class="gs-sw gs-sw-label">甲</span>{esc(self.label)}'
        style = {
            "point": f"background:{color}",
            "line": f"border-color:{color}",
            "dashed": f"border-color:{color}",
            "area": f"border-color:{color};background:{color}33",
        }.get(self.symbol, "")
        return f'<span class="gs-sw gs-sw-{self.symbol}" style="{style}"></span>{esc(self.label)}'


Label = tuple[float, float, str, str]


def village_labels(villages: Sequence[Feature]) -> list[Label]:
    """(lat, lon, name, css class) of each village name, at a point inside its polygon."""
    labels = []
    for feature in villages:
        if not feature.get("geometry"):
            continue
        point = shapely.point_on_surface(shape(feature["geometry"]))
        labels.append((point.y, point.x, esc(feature["properties"].get("name")), "gs-village"))
    return labels


def town_seat(villages: Sequence[Feature]) -> list[Label]:
    """The town seat: the village classed 镇中心区 (城乡分类代码 121), if the map shows it."""
    for feature in villages:
        p = feature["properties"]
        if p.get("urban_rural_code") == TOWN_SEAT_CODE and feature.get("geometry"):
            centre = shape(feature["geometry"]).centroid
            if not shape(feature["geometry"]).contains(centre):
                centre = shapely.point_on_surface(shape(feature["geometry"]))
            return [(centre.y, centre.x, esc(TOWN_SEAT), "gs-seat")]
    return []


def road_labels(roads: Sequence[Feature]) -> list[Label]:
    """One label per named road, at the middle of its longest piece (a road is many edges)."""
    longest: dict[str, shapely.LineString] = {}
    for feature in roads:
        name = feature["properties"].get("name")
        if not name or not feature.get("geometry"):
            continue
        line = cast(shapely.LineString, shape(feature["geometry"]))
        if name not in longest or line.length > longest[name].length:
            longest[name] = line
    labels = []
    for name, line in sorted(longest.items()):
        mid = line.interpolate(0.5, normalized=True)
        labels.append((mid.y, mid.x, esc(name), "gs-road"))
    return labels


class Orientation(MacroElement):
    """Scale, north arrow, fullscreen, legend, labels and the phone/print behaviour of a map."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }};
  var layers = {{ this.control_name }};
  L.control.scale({metric: true, imperial: false, position: "bottomleft"}).addTo(map);
  function box(position, cls, html) {
    var C = L.Control.extend({onAdd: function () {
      var div = L.DomUtil.create("div", "gs-box " + cls);
      div.innerHTML = html;
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    }});
    return new C({position: position}).addTo(map);
  }
  box("topleft", "gs-north", "<b>&#9650;</b>北");
  var full = box("topleft", "gs-fullscreen", "&#x26F6;");
  full.getContainer().title = "全屏 (fullscreen)";
  full.getContainer().addEventListener("click", function () {
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen();
    }
  });
  // Leaflet stacks bottom controls upwards: the footer first keeps it on the bottom line.
  box("bottomright", "gs-footer", {{ this.footer }});
  {% if this.legend %}box("bottomright", "gs-legend", {{ this.legend }});{% endif %}
  var groups = {};
  {{ this.labels }}.forEach(function (l) {
    var key = l[3] === "gs-road" ? {{ this.road_title }} : {{ this.village_title }};
    if (!groups[key]) {
      groups[key] = L.layerGroup().addTo(map);
      layers.addOverlay(groups[key], key);
    }
    L.marker([l[0], l[1]], {
      interactive: false, keyboard: false,
      icon: L.divIcon({className: "gs-label " + l[3], html: l[2], iconSize: null})
    }).addTo(groups[key]);
  });
  if (window.matchMedia("(max-width: {{ this.phone }}px)").matches) {
    layers.collapse();
    map.on("click", layers.collapse, layers);
  }
})();
{% endmacro %}
"""
    )

    def __init__(
        self,
        control: folium.LayerControl,
        legend: Sequence[LegendEntry],
        labels: Sequence[Label],
        footer: str,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Orientation"
        self.control_name = control.get_name()
        # json.dumps of escaped text: no quote can end the string, and the legend's own tags
        # are written "<\/" so no "</script" can appear in the script.
        legend_html = "<br>".join(e.html() for e in legend)
        self.legend = json.dumps(legend_html, ensure_ascii=False).replace("</", "<\\/")
        self.labels = json.dumps([list(label) for label in labels], ensure_ascii=False)
        self.footer = json.dumps(esc(footer), ensure_ascii=False)
        self.village_title = json.dumps(esc(VILLAGE_LABELS), ensure_ascii=False)
        self.road_title = json.dumps(esc(ROAD_LABELS), ensure_ascii=False)
        self.phone = PHONE_MAX_WIDTH


def finish(
    fmap: folium.Map,
    *,
    legend: Sequence[LegendEntry],
    villages: Sequence[Feature] = (),
    roads: Sequence[Feature] = (),
    footer: str | None = None,
) -> folium.Map:
    """Add the layer control and everything that orients a reader; returns ``fmap``.

    Call last, after every layer: the legend lists what the caller drew, and the labels layers
    join the layer control so a reader can switch them off.
    """
    control = folium.LayerControl(collapsed=False)
    control.add_to(fmap)
    labels = village_labels(villages) + town_seat(villages) + road_labels(roads)
    cast(Figure, fmap.get_root()).header.add_child(folium.Element(CSS), name="gs_css")
    if footer is None:
        footer = f"{FOOTER} · 数据来源：gridsafe 网格安监 · 制图日期：{dt.date.today().isoformat()}"
    Orientation(control, legend, labels, footer).add_to(fmap)
    return fmap

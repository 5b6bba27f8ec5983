"""Area and hazard maps: layer names, feature counts, bounds, and the GCJ-02 shift for AMap."""

from __future__ import annotations

import json

import folium
import pytest
from folium.plugins import HeatMap
from pyproj import Geod

from maps.area_map import LAYER_NAMES, area_map, shift_to_gcj02
from maps.basemaps import Basemap, choose
from maps.hazard_map import HEAT_LAYER, MonthSlider, hazard_map, heat_points

SQUARE = {
    "type": "Feature",
    "geometry": {
        "type": "MultiPolygon",
        "coordinates": [
            [[[114.0, 34.0], [114.02, 34.0], [114.02, 34.02], [114.0, 34.02], [114.0, 34.0]]]
        ],
    },
    "properties": {"name": "甲村", "code": "411003101201"},
}


def _point(lon: float, lat: float, **props: object) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": props,
    }


def _groups(fmap: folium.Map) -> dict[str, object]:
    return {
        child.layer_name: child
        for child in fmap._children.values()
        if isinstance(child, folium.FeatureGroup | folium.GeoJson)
    }


def test_area_map_has_named_layers_with_their_features() -> None:
    units = [
        _point(114.005, 34.005, name="A", risk_color="red", fire_key_level="none"),
        _point(114.01, 34.01, name="B", risk_color="blue", fire_key_level="town"),
    ]
    fmap = area_map(
        {"villages": [SQUARE], "units": units, "key-units": units[1:]}, title="甲村安全生产网格图"
    )
    groups = _groups(fmap)
    assert set(groups) == {LAYER_NAMES["villages"], LAYER_NAMES["units"], LAYER_NAMES["key-units"]}
    markers = [
        c
        for c in groups[LAYER_NAMES["units"]]._children.values()
        if isinstance(c, folium.CircleMarker)
    ]
    assert len(markers) == 2
    # Fitted to the village: south-west and north-east corners in Leaflet's lat/lon order.
    bounds = next(c for c in fmap._children.values() if type(c).__name__ == "FitBounds")
    assert bounds.bounds == [[34.0, 114.0], [34.02, 114.02]]
    html = fmap.get_root().render()
    assert "甲村安全生产网格图" in html and "2000国家大地坐标系" in html


def test_amap_basemap_shifts_overlays_by_about_570_m() -> None:
    shifted = shift_to_gcj02([_point(114.0, 34.05)])[0]
    lon, lat = shifted["geometry"]["coordinates"]
    _, _, metres = Geod(ellps="GRS80").inv(114.0, 34.05, lon, lat)
    assert 540 < metres < 600  # conventions §1.3: ~568 m ESE at Wunüdian
    assert lon > 114.0 and lat < 34.05


@pytest.mark.parametrize(
    ("requested", "key", "expected"),
    [
        (None, None, Basemap.NONE),
        (None, "k", Basemap.TIANDITU_VECTOR),
        ("tianditu_img", None, Basemap.NONE),
        ("amap", None, Basemap.AMAP),
    ],
)
def test_basemap_choice(requested: str | None, key: str | None, expected: Basemap) -> None:
    assert choose(requested, key) is expected


def test_tianditu_layers_carry_the_key_and_annotation_overlay() -> None:
    fmap = area_map(
        {"villages": [SQUARE]}, title="t", basemap=Basemap.TIANDITU_VECTOR, tianditu_key="abc123"
    )
    tiles = [c for c in fmap._children.values() if isinstance(c, folium.TileLayer)]
    assert [t.tile_name for t in tiles] == ["天地图", "天地图注记"]
    assert all("tk=abc123" in t.tiles and "TILEMATRIXSET=w" in t.tiles for t in tiles)


def test_hazard_heat_map_weights_major_hazards() -> None:
    hazards = [_point(114.01, 34.01, level="general"), _point(114.011, 34.012, level="major")]
    assert heat_points(hazards) == [[34.01, 114.01, 1.0], [34.012, 114.011, 5.0]]
    fmap = hazard_map(hazards, [SQUARE], title="隐患热力图")
    group = _groups(fmap)[HEAT_LAYER]
    heat = [c for c in group._children.values() if isinstance(c, HeatMap)]
    assert len(heat) == 1
    # The points travel once, in the month slider's series ("" = every month summed).
    slider = next(c for c in fmap._children.values() if isinstance(c, MonthSlider))
    series = json.loads(slider.series)
    assert sorted(series[""]) == [[34.01, 114.01, 1.0], [34.012, 114.011, 5.0]]
    assert heat[0].get_name() == slider.heat_name

"""The gap map: one named layer per gap type present, with its features, fitted to the grids."""

from __future__ import annotations

import folium

from maps.gap_map import GAP_LAYER_NAMES, SITES_LAYER, feature_count, gap_map

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


def _gap(gap_type: str, geometry: dict, **props: object) -> dict:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"gap_type": gap_type, "label": gap_type, "detail": "", **props},
    }


def test_one_layer_per_gap_type_with_its_features() -> None:
    pt = {"type": "Point", "coordinates": [114.01, 34.01]}
    gaps = [
        _gap("unit_without_inspector", pt, unit_name="A", responsible=[]),
        _gap("unit_without_inspector", pt, unit_name="B", responsible=[]),
        _gap("village_without_chief", SQUARE["geometry"], village_code="411003101201"),
    ]
    site = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [114.015, 34.015]},
        "properties": {"rank": 1, "covers": 3},
    }
    fmap = gap_map(gaps, villages=[SQUARE], sites=[site], title="覆盖缺口图")
    assert isinstance(fmap, folium.Map)
    counts = feature_count(fmap)
    assert counts == {
        f"{GAP_LAYER_NAMES['unit_without_inspector']}（2）": 2,
        f"{GAP_LAYER_NAMES['village_without_chief']}（1）": 1,
        SITES_LAYER: 1,
    }
    bounds = next(c for c in fmap._children.values() if type(c).__name__ == "FitBounds")
    assert bounds.bounds == [[34.0, 114.0], [34.02, 114.02]]

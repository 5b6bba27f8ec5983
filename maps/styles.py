"""Colours and symbols shared by every map (risk colours of 双重预防机制)."""

from __future__ import annotations

from typing import Any

RISK_COLORS = {"red": "#d7191c", "orange": "#fd8d3c", "yellow": "#e6c300", "blue": "#2c7bb6"}
ROAD_WEIGHTS = {"S": 4, "X": 3, "Y": 2, "C": 1, "G": 5, "E": 5}
PRESSURE_COLORS = {"high": "#7b3294", "sub_high": "#c2a5cf", "medium": "#e66101", "low": "#fdb863"}
HAZARD_LEVEL_COLORS = {"general": "#f4a582", "major": "#b2182b"}
VILLAGE_EDGE = "#3d3d3d"
ROAD_COLOR = "#8c6d31"


def village_style(_: Any) -> dict[str, Any]:
    return {"color": VILLAGE_EDGE, "weight": 1.5, "fillColor": "#9ecae1", "fillOpacity": 0.12}


def road_style(feature: dict[str, Any]) -> dict[str, Any]:
    cls = feature["properties"].get("road_class", "C")
    return {"color": ROAD_COLOR, "weight": ROAD_WEIGHTS.get(cls, 1), "opacity": 0.8}


def pipeline_style(feature: dict[str, Any]) -> dict[str, Any]:
    pressure = feature["properties"].get("pressure_class", "medium")
    return {"color": PRESSURE_COLORS.get(pressure, "#e66101"), "weight": 3, "dashArray": "6 4"}

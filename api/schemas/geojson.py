"""Typed GeoJSON (RFC 7946) as it crosses the API: features, collections and their paging."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Geometry(BaseModel):
    type: Literal["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
    coordinates: list[Any]


class Feature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: int | str | None = None
    geometry: Geometry | None
    properties: dict[str, Any]


class Link(BaseModel):
    href: str
    rel: str
    type: str = "application/geo+json"


class FeatureCollection(BaseModel):
    """A page of a layer, with OGC API-style counts and next/prev links."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
    numberMatched: int = Field(description="Rows matching the filters, over all pages.")
    numberReturned: int
    links: list[Link] = []

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "type": "FeatureCollection",
                    "numberMatched": 1,
                    "numberReturned": 1,
                    "links": [],
                    "features": [
                        {
                            "type": "Feature",
                            "id": "411003101201",
                            "geometry": {"type": "MultiPolygon", "coordinates": []},
                            "properties": {"code": "411003101201", "name": "岗丁村"},
                        }
                    ],
                }
            ]
        }
    }

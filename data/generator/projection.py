"""Metric ↔ storage coordinates for the generator: EPSG:4547 metres to EPSG:4490 rounded lon/lat."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.crs import METRIC_SRID, STORAGE_SRID, transformer

#: Decimal places of stored lon/lat (1e-7° ≈ 1 cm).
DECIMALS = 7


def to_lonlat(xy: np.ndarray) -> np.ndarray:
    """Project an (n, 2) array of EPSG:4547 metres to EPSG:4490 lon/lat rounded to 1e-7°."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    lon, lat = transformer(METRIC_SRID, STORAGE_SRID).transform(xy[:, 0], xy[:, 1])
    return np.round(np.column_stack([lon, lat]), DECIMALS)


def to_metres(ll: np.ndarray) -> np.ndarray:
    """Project an (n, 2) array of EPSG:4490 lon/lat to EPSG:4547 metres."""
    ll = np.asarray(ll, dtype=float).reshape(-1, 2)
    x, y = transformer(STORAGE_SRID, METRIC_SRID).transform(ll[:, 0], ll[:, 1])
    return np.column_stack([x, y])


def geom_to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """Project a metre geometry to rounded lon/lat (vertex by vertex)."""
    return shapely.transform(geom, to_lonlat)


def geom_to_metres(geom: BaseGeometry) -> BaseGeometry:
    """Project a lon/lat geometry to EPSG:4547 metres (vertex by vertex)."""
    return shapely.transform(geom, to_metres)

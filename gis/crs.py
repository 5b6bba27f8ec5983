"""Coordinate reference systems: the one place where CRS decisions are made."""

from __future__ import annotations

from functools import lru_cache

from pyproj import CRS, Transformer

#: Storage and exchange: CGCS2000 geographic (lon/lat with always_xy).
STORAGE_SRID = 4490
#: Metric work (lengths, areas, buffers): CGCS2000 / 3-degree Gauss-Kruger CM 114E.
METRIC_SRID = 4547
#: The same projection with zone-prefixed eastings (zone 38), common in surveyors' files.
METRIC_ZONED_SRID = 4526
#: Display only (Leaflet tiles); never used for measurement.
WEB_SRID = 3857

#: Projected CRSs that imports accept, keyed by their typical easting magnitude.
ACCEPTED_PROJECTED = (METRIC_SRID, METRIC_ZONED_SRID)


@lru_cache(maxsize=32)
def transformer(src: int, dst: int) -> Transformer:
    """A cached lon/lat-ordered transformer between two EPSG codes."""
    return Transformer.from_crs(CRS.from_epsg(src), CRS.from_epsg(dst), always_xy=True)


def guess_projected_srid(x: float) -> int | None:
    """Guess a Gauss-Kruger CRS from an easting: ~5e5 means CM 114E, ~3.85e7 means zone 38.

    Returns None when the value looks like a longitude or fits neither.
    """
    if 3.8e5 <= x <= 6.2e5:
        return METRIC_SRID
    if 38.38e6 <= x <= 38.62e6:
        return METRIC_ZONED_SRID
    return None

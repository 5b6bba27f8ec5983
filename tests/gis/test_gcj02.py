"""GCJ-02 / BD-09 conversions against published vectors and pyproj-measured round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gis import gcj02
from gis.crs import METRIC_SRID, STORAGE_SRID, transformer

# googollee/eviltransform python/test.py: WGS (lat, lon) -> GCJ (lat, lon).
WGS_GCJ_VECTORS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
# The same file's BD-09 -> WGS vectors. They were produced with the historical eviltransform
# BD constants (math.pi where PRCoords uses pi*3000/180, eviltransform issues #43/#44) and
# the one-step GCJ inverse, so a correct BD-09 implementation cannot meet them at 1e-6°.
EVILTRANSFORM_BD_VECTORS = [
    (29.199786, 120.019809, 29.196131605295484, 120.00877901149691),
    (29.210504, 120.036455, 29.206795749156136, 120.0253853970846),
]


def metres_apart(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Distances in metres measured in EPSG:4547 (pyproj, the independent witness)."""
    to_metric = transformer(STORAGE_SRID, METRIC_SRID)
    x1, y1 = to_metric.transform(lon1, lat1)
    x2, y2 = to_metric.transform(lon2, lat2)
    return np.hypot(np.asarray(x1) - x2, np.asarray(y1) - y2)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), WGS_GCJ_VECTORS)
def test_wgs_to_gcj_reproduces_published_vectors(wlat, wlon, glat, glon):
    lon, lat = gcj02.wgs_to_gcj(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-7)
    assert lat == pytest.approx(glat, abs=1e-7)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), WGS_GCJ_VECTORS)
def test_gcj_to_wgs_recovers_published_inputs(wlat, wlon, glat, glon):
    lon, lat = gcj02.gcj_to_wgs(glon, glat)
    assert lon == pytest.approx(wlon, abs=1e-8)
    assert lat == pytest.approx(wlat, abs=1e-8)


def test_vectorised_call_matches_scalar_calls():
    wlat = np.array([v[0] for v in WGS_GCJ_VECTORS])
    wlon = np.array([v[1] for v in WGS_GCJ_VECTORS])
    lon, lat = gcj02.wgs_to_gcj(wlon, wlat)
    assert isinstance(lon, np.ndarray) and lon.shape == (3,)
    np.testing.assert_allclose(lon, [v[3] for v in WGS_GCJ_VECTORS], atol=1e-7)
    np.testing.assert_allclose(lat, [v[2] for v in WGS_GCJ_VECTORS], atol=1e-7)


def test_gcj_round_trip_under_half_a_metre_around_the_town():
    lon, lat = np.meshgrid(np.linspace(113.90, 114.10, 41), np.linspace(33.95, 34.15, 41))
    lon, lat = lon.ravel(), lat.ravel()
    back = gcj02.gcj_to_wgs(*gcj02.wgs_to_gcj(lon, lat))
    error = metres_apart(lon, lat, *back)
    assert error.max() < 0.5
    # The fixed point converges far below the requirement: ~1e-9 degrees.
    assert np.max(np.abs(back[0] - lon)) < 1e-9
    assert np.max(np.abs(back[1] - lat)) < 1e-9


def test_iterative_inverse_beats_the_one_step_inverse():
    lon, lat = np.array([114.0]), np.array([34.05])
    glon, glat = gcj02.wgs_to_gcj(lon, lat)
    flon, flat = gcj02.wgs_to_gcj(glon, glat)
    one_step = (2 * glon - flon, 2 * glat - flat)
    assert metres_apart(lon, lat, *one_step)[0] > 0.5  # the doc measures 0.8-2.5 m here
    assert metres_apart(lon, lat, *gcj02.gcj_to_wgs(glon, glat))[0] < 1e-3


def test_shift_at_wunudian_is_the_documented_570_metres():
    lon, lat = np.array([113.935, 114.0, 114.065]), np.array([34.005, 34.053, 34.1])
    shift = metres_apart(lon, lat, *gcj02.wgs_to_gcj(lon, lat))
    assert np.all((shift > 560) & (shift < 577))


def test_identity_outside_china():
    for lon, lat in ((2.35, 48.85), (-74.0, 40.7), (139.7, 35.7)):
        assert gcj02.wgs_to_gcj(lon, lat) == (lon, lat)
        assert gcj02.gcj_to_wgs(lon, lat) == (lon, lat)


def test_bd_round_trips():
    lon, lat = np.meshgrid(np.linspace(113.9, 114.1, 11), np.linspace(33.95, 34.15, 11))
    lon, lat = lon.ravel(), lat.ravel()
    bd = gcj02.gcj_to_bd(lon, lat)
    back = gcj02.bd_to_gcj(*bd)
    assert metres_apart(lon, lat, *back).max() < 1e-3
    wgs_back = gcj02.bd_to_wgs(*gcj02.wgs_to_bd(lon, lat))
    assert metres_apart(lon, lat, *wgs_back).max() < 0.5
    # WGS -> BD-09 at Wunudian is about 1.26 km (conventions §1.3).
    total = metres_apart(lon, lat, *gcj02.wgs_to_bd(lon, lat))
    assert np.all((total > 1150) & (total < 1350))


@pytest.mark.parametrize(("blat", "blon", "wlat", "wlon"), EVILTRANSFORM_BD_VECTORS)
def test_bd_vectors_are_reproduced_only_with_the_historical_constants(blat, blon, wlat, wlon):
    """Witness for why we do not assert the eviltransform BD vectors at 1e-6 degrees."""
    k = math.pi  # the historical mistake; PRCoords uses pi * 3000 / 180
    x, y = blon - 0.0065, blat - 0.006
    z = math.hypot(x, y) - 2e-5 * math.sin(y * k)
    theta = math.atan2(y, x) - 3e-6 * math.cos(x * k)
    glon, glat = z * math.cos(theta), z * math.sin(theta)
    fwd_lon, fwd_lat = gcj02.wgs_to_gcj(glon, glat)
    one_step = (2 * glon - fwd_lon, 2 * glat - fwd_lat)
    assert one_step == pytest.approx((wlon, wlat), abs=1e-6)
    # Our PRCoords-constant path lands within ~50 m of them (the size of the historical error).
    ours = gcj02.bd_to_wgs(blon, blat)
    assert metres_apart(ours[0], ours[1], wlon, wlat) < 50


def test_geometry_to_wgs_shifts_every_vertex():
    import shapely

    truth = shapely.Polygon([(114.0, 34.0), (114.01, 34.0), (114.01, 34.01), (114.0, 34.0)])
    coords = shapely.get_coordinates(truth)
    gx, gy = gcj02.wgs_to_gcj(coords[:, 0], coords[:, 1])
    shifted = shapely.Polygon(np.column_stack([gx, gy]))
    back = gcj02.geometry_to_wgs(shifted, "gcj02")
    np.testing.assert_allclose(shapely.get_coordinates(back), coords, atol=1e-9)
    assert gcj02.geometry_to_wgs(truth, "wgs84") is truth

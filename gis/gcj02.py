"""WGS84/CGCS2000 ↔ GCJ-02 ↔ BD-09 conversions, vectorised with numpy (public formulas)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

# Krasovsky 1940 ellipsoid: the published GCJ-02 algorithm converts its metre offsets with it.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323
# Rough China box outside which every common implementation returns its input unchanged.
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271
_BD_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006

#: A pair of coordinate arrays (lon, lat), or floats when the inputs were scalars.
LonLat = tuple[Any, Any]
Datum = Literal["wgs84", "gcj02", "bd09"]


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return x.astype(float, copy=True), y.astype(float, copy=True)


Vec = NDArray[np.float64]


def _result(lon: ArrayLike, lat: ArrayLike, x: Vec, y: Vec) -> LonLat:
    """Return floats for scalar input, arrays otherwise."""
    if np.ndim(lon) == 0 and np.ndim(lat) == 0:
        return float(x), float(y)
    return x, y


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points fall inside the box where GCJ-02 applies.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays of the same shape).

    Returns
    -------
    numpy.ndarray
        Boolean mask, True where the obfuscation is applied.
    """
    x, y = _arrays(lon, lat)
    return (x >= _LON_MIN) & (x <= _LON_MAX) & (y >= _LAT_MIN) & (y <= _LAT_MAX)


def _offset_m(x: Vec, y: Vec) -> tuple[Vec, Vec]:
    """The published east/north offsets in metres, from x = lon - 105 and y = lat - 35."""
    root = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    d_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * root
        + common
        + (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * root
        + common
        + (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    )
    return d_lon, d_lat


def _gcj_delta(lon: Vec, lat: Vec) -> tuple[Vec, Vec]:
    """GCJ-02 minus WGS84 in degrees at WGS84 points (zero outside the China box)."""
    d_lon_m, d_lat_m = _offset_m(lon - 105.0, lat - 35.0)
    phi = np.radians(lat)
    w = 1.0 - _KRASOVSKY_E2 * np.sin(phi) ** 2
    meridian = _KRASOVSKY_A * (1.0 - _KRASOVSKY_E2) / (w * np.sqrt(w))
    parallel = _KRASOVSKY_A / np.sqrt(w) * np.cos(phi)
    d_lat = d_lat_m * 180.0 / (np.pi * meridian)
    d_lon = d_lon_m * 180.0 / (np.pi * parallel)
    inside = in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs_to_gcj(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """Convert WGS84/CGCS2000 lon/lat to GCJ-02 (exact with respect to the public algorithm).

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02; floats for scalar input. Points outside China are unchanged.

    Examples
    --------
    >>> lon, lat = wgs_to_gcj(121.5272106, 31.1774276)
    >>> round(lon, 6), round(lat, 6)
    (121.531542, 31.175304)
    """
    x, y = _arrays(lon, lat)
    d_lon, d_lat = _gcj_delta(x, y)
    return _result(lon, lat, x + d_lon, y + d_lat)


def _largest(*steps: Vec) -> float:
    return max(float(np.max(np.abs(s), initial=0.0)) for s in steps)


def gcj_to_wgs(
    lon: ArrayLike, lat: ArrayLike, *, tolerance: float = 1e-10, max_iterations: int = 10
) -> LonLat:
    """Convert GCJ-02 lon/lat back to WGS84/CGCS2000 by fixed-point iteration.

    The offset varies slowly (metres per kilometre), so ``w ← w − (f(w) − g)`` contracts fast:
    three or four steps reach 1e-9°, well under the 0.5 m the imports need.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays of one shape.
    tolerance
        Stop when every point moved less than this many degrees in the last step.
    max_iterations
        Upper bound on forward evaluations.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84; floats for scalar input.

    Examples
    --------
    >>> g = wgs_to_gcj(114.0, 34.05)
    >>> w = gcj_to_wgs(*g)
    >>> abs(w[0] - 114.0) < 1e-9 and abs(w[1] - 34.05) < 1e-9
    True
    """
    gx, gy = _arrays(lon, lat)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(max_iterations):
        d_lon, d_lat = _gcj_delta(wx, wy)
        step_x = gx - (wx + d_lon)
        step_y = gy - (wy + d_lat)
        wx += step_x
        wy += step_y
        if _largest(step_x, step_y) < tolerance:
            break
    return _result(lon, lat, wx, wy)


def gcj_to_bd(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """Convert GCJ-02 lon/lat to Baidu BD-09 (bd09ll).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09; floats for scalar input.
    """
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 2e-5 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 3e-6 * np.cos(x * _BD_X_PI)
    return _result(lon, lat, z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT)


def bd_to_gcj(
    lon: ArrayLike, lat: ArrayLike, *, tolerance: float = 1e-10, max_iterations: int = 10
) -> LonLat:
    """Convert Baidu BD-09 (bd09ll) lon/lat to GCJ-02.

    Starts from the published closed-form inverse (≈0.1 m off) and refines it by fixed-point
    iteration on :func:`gcj_to_bd`, so ``bd_to_gcj(gcj_to_bd(p))`` returns ``p`` to ~1e-9°.

    Parameters
    ----------
    lon, lat
        BD-09 degrees.
    tolerance, max_iterations
        As for :func:`gcj_to_wgs`.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02; floats for scalar input.
    """
    bx, by = _arrays(lon, lat)
    x, y = bx - _BD_DLON, by - _BD_DLAT
    z = np.hypot(x, y) - 2e-5 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 3e-6 * np.cos(x * _BD_X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iterations):
        fx, fy = gcj_to_bd(gx, gy)
        step_x, step_y = bx - fx, by - fy
        gx += step_x
        gy += step_y
        if _largest(step_x, step_y) < tolerance:
            break
    return _result(lon, lat, gx, gy)


def bd_to_wgs(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """Convert Baidu BD-09 lon/lat to WGS84/CGCS2000 (BD-09 → GCJ-02 → iterative inverse).

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84; floats for scalar input.
    """
    gx, gy = bd_to_gcj(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    wx, wy = gcj_to_wgs(gx, gy)
    return _result(lon, lat, np.asarray(wx), np.asarray(wy))


def wgs_to_bd(lon: ArrayLike, lat: ArrayLike) -> LonLat:
    """Convert WGS84/CGCS2000 lon/lat to Baidu BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS84 degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09; floats for scalar input.
    """
    gx, gy = wgs_to_gcj(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    bx, by = gcj_to_bd(gx, gy)
    return _result(lon, lat, np.asarray(bx), np.asarray(by))


_TO_WGS: dict[str, Callable[[ArrayLike, ArrayLike], LonLat]] = {
    "gcj02": gcj_to_wgs,
    "bd09": bd_to_wgs,
}


def geometry_to_wgs(geoms: Any, datum: Datum) -> Any:
    """Shift shapely geometries (one or an array) from ``datum`` to WGS84/CGCS2000.

    Parameters
    ----------
    geoms
        A shapely geometry or an array of them, in lon/lat of ``datum``.
    datum
        ``"gcj02"``, ``"bd09"`` or ``"wgs84"`` (returned unchanged).

    Returns
    -------
    Same kind as ``geoms``, with every vertex converted.
    """
    if datum == "wgs84":
        return geoms
    convert = _TO_WGS[datum]

    def shift(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = convert(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, shift)

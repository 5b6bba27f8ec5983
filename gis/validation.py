"""Checks on user-supplied values: credit codes, point positions and polygon shapes."""

from __future__ import annotations

import unicodedata
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from gis.crs import METRIC_SRID, STORAGE_SRID, transformer

#: GB 32100-2015 character set (no I, O, Z, S, V).
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
USCC_LENGTH = 18

#: China's extent in degrees, used to tell a longitude from a latitude.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)

#: Default tolerance for "inside the town" checks: boundary digitising is rarely better.
DEFAULT_TOLERANCE_M = 50.0


def normalise_text(value: str) -> str:
    """Fold full-width characters to half-width (NFKC) and trim all kinds of spaces.

    Parameters
    ----------
    value
        Text as typed in a ledger, e.g. ``"　９１１１０１０８５５１３８５０８２Ｑ "``.

    Returns
    -------
    str
        The text with full-width digits, letters and punctuation folded to ASCII, the
        ideographic space U+3000 to a plain space, and leading/trailing whitespace removed.
    """
    return unicodedata.normalize("NFKC", value).strip()


def normalise_uscc(code: str) -> str:
    """Canonical form of a credit code: half-width, upper case, no spaces or hyphens."""
    folded = normalise_text(code).upper()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "-")


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code.

    Parameters
    ----------
    first17
        Seventeen characters from :data:`USCC_CHARSET` (upper case).

    Returns
    -------
    str
        The expected 18th character.

    Raises
    ------
    ValueError
        If the input is not 17 characters of the charset.

    Examples
    --------
    >>> uscc_check_char("91110108551385082")
    'Q'
    """
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError(f"expected 17 characters, got {len(first17)}")
    try:
        total = sum(USCC_CHARSET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    except ValueError as exc:
        raise ValueError(f"{first17!r} contains a character outside the USCC charset") from exc
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str | None:
    """Check a 统一社会信用代码; None when valid, else the reason in Chinese.

    The code is normalised first (:func:`normalise_uscc`), so full-width input is accepted.
    Codes whose leading characters are letters (``N2…`` village collectives, ``Y…``) are valid
    when their check character is.

    Parameters
    ----------
    code
        The code as found in the file.

    Returns
    -------
    str or None
        ``None`` if valid; otherwise e.g. ``"长度应为18位，实际为17位"``,
        ``"含非法字符：I（信用代码不使用 I、O、Z、S、V）"`` or ``"校验位错误，应为 Q"``.

    Examples
    --------
    >>> validate_uscc("91110108551385082Q") is None
    True
    >>> validate_uscc("91110108551385082A")
    '校验位错误，应为 Q'
    """
    norm = normalise_uscc(code)
    if len(norm) != USCC_LENGTH:
        return f"长度应为18位，实际为{len(norm)}位"
    bad = sorted({ch for ch in norm if ch not in USCC_CHARSET})
    if bad:
        return f"含非法字符：{'、'.join(bad)}（信用代码只用数字和除 I、O、Z、S、V 外的大写字母）"
    expected = uscc_check_char(norm[:17])
    if norm[17] != expected:
        return f"校验位错误，应为 {expected}"
    return None


def lonlat_swapped(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each lon/lat pair looks swapped for a place in China.

    A pair is swapped when the "longitude" fits China's latitude range and the "latitude"
    fits China's longitude range (the ranges do not overlap, so this is unambiguous).

    Parameters
    ----------
    lon, lat
        Values from the longitude and latitude columns, in degrees.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon_as_lat = (x >= CHINA_LAT[0]) & (x <= CHINA_LAT[1])
    lat_as_lon = (y >= CHINA_LON[0]) & (y <= CHINA_LON[1])
    return lon_as_lat & lat_as_lon


def lonlat_in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each lon/lat pair falls in China's degree ranges (NaN counts as outside)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (x >= CHINA_LON[0]) & (x <= CHINA_LON[1]) & (y >= CHINA_LAT[0]) & (y <= CHINA_LAT[1])


def to_metric(geoms: Any) -> Any:
    """Project shapely geometries (one or an array) from EPSG:4490 to EPSG:4547 metres."""
    forward = transformer(STORAGE_SRID, METRIC_SRID)

    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = forward.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, project)


def points_outside(
    lon: ArrayLike,
    lat: ArrayLike,
    area: BaseGeometry,
    *,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> NDArray[np.bool_]:
    """Which points lie farther than ``tolerance_m`` outside ``area`` (measured in EPSG:4547).

    Parameters
    ----------
    lon, lat
        CGCS2000 degrees.
    area
        A polygon or multipolygon in CGCS2000 degrees (e.g. the town boundary).
    tolerance_m
        Distance outside the boundary still accepted, in metres.

    Returns
    -------
    numpy.ndarray
        Boolean mask, True for points outside.
    """
    if tolerance_m < 0:
        raise ValueError(f"tolerance_m must be >= 0, got {tolerance_m}")
    points = to_metric(shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)))
    area_m = to_metric(area)
    shapely.prepare(area_m)
    with np.errstate(invalid="ignore"):  # far-off values project to inf: they are outside
        distance = np.asarray(shapely.distance(area_m, points), dtype=float)
    return ~(distance <= tolerance_m)


def _validity_reason(geom: BaseGeometry) -> str:
    reason = explain_validity(geom)
    if reason.startswith("Self-intersection") or reason.startswith("Ring Self-intersection"):
        return f"面自相交（{reason}）"
    if reason.startswith("Too few points"):
        return f"面顶点过少（{reason}）"
    return f"面无效（{reason}）"


def polygon_problems(
    geom: BaseGeometry | None,
    *,
    max_area_m2: float | None = None,
    within: BaseGeometry | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> list[str]:
    """Reasons (in Chinese) why a polygon cannot be accepted; empty when it is fine.

    Parameters
    ----------
    geom
        A polygon or multipolygon in CGCS2000 degrees (None or empty is reported).
    max_area_m2
        Largest acceptable area in square metres (measured in EPSG:4547), if any.
    within
        An area (CGCS2000 degrees) the polygon must lie inside, allowing ``tolerance_m``.
    tolerance_m
        Metres by which the polygon may stick out of ``within``.

    Returns
    -------
    list of str
        Problems in Chinese; empty if the polygon is acceptable.
    """
    if geom is None or geom.is_empty:
        return ["缺少面几何"]
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return [f"几何类型应为面（Polygon/MultiPolygon），实际为 {geom.geom_type}"]
    if not geom.is_valid:
        return [_validity_reason(geom)]
    problems: list[str] = []
    metric = to_metric(geom)
    if max_area_m2 is not None and metric.area > max_area_m2:
        problems.append(
            f"面积过大：{metric.area / 1e6:.2f} 平方公里，上限 {max_area_m2 / 1e6:.2f} 平方公里"
        )
    if within is not None:
        allowed = to_metric(within).buffer(tolerance_m)
        if not allowed.contains(metric):
            outside = metric.difference(allowed).area
            problems.append(f"超出范围：有 {outside:.0f} 平方米位于辖区边界外")
    return problems

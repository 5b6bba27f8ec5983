"""Spot coordinates that were taken from an AMap/Tencent (GCJ-02) or Baidu (BD-09) map but
imported as CGCS2000: reversing the shift puts clearly more of them where they belong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gis.gcj02 import bd_to_wgs, gcj_to_wgs
from gis.validation import to_metric

#: Fewest placed points worth judging.
MIN_POINTS = 3
#: Largest ledger judged point by point; a bigger one is judged on an even sample of this
#: size (a provider shift moves every point alike, so a sample shows it as well).
MAX_POINTS = 2000
#: Reversing must bring this share of the points (and at least MIN_POINTS) into their village.
MIN_GAIN_SHARE = 0.25
#: … or, without villages, bring the median distance to the nearest road down to this
#: fraction and by this much, over at least ROAD_MIN_POINTS points. Calibrated on the demo
#: town (230 km of roads over 73 km²: units lie a median 50 m from a road, the same units
#: shifted by GCJ-02 91 m; unshifting true CGCS2000 points moves them away from the roads).
ROAD_RATIO = 0.7
ROAD_GAIN_M = 25.0
ROAD_MIN_POINTS = 20

DATUMS = {
    "gcj02": ("GCJ-02（高德、腾讯地图）", gcj_to_wgs),
    "bd09": ("BD-09（百度地图）", bd_to_wgs),
}


@dataclass(frozen=True)
class ShiftSuspicion:
    """Evidence that points carry an undeclared map-provider shift."""

    datum: str  # "gcj02" or "bd09"
    offset_m: float  # median distance between the points as read and unshifted
    evidence: str  # Chinese: what moved where

    def message(self) -> str:
        label = DATUMS[self.datum][0]
        return (
            f"坐标疑似 {label} 坐标但未声明：{self.evidence}，偏移约 {self.offset_m:.0f} 米。"
            f"如确是该坐标系，请选择坐标系“{self.datum}”重新导入"
            f"（Coordinates look {self.datum.upper()}-shifted by ~{self.offset_m:.0f} m）"
        )


def _in_declared(
    x: NDArray[np.float64], y: NDArray[np.float64], villages: Sequence[BaseGeometry | None]
) -> NDArray[np.bool_]:
    polys = np.array(villages, dtype=object)
    has = np.array([v is not None for v in villages], dtype=bool)
    out = np.zeros(len(villages), dtype=bool)
    if has.any():
        out[has] = shapely.covers(polys[has], shapely.points(x[has], y[has]))
    return out


def _road_distance_m(
    x: NDArray[np.float64], y: NDArray[np.float64], roads_m: shapely.STRtree
) -> NDArray[np.float64]:
    points = to_metric(shapely.points(x, y))
    _, distance = roads_m.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(distance, dtype=float)


def suspect_shift(
    lon: Sequence[float],
    lat: Sequence[float],
    villages: Sequence[BaseGeometry | None],
    roads: Sequence[BaseGeometry] = (),
) -> ShiftSuspicion | None:
    """Whether CGCS2000 points look like undeclared GCJ-02 or BD-09 ones.

    For each provider datum the shift is reversed and two witnesses are asked: how many points
    fall inside the village their row declares, and how far the points lie from the town's
    roads (units sit along roads). The datum is suspected when reversing brings clearly more
    points into their villages than it takes out (at least a quarter of the rows with a
    village), or, failing villages, halves the median distance to the roads.

    Parameters
    ----------
    lon, lat
        Points as imported (CGCS2000 degrees).
    villages
        The polygon of each point's declared village, or None where the row names none.
    roads
        The town's road lines (CGCS2000), optional.

    Returns
    -------
    ShiftSuspicion or None
        The most likely shifted datum with its offset, or None when the points fit as they are.
    """
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(x) < MIN_POINTS:
        return None
    if len(x) > MAX_POINTS:
        pick = np.linspace(0, len(x) - 1, MAX_POINTS).astype(int)
        x, y, villages = x[pick], y[pick], [villages[i] for i in pick]
    declared = np.array([v is not None for v in villages], dtype=bool)
    inside = _in_declared(x, y, villages)
    tree = None
    if len(roads) and len(x) >= ROAD_MIN_POINTS:
        tree = shapely.STRtree(to_metric(np.array(list(roads), dtype=object)))
        near = float(np.median(_road_distance_m(x, y, tree)))
    here = to_metric(shapely.points(x, y))
    # Both datums are tried and the better fit wins: BD-09 contains the GCJ-02 shift, so
    # undoing GCJ-02 alone also improves BD-09 points a little.
    found: list[tuple[float, ShiftSuspicion]] = []
    for datum, (_, unshift) in DATUMS.items():
        bx, by = (np.asarray(v, dtype=float) for v in unshift(x, y))
        offset = float(np.median(shapely.distance(here, to_metric(shapely.points(bx, by)))))
        if declared.sum() >= MIN_POINTS:
            back = _in_declared(bx, by, villages)
            gain = int((back & ~inside).sum()) - int((inside & ~back).sum())
            if gain >= max(MIN_POINTS, MIN_GAIN_SHARE * declared.sum()):
                evidence = (
                    f"按其反算后 {int(back.sum())}/{int(declared.sum())} 个单位"
                    f"落在所填村（社区）内，原坐标只有 {int(inside.sum())} 个"
                )
                found.append((gain / declared.sum(), ShiftSuspicion(datum, offset, evidence)))
        elif tree is not None:
            after = float(np.median(_road_distance_m(bx, by, tree)))
            if after <= ROAD_RATIO * near and near - after >= ROAD_GAIN_M:
                evidence = f"按其反算后到道路的中位距离由 {near:.0f} 米降到 {after:.0f} 米"
                found.append((1 - after / near, ShiftSuspicion(datum, offset, evidence)))
    return max(found, key=lambda f: f[0])[1] if found else None

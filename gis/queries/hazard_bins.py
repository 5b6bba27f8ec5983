"""Hazards summed per month on a square grid in EPSG:4547: a heat map whose size is the bins'.

Past ``RAW_LIMIT`` hazards a map would weigh ~40 bytes per point and stop growing only when it
dropped rows; summing weights per grid cell on the server keeps the page bounded by the number of
occupied cells, whatever the number of hazards, and nothing is left out (every hazard's weight is
in its cell's sum).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import ColumnElement, Connection, Row, and_, case, cast, func, literal, select, true
from sqlalchemy.types import Float

from gis.crs import METRIC_SRID, STORAGE_SRID
from gis.db.models import Hazard

#: Up to this many hazards every one is drawn where it is; past it they are binned.
RAW_LIMIT = 5_000
#: Side of a bin, metres: a village is ~2 km across, so a bin is a few fields, not a village.
CELL_M = 250.0
#: A 重大 hazard counts like five 一般 ones.
LEVEL_WEIGHTS = {"general": 1.0, "major": 5.0}
#: Open hazards are risk on the ground; a hazard under rectification or review less so; a
#: signed-off one still says where hazards arise, so it keeps a little weight.
STATUS_WEIGHTS = {"reported": 1.0, "rectifying": 0.7, "awaiting_review": 0.4, "closed": 0.2}


@dataclass(frozen=True)
class HeatCell:
    """One drawn point: a hazard, or a bin's centre with the sum of its hazards' weights."""

    month: str
    lat: float
    lon: float
    weight: float
    count: int


@dataclass(frozen=True)
class HeatData:
    """Every cell of every month, the number of hazards they sum, and the bin size (None: raw)."""

    cells: list[HeatCell]
    hazards: int
    cell_m: float | None


def _weight() -> ColumnElement[float]:
    level = case(*((Hazard.level == k, v) for k, v in LEVEL_WEIGHTS.items()), else_=1.0)
    status = case(*((Hazard.status == k, v) for k, v in STATUS_WEIGHTS.items()), else_=1.0)
    return cast(level, Float) * cast(status, Float)


def hazard_heat(
    conn: Connection,
    where: ColumnElement[bool],
    *,
    raw_limit: int = RAW_LIMIT,
    cell_m: float = CELL_M,
) -> HeatData:
    """Weighted hazards matching ``where`` per month: each one up to ``raw_limit``, else summed
    on ``cell_m`` squares of EPSG:4547 (bin centres transformed back to CGCS2000 lon/lat)."""
    if cell_m <= 0:
        raise ValueError("cell_m must be positive")
    month = func.to_char(Hazard.found_on, "YYYY-MM").label("month")
    located = (Hazard.geom.is_not(None), where)
    total = int(conn.execute(select(func.count()).where(*located)).scalar_one())
    if total <= raw_limit:
        rows = conn.execute(
            select(
                month,
                gf.ST_Y(Hazard.geom),
                gf.ST_X(Hazard.geom),
                _weight(),
                literal(1),
            )
            .where(*located)
            .order_by(Hazard.id)
        ).all()
        cells = _cells(rows)
        return HeatData(cells, len(cells), None)
    metric = gf.ST_Transform(Hazard.geom, METRIC_SRID)
    ix = func.floor(gf.ST_X(metric) / cell_m).label("ix")
    iy = func.floor(gf.ST_Y(metric) / cell_m).label("iy")
    binned = (
        select(month, ix, iy, func.sum(_weight()).label("w"), func.count().label("n"))
        .where(*located)
        .group_by(month, ix, iy)
        .subquery()
    )
    centre = gf.ST_Transform(
        gf.ST_SetSRID(
            gf.ST_MakePoint((binned.c.ix + 0.5) * cell_m, (binned.c.iy + 0.5) * cell_m),
            METRIC_SRID,
        ),
        STORAGE_SRID,
    )
    rows = conn.execute(
        select(binned.c.month, gf.ST_Y(centre), gf.ST_X(centre), binned.c.w, binned.c.n).order_by(
            binned.c.month, binned.c.ix, binned.c.iy
        )
    ).all()
    cells = _cells(rows)
    # The note states what the cells hold, even if hazards changed after the first count.
    return HeatData(cells, sum(c.count for c in cells), cell_m)


def _cells(rows: Sequence[Row[Any, Any, Any, Any, Any]]) -> list[HeatCell]:
    return [
        HeatCell(str(m), float(lat), float(lon), float(w), int(n)) for m, lat, lon, w, n in rows
    ]


def found_between(start: dt.date | None, end: dt.date | None) -> ColumnElement[bool]:
    """Hazards found in [start, end] (either end open)."""
    clauses = [Hazard.found_on >= start] if start else []
    clauses += [Hazard.found_on <= end] if end else []
    return and_(true(), *clauses)

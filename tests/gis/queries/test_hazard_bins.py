"""Hazard heat bins: every hazard counted once, binned as pyproj and numpy bin them."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from pyproj import Transformer
from sqlalchemy import Connection, text, true

from gis.queries.hazard_bins import LEVEL_WEIGHTS, STATUS_WEIGHTS, hazard_heat


def _rows(conn: Connection) -> list[tuple[float, float, str, str, str]]:
    return [
        tuple(r)  # type: ignore[misc]
        for r in conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom), level::text, status::text,"
                " to_char(found_on, 'YYYY-MM') FROM hazards WHERE geom IS NOT NULL"
            )
        )
    ]


@pytest.mark.parametrize("cell_m", [250.0, 1000.0])
def test_bins_sum_every_hazard_as_pyproj_bins_them(db_conn: Connection, cell_m: float) -> None:
    rows = _rows(db_conn)
    assert len(rows) > 10
    to_metric = Transformer.from_crs(4490, 4547, always_xy=True)
    x, y = to_metric.transform(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    expected: dict[tuple[str, int, int], list[float]] = defaultdict(lambda: [0.0, 0])
    for (_, _, level, status, month), xi, yi in zip(rows, x, y, strict=True):
        cell = expected[(month, math.floor(xi / cell_m), math.floor(yi / cell_m))]
        cell[0] += LEVEL_WEIGHTS[level] * STATUS_WEIGHTS[status]
        cell[1] += 1
    data = hazard_heat(db_conn, true(), raw_limit=0, cell_m=cell_m)
    assert data.hazards == len(rows) and data.cell_m == cell_m
    assert sum(c.count for c in data.cells) == len(rows)  # nothing dropped
    assert len(data.cells) == len(expected) < len(rows)
    back = Transformer.from_crs(4547, 4490, always_xy=True)
    got = {}
    for c in data.cells:
        cx, cy = to_metric.transform(c.lon, c.lat)
        got[(c.month, math.floor(cx / cell_m), math.floor(cy / cell_m))] = (c.weight, c.count)
        # The drawn point is the centre of its square, as pyproj puts it.
        ex, ey = back.transform(
            (math.floor(cx / cell_m) + 0.5) * cell_m, (math.floor(cy / cell_m) + 0.5) * cell_m
        )
        assert abs(ex - c.lon) < 1e-7 and abs(ey - c.lat) < 1e-7
    assert set(got) == set(expected)
    for key, (weight, count) in got.items():
        assert count == expected[key][1] and weight == pytest.approx(expected[key][0])


def test_few_hazards_are_drawn_one_by_one(db_conn: Connection) -> None:
    rows = _rows(db_conn)
    data = hazard_heat(db_conn, true())
    assert data.cell_m is None and len(data.cells) == data.hazards == len(rows)
    assert sorted((round(c.lon, 7), round(c.lat, 7)) for c in data.cells) == sorted(
        (round(r[0], 7), round(r[1], 7)) for r in rows
    )

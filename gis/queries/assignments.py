"""What the assignment engine reads: staff, units, villages and road edges of a town, in scope."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, Select, bindparam, select, text

from gis.access import Scope, scope_clause
from gis.crs import METRIC_SRID, STORAGE_SRID, transformer
from gis.db.models import Department, Road, Staff, Unit, Village

STAFF_COLUMNS = (
    "id",
    "town_code",
    "code",
    "name",
    "department_code",
    "role",
    "home_village_code",
    "capacity_units",
    "capacity_teams",
    "phone",
    "active",
)


def staff_in_town(town: str, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Every staff member of ``town`` (active or not) with base lon/lat."""
    cols = [getattr(Staff, c) for c in STAFF_COLUMNS]
    return (
        select(*cols, gf.ST_X(Staff.geom).label("lon"), gf.ST_Y(Staff.geom).label("lat"))
        .where(Staff.town_code == town, scope_clause(Staff, scope))
        .order_by(Staff.id)
    )


def units_in_town(town: str, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Every unit of ``town`` with the columns the slot rules need and its lon/lat."""
    return (
        select(
            Unit.id,
            Unit.town_code,
            Unit.code,
            Unit.name,
            Unit.village_code,
            Unit.department_code,
            Unit.industry_code,
            Unit.status,
            Unit.fire_key_level,
            Unit.address,
            gf.ST_X(Unit.geom).label("lon"),
            gf.ST_Y(Unit.geom).label("lat"),
        )
        .where(Unit.town_code == town, scope_clause(Unit, scope))
        .order_by(Unit.id)
    )


def villages_in_town(town: str, scope: Scope) -> Select[*tuple[Any, ...]]:
    """Villages of ``town`` with a point on their surface (where a 网格长 travels to)."""
    point = gf.ST_PointOnSurface(Village.geom)
    return (
        select(
            Village.code,
            Village.town_code,
            Village.name,
            Village.kind,
            gf.ST_X(point).label("lon"),
            gf.ST_Y(point).label("lat"),
        )
        .where(Village.town_code == town, scope_clause(Village, scope))
        .order_by(Village.code)
    )


def road_edges(town: str) -> Select[*tuple[Any, ...]]:
    """Routable edges of ``town`` with the lon/lat of their two ends."""
    return (
        select(
            Road.id,
            Road.source,
            Road.target,
            Road.cost_s,
            Road.reverse_cost_s,
            gf.ST_X(gf.ST_StartPoint(Road.geom)).label("lon0"),
            gf.ST_Y(gf.ST_StartPoint(Road.geom)).label("lat0"),
            gf.ST_X(gf.ST_EndPoint(Road.geom)).label("lon1"),
            gf.ST_Y(gf.ST_EndPoint(Road.geom)).label("lat1"),
        )
        .where(Road.town_code == town)
        .order_by(Road.id)
    )


def department_names() -> Select[str, str, str]:
    return select(Department.code, Department.short_name, Department.name)


def frame(conn: Connection, query: Select[*tuple[Any, ...]]) -> pd.DataFrame:
    """Run a select into a DataFrame (enum columns as their string values)."""
    result = conn.execute(query)
    out = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for col in out.columns:
        if out[col].dtype == object and len(out) and hasattr(out[col].iloc[0], "value"):
            out[col] = out[col].map(lambda v: getattr(v, "value", v))
    return out


def metric_xy(lon: pd.Series | np.ndarray, lat: pd.Series | np.ndarray) -> np.ndarray:
    """CGCS2000 lon/lat → Gauss-Krüger metres, ``(n, 2)``."""
    x, y = transformer(STORAGE_SRID, METRIC_SRID).transform(
        np.asarray(lon, float), np.asarray(lat, float)
    )
    return np.column_stack([x, y])


def edges_frame(conn: Connection, town: str) -> pd.DataFrame:
    """Road edges with metric end coordinates, ready for ``road_graph.graph_from_edges``."""
    edges = frame(conn, road_edges(town))
    xy0 = metric_xy(edges["lon0"], edges["lat0"])
    xy1 = metric_xy(edges["lon1"], edges["lat1"])
    return edges.assign(x0=xy0[:, 0], y0=xy0[:, 1], x1=xy1[:, 0], y1=xy1[:, 1])


_PGR_COSTS = text(files("gis.queries").joinpath("assignment_travel.sql").read_text("utf-8"))


def pgr_node_costs(
    conn: Connection, town: str, sources: list[int], targets: list[int]
) -> pd.DataFrame:
    """Many-to-many node costs by pgRouting (``start_vid``, ``end_vid``, ``agg_cost``)."""
    query = _PGR_COSTS.bindparams(bindparam("town"), bindparam("sources"), bindparam("targets"))
    rows = conn.execute(query, {"town": town, "sources": sources, "targets": targets})
    return pd.DataFrame(rows.fetchall(), columns=["start_vid", "end_vid", "agg_cost"])

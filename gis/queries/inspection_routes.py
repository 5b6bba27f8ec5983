"""What route planning reads and stores: staff bases, stops, roads, the town, planned routes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
from geoalchemy2 import functions as gf
from sqlalchemy import ColumnElement, Connection, Select, and_, func, select, true

from gis.access import Role, Scope, held_on, scope_clause
from gis.crs import METRIC_SRID, STORAGE_SRID
from gis.db.models import Inspection, InspectionRoute, Responsibility, Road, Staff, Town, Unit


def staff_bases(town: str, ids: list[int], scope: Scope) -> Select[*tuple[Any, ...]]:
    """The requested staff of ``town`` that ``scope`` may see, with their base lon/lat."""
    return (
        select(
            Staff.id,
            Staff.code,
            Staff.name,
            Staff.department_code,
            Staff.role,
            Staff.active,
            Staff.capacity_units,
            gf.ST_X(Staff.geom).label("lon"),
            gf.ST_Y(Staff.geom).label("lat"),
        )
        .where(Staff.town_code == town, Staff.id.in_(ids), scope_clause(Staff, scope))
        .order_by(Staff.id)
    )


def stop_units(town: str, ids: list[int], scope: Scope) -> Select[*tuple[Any, ...]]:
    """The requested units of ``town`` within scope, with what service times and skills need,
    and whether each lies inside the town polygon."""
    inside = (
        select(gf.ST_Covers(Town.geom, Unit.geom)).where(Town.code == Unit.town_code)
    ).scalar_subquery()
    return (
        select(
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.address,
            Unit.village_code,
            Unit.department_code,
            Unit.fire_key_level,
            Unit.nine_small_category,
            Unit.high_risk,
            Unit.risk_color,
            Unit.status,
            gf.ST_X(Unit.geom).label("lon"),
            gf.ST_Y(Unit.geom).label("lat"),
            inside.label("in_town"),
        )
        .where(Unit.town_code == town, Unit.id.in_(ids), scope_clause(Unit, scope))
        .order_by(Unit.id)
    )


def responsible_unit_ids(town: str, staff_ids: list[int], day: dt.date) -> Select[int | None]:
    """Units the staff are responsible for on ``day`` (valid responsibility records)."""
    return (
        select(Responsibility.unit_id)
        .where(
            Responsibility.town_code == town,
            Responsibility.staff_id.in_(staff_ids),
            Responsibility.unit_id.is_not(None),
            held_on(day),
        )
        .distinct()
    )


def last_inspections(unit_ids: list[int], day: dt.date) -> Select[int | None, dt.date]:
    """Each unit's latest inspection date on or before ``day``."""
    return (
        select(Inspection.unit_id, func.max(Inspection.inspected_on).label("last"))
        .where(Inspection.unit_id.in_(unit_ids), Inspection.inspected_on <= day)
        .group_by(Inspection.unit_id)
    )


def town_roads(conn: Connection, town: str) -> gpd.GeoDataFrame:
    """Routable edges of ``town`` in the metric CRS (EPSG:4547)."""
    query = select(
        Road.id,
        Road.source,
        Road.target,
        Road.cost_s,
        Road.reverse_cost_s,
        Road.road_class,
        gf.ST_AsBinary(Road.geom).label("geom"),
    ).where(Road.town_code == town)
    frame = gpd.read_postgis(query, conn, geom_col="geom", crs=STORAGE_SRID)
    return frame.to_crs(METRIC_SRID)


def route_scope(scope: Scope) -> ColumnElement[bool]:
    """Planned routes a scope may see: its towns; an inspector only routes naming it; a
    department only routes of its own staff; a grid chief only routes within its villages."""
    clauses: list[ColumnElement[bool]] = [scope_clause(InspectionRoute, scope)]
    if scope.village_codes is not None:
        clauses.append(InspectionRoute.village_codes.contained_by(sorted(scope.village_codes)))
    if scope.department_codes is not None:
        depts = sorted(scope.department_codes)
        clauses.append(InspectionRoute.department_codes.contained_by(depts))
    if scope.role is Role.INSPECTOR:
        clauses.append(InspectionRoute.staff_ids.contains([scope.staff_id]))
    return and_(true(), *clauses)


def route_by_id(route_id: int, scope: Scope) -> Select[*tuple[Any, ...]]:
    """One stored plan (every column) if the scope may see it."""
    table = InspectionRoute.__table__
    return select(*table.columns).where(table.c.id == route_id, route_scope(scope))

"""The frames a coverage report reads, loaded for whole towns in one pass; scope-visible subjects.

The analysis needs every grid, road, pipeline and station of a town even when the caller may only
see one village (a unit on a shared boundary, or lying in a neighbour's polygon, is only a gap
against the neighbour), so frames load per town and the finished gaps are filtered by what the
scope may see (:func:`visible_subjects`, built from ``scope_clause``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from gis.access import Scope, held_on, scope_clause
from gis.analysis.coverage import CoverageInputs
from gis.crs import STORAGE_SRID
from gis.db.models import (
    Base,
    FireStation,
    GasPipeline,
    Inspection,
    InspectionFrequencyRule,
    Responsibility,
    Road,
    Staff,
    Town,
    Unit,
    Village,
)


def _town_filter(model: type[Base], towns: Sequence[str] | None) -> ColumnElement[bool]:
    column = model.code if model is Town else model.town_code  # type: ignore[attr-defined]
    if towns is None:
        return column.is_not(None)
    return column.in_(sorted(towns))


def _value(v: Any) -> Any:
    return v.value if hasattr(v, "value") and isinstance(v.value, str) else v


def _frame(conn: Connection, stmt: Any, geometry: bool = True) -> pd.DataFrame:
    result = conn.execute(stmt)
    columns = list(result.keys())
    rows = [[_value(v) for v in row] for row in result]
    frame = pd.DataFrame(rows, columns=columns).astype(object)
    if not geometry:
        return frame
    wkb = frame.pop("wkb")
    geoms = shapely.from_wkb([bytes(w) if w is not None else None for w in wkb])
    return gpd.GeoDataFrame(frame, geometry=list(geoms), crs=STORAGE_SRID)


def _wkb(model: type[Base]) -> Any:
    return func.ST_AsBinary(model.geom).label("wkb")  # type: ignore[attr-defined]


def town_codes_for(conn: Connection, scope: Scope, town: str | None = None) -> list[str]:
    """The towns a report covers: those the scope may see (optionally just ``town``)."""
    stmt = select(Town.code).where(scope_clause(Town, scope)).order_by(Town.code)
    if town is not None:
        stmt = stmt.where(Town.code == town)
    return list(conn.execute(stmt).scalars())


def load_coverage_inputs(
    conn: Connection, towns: Sequence[str] | None, as_of: dt.date
) -> CoverageInputs:
    """Every frame of :class:`CoverageInputs` for ``towns`` (None: all), as of ``as_of``.

    Nine selects, one per table; geometries travel as WKB and stay in EPSG:4490.
    """
    villages = _frame(
        conn,
        select(Village.code, Village.name, Village.town_code, _wkb(Village))
        .where(_town_filter(Village, towns))
        .order_by(Village.code),
    )
    units = _frame(
        conn,
        select(
            Unit.id,
            Unit.code,
            Unit.name,
            Unit.town_code,
            Unit.village_code,
            Unit.industry_code,
            Unit.department_code,
            Unit.fire_key_level,
            Unit.nine_small_category,
            Unit.high_risk,
            Unit.risk_color,
            Unit.gas_use,
            Unit.status,
            _wkb(Unit),
        )
        .where(_town_filter(Unit, towns))
        .order_by(Unit.id),
    )
    staff = _frame(
        conn,
        select(
            Staff.id,
            Staff.code,
            Staff.name,
            Staff.town_code,
            Staff.department_code,
            Staff.role,
            Staff.home_village_code,
            Staff.capacity_units,
            Staff.capacity_teams,
            Staff.active,
            _wkb(Staff),
        )
        .where(_town_filter(Staff, towns))
        .order_by(Staff.id),
    )
    responsibilities = _frame(
        conn,
        select(
            Responsibility.staff_id,
            Responsibility.role,
            Responsibility.village_code,
            Responsibility.unit_id,
        ).where(
            _town_filter(Responsibility, towns),
            held_on(as_of),
        ),
        geometry=False,
    )
    last = _frame(
        conn,
        select(Inspection.unit_id, func.max(Inspection.inspected_on).label("last"))
        .where(
            _town_filter(Inspection, towns),
            Inspection.unit_id.is_not(None),
            Inspection.inspected_on <= as_of,
        )
        .group_by(Inspection.unit_id),
        geometry=False,
    )
    rules = _frame(
        conn,
        select(
            InspectionFrequencyRule.rule,
            InspectionFrequencyRule.priority,
            InspectionFrequencyRule.applies_to,
            InspectionFrequencyRule.interval_months,
            InspectionFrequencyRule.clause,
        ),
        geometry=False,
    )
    roads = _frame(
        conn,
        select(Road.source, Road.target, Road.cost_s, Road.reverse_cost_s, _wkb(Road)).where(
            _town_filter(Road, towns)
        ),
    )
    pipelines = _frame(
        conn,
        select(GasPipeline.code, GasPipeline.pressure_class, _wkb(GasPipeline)).where(
            _town_filter(GasPipeline, towns)
        ),
    )
    stations = _frame(
        conn,
        select(FireStation.code, FireStation.name, FireStation.kind, _wkb(FireStation)).where(
            _town_filter(FireStation, towns)
        ),
    )
    units["high_risk"] = units["high_risk"].astype(bool)
    staff["active"] = staff["active"].astype(bool)
    for col in ("source", "target"):
        roads[col] = roads[col].astype("int64")
    for col in ("cost_s", "reverse_cost_s"):
        roads[col] = roads[col].astype(float)
    for col in ("priority", "interval_months"):
        rules[col] = rules[col].astype(int)
    last_inspected = pd.Series(
        list(last["last"]), index=last["unit_id"].astype("int64").to_numpy(), dtype=object
    )
    return CoverageInputs(
        villages=villages,
        units=units,
        staff=staff,
        responsibilities=responsibilities,
        last_inspected=last_inspected,
        frequency_rules=rules,
        roads=roads,
        pipelines=pipelines,
        fire_stations=stations,
    )


@dataclass(frozen=True)
class VisibleSubjects:
    """What a scope may see of the subjects of gaps: units, villages, staff."""

    unit_ids: frozenset[int]
    village_codes: frozenset[str]
    staff_ids: frozenset[int]

    def mask(self, gaps: pd.DataFrame) -> pd.Series:
        """Rows of a gaps frame whose subject the scope may see."""
        subject = gaps["subject"]
        unit = gaps["unit_id"].map(
            lambda v: v is not None and pd.notna(v) and int(v) in self.unit_ids
        )
        village = gaps["village_code"].isin(self.village_codes)
        staff = gaps["staff_id"].map(
            lambda v: v is not None and pd.notna(v) and int(v) in self.staff_ids
        )
        return (
            ((subject == "unit") & unit)
            | ((subject == "village") & village)
            | ((subject == "staff") & staff)
        )


def visible_subjects(conn: Connection, scope: Scope, towns: Sequence[str]) -> VisibleSubjects:
    """Units, villages and staff of ``towns`` that ``scope`` may see (three selects)."""
    in_towns = sorted(towns)
    units = conn.execute(
        select(Unit.id).where(Unit.town_code.in_(in_towns), scope_clause(Unit, scope))
    ).scalars()
    villages = conn.execute(
        select(Village.code).where(Village.town_code.in_(in_towns), scope_clause(Village, scope))
    ).scalars()
    staff = conn.execute(
        select(Staff.id).where(Staff.town_code.in_(in_towns), scope_clause(Staff, scope))
    ).scalars()
    return VisibleSubjects(
        unit_ids=frozenset(int(v) for v in units),
        village_codes=frozenset(str(v) for v in villages),
        staff_ids=frozenset(int(v) for v in staff),
    )

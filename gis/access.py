"""Who may see what: roles and the data scope they imply, enforced inside the queries.

A ``Scope`` is computed once per request from the signed-in account and handed to every query
function; ``scope_clause`` turns it into a WHERE clause for any town-data table, so a handler
cannot forget it by accident and bbox, layer, export, statistics and map queries all agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from gis.db.models import (
    Base,
    FireStation,
    GasFacility,
    GasPipeline,
    Hazard,
    Inspection,
    MicroGrid,
    ReporterIdentity,
    Responsibility,
    Road,
    Staff,
    Town,
    Unit,
    Village,
)
from gis.domain import LabelledEnum


class Role(LabelledEnum):
    COUNTY_OFFICE = "county_office", "区安委办"
    TOWN_ADMIN = "town_admin", "镇安委办"
    DEPARTMENT = "department", "行业部门"
    GRID_CHIEF = "grid_chief", "网格长"
    INSPECTOR = "inspector", "检查人员"
    PUBLIC = "public", "公众"


@dataclass(frozen=True)
class Scope:
    """The rows an account may read (and, unless ``read_only``, write).

    ``None`` in a field means "no restriction on this axis"; an empty set means "nothing".
    """

    role: Role
    town_codes: frozenset[str] | None = None
    village_codes: frozenset[str] | None = None
    department_codes: frozenset[str] | None = None
    staff_id: int | None = None
    read_only: bool = False
    as_of: dt.date = field(default_factory=dt.date.today)
    #: The signed-in account this scope belongs to (None for the CLI and internal jobs).
    account_id: int | None = None
    username: str | None = None

    @classmethod
    def unrestricted(cls) -> Scope:
        """Full access: the CLI and internal jobs, never an HTTP request."""
        return cls(role=Role.TOWN_ADMIN)

    def allows_town(self, code: str) -> bool:
        return self.town_codes is None or code in self.town_codes

    def allows_village(self, code: str | None) -> bool:
        if self.role is Role.PUBLIC:
            return False
        return self.village_codes is None or code in self.village_codes


def held_on(on: dt.date) -> ColumnElement[bool]:
    """Responsibility records in force on ``on``: the one "held on a date" predicate.

    ``valid_from`` is inclusive and ``valid_to`` exclusive (null while current), so a record
    closed on D and its successor opened on D never both hold on D.
    """
    return and_(
        Responsibility.valid_from <= on,
        or_(Responsibility.valid_to.is_(None), Responsibility.valid_to > on),
    )


def _responsible_units(scope: Scope) -> Any:
    """Unit ids the scope's staff member is currently responsible for (inspector role)."""
    return select(Responsibility.unit_id).where(
        Responsibility.staff_id == scope.staff_id,
        Responsibility.unit_id.is_not(None),
        held_on(scope.as_of),
    )


def _inspector_villages(scope: Scope) -> Any:
    units = select(Unit.village_code).where(Unit.id.in_(_responsible_units(scope)))
    grids = select(Responsibility.village_code).where(
        Responsibility.staff_id == scope.staff_id,
        Responsibility.village_code.is_not(None),
        held_on(scope.as_of),
    )
    return units.union(grids)


def _village_area(codes: frozenset[str]) -> Any:
    return (
        select(func.ST_Union(Village.geom)).where(Village.code.in_(sorted(codes))).scalar_subquery()
    )


NETWORK_TABLES = (Road, GasPipeline, GasFacility, FireStation)

#: Tables only the town safety office may read: reporters' identities (举报人信息, confidential by
#: law), accounts and the audit log. Named by table so gis.db.access_models need not be imported.
TOWN_ADMIN_ONLY_TABLES = frozenset({"reporter_identities", "accounts", "audit_log"})
#: Tables no scope reads through a query (the service checks them directly).
UNREADABLE_TABLES = frozenset({"revoked_tokens"})


def scope_clause(model: type[Base], scope: Scope) -> ColumnElement[bool]:
    """The WHERE clause restricting ``model``'s rows to what ``scope`` may see."""
    table = model.__table__
    if scope.role is Role.PUBLIC or table.name in UNREADABLE_TABLES:
        return false()
    if table.name in TOWN_ADMIN_ONLY_TABLES and scope.role is not Role.TOWN_ADMIN:
        return false()
    clauses: list[ColumnElement[bool]] = []
    table_cols = table.columns
    if scope.town_codes is not None:
        if model is Town:
            clauses.append(Town.code.in_(sorted(scope.town_codes)))
        elif "town_code" in table_cols:
            clauses.append(table_cols["town_code"].in_(sorted(scope.town_codes)))
        elif model is ReporterIdentity:
            town_hazards = select(Hazard.id).where(Hazard.town_code.in_(sorted(scope.town_codes)))
            clauses.append(ReporterIdentity.hazard_id.in_(town_hazards))

    if scope.village_codes is not None:
        codes = sorted(scope.village_codes)
        if model is Village:
            clauses.append(Village.code.in_(codes))
        elif model is Staff:
            clauses.append(Staff.home_village_code.in_(codes))
        elif model is Town:
            clauses.append(Town.code.in_(select(Village.town_code).where(Village.code.in_(codes))))
        elif model is Responsibility:
            # A unit slot carries no village code: it belongs to the village of its unit.
            village_units = select(Unit.id).where(Unit.village_code.in_(codes))
            clauses.append(
                or_(
                    Responsibility.village_code.in_(codes),
                    Responsibility.unit_id.in_(village_units),
                )
            )
        elif "village_code" in table_cols:
            clauses.append(table_cols["village_code"].in_(codes))
        elif model in NETWORK_TABLES:
            clauses.append(gf.ST_Intersects(model.geom, _village_area(scope.village_codes)))

    if scope.department_codes is not None:
        depts = sorted(scope.department_codes)
        dept_units = select(Unit.id).where(Unit.department_code.in_(depts))
        if model is Unit:
            clauses.append(Unit.department_code.in_(depts))
        elif model is Staff:
            clauses.append(Staff.department_code.in_(depts))
        elif model in (Hazard, Inspection):
            clauses.append(model.unit_id.in_(dept_units))
        elif model is Responsibility:
            clauses.append(Responsibility.unit_id.in_(dept_units))

    if scope.role is Role.INSPECTOR:
        if scope.staff_id is None:
            return false()
        mine = _responsible_units(scope)
        if model is Unit:
            clauses.append(Unit.id.in_(mine))
        elif model in (Hazard, Inspection):
            clauses.append(model.unit_id.in_(mine))
        elif model is Responsibility:
            clauses.append(Responsibility.staff_id == scope.staff_id)
        elif model is Staff:
            clauses.append(Staff.id == scope.staff_id)
        elif model is Village:
            clauses.append(Village.code.in_(_inspector_villages(scope)))
        elif model is MicroGrid:
            clauses.append(MicroGrid.village_code.in_(_inspector_villages(scope)))
    return and_(true(), *clauses)

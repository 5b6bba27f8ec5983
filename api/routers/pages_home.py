"""Web pages: ``/`` and each role's home (grid chief, inspector, department, town, county)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection, and_, case, func, select

from api.dependencies import ConnDep, PrincipalDep, ScopeDep, SettingsDep
from api.page_support import Names, names, pairs, render
from gis.access import Role, Scope, scope_clause
from gis.analysis.coverage import GapType
from gis.db.models import Hazard, InspectionRoute, Unit
from gis.domain import HazardStatus, RiskColor
from gis.queries.inspection_routes import route_scope
from gis.workflows.coverage import scoped_gaps

router = APIRouter(tags=["pages"], include_in_schema=False)

#: States in which a hazard still needs someone to act (not closed, not rejected).
OPEN_STATES = tuple(
    s.value for s in HazardStatus if s not in (HazardStatus.CLOSED, HazardStatus.REJECTED)
)
HOME_LIST = 10


@router.get("/", response_class=HTMLResponse)
def root(principal: PrincipalDep) -> Response:
    """Signed in: the role's home; otherwise the sign-in form."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    # No public home page is built yet: a signed-in public account gets its account card.
    return RedirectResponse("/account" if principal.role is Role.PUBLIC else "/home", 303)


def open_hazards(conn: Connection, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """Open hazards in scope, the most urgent deadline first (no deadline last)."""
    stmt = (
        select(
            Hazard.id,
            Hazard.code,
            Hazard.description,
            Hazard.level,
            Hazard.status,
            Hazard.deadline,
            Hazard.village_code,
            Unit.name.label("unit_name"),
        )
        .outerjoin(Unit, Unit.id == Hazard.unit_id)
        .where(scope_clause(Hazard, scope), Hazard.status.in_(OPEN_STATES))
        .order_by(Hazard.deadline.asc().nulls_last(), Hazard.id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def _counts(conn: Connection, scope: Scope, today: dt.date) -> dict[str, int]:
    units = conn.execute(select(func.count()).select_from(Unit).where(scope_clause(Unit, scope)))
    is_open = Hazard.status.in_(OPEN_STATES)
    row = conn.execute(
        select(
            func.count().filter(is_open),
            func.count().filter(and_(is_open, Hazard.deadline < today)),
            func.count().filter(Hazard.level == "major", is_open),
        ).where(scope_clause(Hazard, scope))
    ).one()
    red = conn.execute(
        select(func.count()).where(scope_clause(Unit, scope), Unit.risk_color == RiskColor.RED)
    )
    return {
        "units": int(units.scalar_one()),
        "red_units": int(red.scalar_one()),
        "open_hazards": int(row[0]),
        "overdue_hazards": int(row[1]),
        "major_hazards": int(row[2]),
    }


def _due(conn: Connection, scope: Scope, today: dt.date) -> list[dict[str, Any]]:
    """Units whose inspection is overdue, from the coverage workflow (its frequency rules)."""
    gaps = scoped_gaps(conn, scope, as_of=today).gaps
    overdue = gaps[gaps["gap_type"] == GapType.INSPECTION_OVERDUE.value].head(HOME_LIST)
    ids = [int(u) for u in overdue["unit_id"]]
    unit_names = pairs(
        conn.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids), scope_clause(Unit, scope)))
    )
    return [
        {"unit_id": u, "name": unit_names.get(u, ""), "detail": str(d)}
        for u, d in zip(ids, overdue["detail"], strict=True)
        if u in unit_names
    ]


def _todays_stops(conn: Connection, scope: Scope, today: dt.date) -> list[dict[str, Any]]:
    """The inspector's stops in today's latest stored route plan (routes workflow)."""
    plan = conn.execute(
        select(InspectionRoute.plan)
        .where(route_scope(scope), InspectionRoute.day == today)
        .order_by(InspectionRoute.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if not plan:
        return []
    for route in plan.get("routes", []):
        if scope.staff_id is None or route.get("staff_id") == scope.staff_id:
            return list(route.get("stops", []))
    return []


def _towns_side_by_side(conn: Connection, scope: Scope, today: dt.date) -> list[dict[str, Any]]:
    is_open = Hazard.status.in_(OPEN_STATES)
    units = pairs(
        conn.execute(
            select(Unit.town_code, func.count())
            .where(scope_clause(Unit, scope))
            .group_by(Unit.town_code)
        )
    )
    hazards = {
        r[0]: r[1:]
        for r in conn.execute(
            select(
                Hazard.town_code,
                func.count().filter(is_open),
                func.count().filter(and_(is_open, Hazard.deadline < today)),
                func.sum(case((Hazard.status == HazardStatus.CLOSED.value, 1), else_=0)),
            )
            .where(scope_clause(Hazard, scope))
            .group_by(Hazard.town_code)
        )
    }
    towns = sorted(set(units) | set(hazards))
    return [
        {
            "town_code": t,
            "units": units.get(t, 0),
            "open": hazards.get(t, (0, 0, 0))[0],
            "overdue": hazards.get(t, (0, 0, 0))[1],
            "closed": int(hazards.get(t, (0, 0, 0))[2] or 0),
        }
        for t in towns
    ]


@router.get("/home", response_class=HTMLResponse)
def home(request: Request, conn: ConnDep, settings: SettingsDep, scope: ScopeDep) -> Response:
    """The signed-in role's own home page."""
    today = scope.as_of
    label: Names = names(conn, sorted(scope.town_codes) if scope.town_codes is not None else None)
    context: dict[str, Any] = {
        "names": label,
        "today": today,
        "counts": _counts(conn, scope, today),
        "hazards": open_hazards(conn, scope, HOME_LIST),
        "risk_colors": list(RiskColor),
        "my_villages": sorted(scope.village_codes or ()),
    }
    if scope.role in (Role.GRID_CHIEF, Role.INSPECTOR, Role.DEPARTMENT, Role.TOWN_ADMIN):
        context["due"] = _due(conn, scope, today)
    if scope.role is Role.INSPECTOR:
        context["stops"] = _todays_stops(conn, scope, today)
    if scope.role is Role.COUNTY_OFFICE:
        context["towns"] = _towns_side_by_side(conn, scope, today)
    return render(request, settings, scope, f"home_{scope.role.value}.html", context)

"""Inspection-route endpoints: plan a day, read it back, download it as GPX."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.dependencies import ConnDep, ScopeDep, SettingsDep, WriteScopeDep, actor_of
from api.schemas.inspection_routes import RouteCreate, RouteRead
from gis.workflows import inspection_routes as wf

router = APIRouter(prefix="/api/v1", tags=["routes"])

GPX = "application/gpx+xml"


@router.post("/routes", operation_id="plan_route", response_model=RouteRead, status_code=201)
def plan_route(
    request: Request, body: RouteCreate, conn: ConnDep, scope: WriteScopeDep, settings: SettingsDep
) -> RouteRead:
    """Plan one inspector's day or a team's on the town's roads; the plan is stored."""
    req = wf.RouteRequest(
        town=body.town or settings.town_code,
        day=body.day,
        staff_ids=body.staff_ids,
        unit_ids=None if body.units == "due" else list(body.units),
        start=body.start,
        end=body.end,
        lunch_start=body.lunch_start,
        lunch_end=body.lunch_end,
        windows={w.unit_id: (w.open, w.close) for w in body.windows},
        match_department=body.match_department,
        max_stops=body.max_stops,
        time_limit_s=body.time_limit_s,
    )
    return RouteRead.model_validate(wf.plan_day(conn, req, scope, actor_of(request, scope)))


# The GPX route comes first: "/routes/{route_id}" would otherwise claim "5.gpx".
@router.get(
    "/routes/{route_id}.gpx",
    operation_id="get_route_gpx",
    response_class=Response,
    responses={200: {"content": {GPX: {}}, "description": "GPX 1.1 for navigation apps"}},
)
def get_route_gpx(route_id: int, conn: ConnDep, scope: ScopeDep) -> Response:
    """The planned day as GPX 1.1: stops as waypoints, each inspector's road path as a track."""
    route = wf.get_route(conn, route_id, scope)
    return Response(
        wf.route_gpx(route),
        media_type=GPX,
        headers={"Content-Disposition": f'attachment; filename="route-{route_id}.gpx"'},
    )


@router.get("/routes/{route_id}", operation_id="get_route", response_model=RouteRead)
def get_route(route_id: int, conn: ConnDep, scope: ScopeDep) -> RouteRead:
    """A planned day: ordered stops with arrival/departure times and the road geometry."""
    return RouteRead.model_validate(wf.get_route(conn, route_id, scope))

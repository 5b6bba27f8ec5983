"""Assignment endpoints: run (with dry run), 五包一 teams, a unit's responsible people, rosters."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import asdict
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.dependencies import ConnDep, ScopeDep, SettingsDep, actor_of
from api.schemas.assignments import (
    AssignmentRunCreate,
    AssignmentRunRead,
    TeamPage,
    TeamRead,
    UnitResponsibleRead,
)
from gis.io import rosters
from gis.workflows import assignments as wf

router = APIRouter(prefix="/api/v1", tags=["assignments"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Town = Annotated[str | None, Query(pattern=r"^\d{12}$", description="12-digit town code")]
On = Annotated[dt.date | None, Query(description="Date (YYYY-MM-DD); today if omitted")]


class RosterKind(StrEnum):
    TEAM = "team"
    GRID = "grid"


@router.post("/assignments/run", operation_id="run_assignments", response_model=AssignmentRunRead)
def run_assignments(
    request: Request,
    body: AssignmentRunCreate,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
) -> AssignmentRunRead:
    """Fill every grid, unit and 五包一 slot of a town; ``dry_run`` shows the diff only."""
    town = body.town or settings.town_code
    report = wf.run_assignment(
        conn, town, body.as_of, scope, actor=actor_of(request, scope), dry_run=body.dry_run
    )
    return AssignmentRunRead.model_validate(asdict(report))


@router.get("/teams", operation_id="list_teams", response_model=TeamPage)
def list_teams(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    town: Town = None,
    on: On = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    incomplete: bool = False,
) -> TeamPage:
    """The 五包一 teams of the fire-safety key units in scope, with members and missing roles."""
    day = on or dt.date.today()
    code = town or settings.town_code
    teams = wf.teams_on(conn, code, day, scope, village=village, incomplete_only=incomplete)
    reads = [TeamRead.model_validate({**asdict(t), "complete": t.complete}) for t in teams]
    return TeamPage(
        town_code=code,
        on=day,
        total=len(reads),
        complete=sum(t.complete for t in reads),
        teams=reads,
    )


@router.get(
    "/units/{unit_id}/responsible",
    operation_id="unit_responsible",
    response_model=UnitResponsibleRead,
)
def unit_responsible(
    unit_id: int, conn: ConnDep, scope: ScopeDep, on: On = None
) -> UnitResponsibleRead:
    """Who was responsible for the unit on ``on``: inspector, 五包一 team, grid chief/members."""
    return UnitResponsibleRead.model_validate(
        wf.responsible_for_unit(conn, unit_id, on or dt.date.today(), scope)
    )


@router.get(
    "/rosters/{kind}",
    operation_id="export_roster",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "责任公示表 (xlsx)"}},
)
def export_roster(
    kind: RosterKind,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    town: Town = None,
    on: On = None,
) -> Response:
    """The printable 责任公示表: ``team`` = 五包一, ``grid`` = 网格长/网格员."""
    day = on or dt.date.today()
    code = town or settings.town_code
    buf = io.BytesIO()
    name = wf.town_name(conn, code, scope)
    if kind is RosterKind.TEAM:
        rosters.team_roster(wf.teams_on(conn, code, day, scope), name, day, buf)
    else:
        rosters.grid_roster(wf.grids_on(conn, code, day, scope), name, day, buf)
    filename = f"{kind.value}-roster-{code}-{day.isoformat()}.xlsx"
    return Response(
        buf.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

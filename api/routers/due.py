"""Due lists: ``GET /api/v1/inspections/due`` — the units to inspect in a month or quarter."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import ConnDep, ScopeDep, SettingsDep
from api.schemas.due import DueList, DueUnit
from gis.workflows import due as wf

router = APIRouter(prefix="/api/v1", tags=["inspections"])


@router.get("/inspections/due", operation_id="list_due_inspections", response_model=DueList)
def list_due(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    period: Annotated[
        str, Query(description="YYYY-MM, YYYY-Qn or a day (its month)", examples=["2024-06"])
    ],
    town: Annotated[
        str | None, Query(description="12-digit town code", pattern=r"^\d{12}$")
    ] = None,
) -> DueList:
    """Units due or overdue in the period, with their rule, its clause, the last inspection,
    the due date and the people responsible today; only what the caller may see."""
    p = wf.period_of(period)
    got = wf.due_list(conn, p, scope, town=town or settings.town_code)
    return DueList(
        town=got["town"],
        period=p.label,
        start=p.start,
        end=p.end,
        today=got["today"],
        count=len(got["units"]),
        units=[DueUnit.model_validate(u) for u in got["units"]],
    )

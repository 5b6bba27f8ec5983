"""Inspections: the checklists to answer, and recording one inspection with its findings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.dependencies import Access, ConnDep, ScopeDep, SettingsDep, actor_of
from api.schemas.inspections import ChecklistRead, InspectionCreate, InspectionRead
from gis.access import Scope
from gis.workflows.hazards import FIELD
from gis.workflows.inspections import ItemFinding, NewInspection, checklists, record_inspection

router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])

get_inspect_scope = Access("inspect", FIELD, write=True)
InspectScope = Annotated[Scope, Depends(get_inspect_scope)]


@router.get("/checklists", response_model=list[ChecklistRead], operation_id="listChecklists")
def list_checklists(conn: ConnDep, scope: ScopeDep) -> list[ChecklistRead]:
    """Checklist templates with their current version (send it back with the inspection)."""
    return [ChecklistRead(**c) for c in checklists(conn)]


@router.post("", response_model=InspectionRead, status_code=201, operation_id="createInspection")
def create_inspection(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: InspectScope,
    body: InspectionCreate,
) -> InspectionRead:
    """Record an inspection; every item found wanting becomes a hazard, all or nothing."""
    fields = body.model_dump(exclude={"items"})
    new = NewInspection(**fields, items=[ItemFinding(**i.model_dump()) for i in body.items])
    result = record_inspection(
        conn, scope, actor_of(request, scope), new, radius_m=settings.checkin_radius_m
    )
    return InspectionRead(**result)

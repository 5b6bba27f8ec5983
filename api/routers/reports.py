"""Public reports (群众举报): anyone may report; only the town safety office sees who reported."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.dependencies import AdminReadScopeDep, ConnDep, ReportScopeDep, SettingsDep, actor_of
from api.schemas.reports import ReportCreate, ReporterIdentityRead, ReportReceipt
from gis.workflows.reports import NewReport, reporter_of, submit_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.post("", response_model=ReportReceipt, status_code=201, operation_id="createReport")
def create_report(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: ReportScopeDep,
    body: ReportCreate,
) -> ReportReceipt:
    """Report a hazard (no sign-in needed). Your name and phone are optional and confidential."""
    report = NewReport(**{**body.model_dump(), "town_code": body.town_code or settings.town_code})
    receipt = submit_report(conn, scope, actor_of(request, scope), report)
    return ReportReceipt(**receipt)


@router.get(
    "/{hazard_id}/reporter", response_model=ReporterIdentityRead, operation_id="getReporter"
)
def get_reporter(
    request: Request,
    conn: ConnDep,
    scope: AdminReadScopeDep,
    hazard_id: Annotated[int, Path(ge=1, le=2**62)],
) -> ReporterIdentityRead:
    """The identity behind a public report (镇安委办 only; every read is audited)."""
    return ReporterIdentityRead(**reporter_of(conn, scope, actor_of(request, scope), hazard_id))

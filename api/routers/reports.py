"""Public reports (群众举报): anyone may report and track by code; only the town office sees who.

The form is rate-limited per client address (``Settings.report_rate_limit`` per
``report_rate_window_s``) for callers who are not signed in.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.dependencies import (
    Access,
    AdminReadScopeDep,
    ConnDep,
    ReportScopeDep,
    ScopeDep,
    SettingsDep,
    actor_of,
)
from api.rate_limits import SlidingWindow
from api.schemas.reports import (
    ReportCreate,
    ReporterIdentityRead,
    ReportReceipt,
    ReportStatusRead,
    SimilarReportRead,
)
from gis.access import Role, Scope
from gis.settings import Settings
from gis.workflows.reports import (
    NewReport,
    reporter_of,
    similar_reports,
    submit_report,
    track_report,
)
from gis.workflows.sign_in import client_key

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

#: Tracking a report: anyone holding its code, signed in or not.
get_track_scope = Access("report-track", frozenset(Role), anonymous=True)
TrackScopeDep = Annotated[Scope, Depends(get_track_scope)]
TrackingCode = Annotated[str, Path(pattern=r"^[A-Z0-9]{4,20}$", examples=["JB20240612A1B2C3"])]


def _report_window(request: Request, settings: Settings) -> SlidingWindow:
    window = getattr(request.app.state, "report_window", None)
    if window is None:
        window = SlidingWindow(settings.report_rate_limit, settings.report_rate_window_s)
        request.app.state.report_window = window
    return window


@router.post("", response_model=ReportReceipt, status_code=201, operation_id="createReport")
def create_report(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: ReportScopeDep,
    body: ReportCreate,
) -> ReportReceipt:
    """Report a hazard (no sign-in needed). Your name and phone are optional and confidential."""
    if scope.role is Role.PUBLIC:
        # Counted per IPv4 address or IPv6 /64, like the sign-in throttle.
        _report_window(request, settings).hit(
            client_key(request.client.host if request.client else None)
        )
    report = NewReport(**{**body.model_dump(), "town_code": body.town_code or settings.town_code})
    receipt = submit_report(conn, scope, actor_of(request, scope), report)
    return ReportReceipt(**receipt)


@router.get("/{code}", response_model=ReportStatusRead, operation_id="trackReport")
def get_report_status(conn: ConnDep, scope: TrackScopeDep, code: TrackingCode) -> ReportStatusRead:
    """A report's progress by the tracking code on its receipt: status and dates only."""
    return ReportStatusRead(**track_report(conn, code))


@router.get(
    "/{hazard_id}/similar",
    response_model=list[SimilarReportRead],
    operation_id="listSimilarReports",
)
def get_similar_reports(
    conn: ConnDep, scope: ScopeDep, hazard_id: Annotated[int, Path(ge=1, le=2**62)]
) -> list[SimilarReportRead]:
    """Possible duplicates: hazards of the same category within 50 m and 30 days."""
    return [SimilarReportRead(**r) for r in similar_reports(conn, scope, hazard_id)]


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

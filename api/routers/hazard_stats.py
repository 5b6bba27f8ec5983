"""Hazard statistics and the periodic reports: figures by axis, 月调度/季通报/年总结 workbooks.

Mounted before the hazards router, so ``/api/v1/hazards/stats`` is not read as a hazard id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.dependencies import ConnDep, ScopeDep
from api.schemas.hazard_stats import HazardStatsRead
from gis.io.periodic_reports import ReportKind, periodic_report
from gis.queries.hazard_stats import Dimension, hazard_stats, parse_period

router = APIRouter(prefix="/api/v1/hazards/stats", tags=["hazards"])

PeriodQuery = Annotated[
    str,
    Query(
        max_length=10,
        description="2024-06 (month), 2024-Q2 (quarter) or 2024 (year)",
        examples=["2024-06"],
    ),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("", response_model=HazardStatsRead, operation_id="getHazardStats")
def get_hazard_stats(
    conn: ConnDep,
    scope: ScopeDep,
    period: PeriodQuery,
    by: Dimension = Dimension.VILLAGE,
) -> HazardStatsRead:
    """Found, rectified, rate, days to close, overdue, major, inspections — grouped by ``by``."""
    table = hazard_stats(conn, scope, parse_period(period), by)
    return HazardStatsRead.of(period, table)


@router.get(
    "/reports/{kind}",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the workbook"}},
    operation_id="getPeriodicReport",
)
def get_periodic_report(
    conn: ConnDep, scope: ScopeDep, kind: ReportKind, period: PeriodQuery
) -> Response:
    """月调度 (monthly), 季通报 (quarterly) or 年总结 (yearly) as an Excel workbook."""
    data = periodic_report(conn, scope, kind, parse_period(period))
    filename = f"hazard-report-{kind.value}-{period}.xlsx"
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

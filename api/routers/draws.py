"""双随机 draws: make one, read it, verify it by re-running it, publish its notice (一公开)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.dependencies import ConnDep, ScopeDep, SettingsDep, WriteScopeDep, actor_of
from api.schemas.draws import DrawCreate, DrawNotice, DrawRead, DrawVerification, NoticeRow
from gis.analysis.draws import DrawParams
from gis.workflows import draws as wf

router = APIRouter(prefix="/api/v1", tags=["draws"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/draws", operation_id="create_draw", response_model=DrawRead, status_code=201)
def create_draw(
    request: Request, body: DrawCreate, conn: ConnDep, scope: WriteScopeDep, settings: SettingsDep
) -> DrawRead:
    """Draw random targets (stratified) and two random eligible inspectors per target."""
    params = DrawParams(
        ratio=body.ratio,
        ratio_by_risk={str(k): v for k, v in body.ratio_by_risk.items()},
        strata=tuple(body.strata),
        risk_weighted=body.risk_weighted,
    )
    req = wf.DrawRequest(
        town=body.town or settings.town_code,
        params=params,
        department_code=body.department_code,
        as_of=body.as_of or scope.as_of,
        seed=body.seed,
        replaces_id=body.replaces,
        replace_reason=body.reason,
    )
    return DrawRead.model_validate(wf.create_draw(conn, req, scope, actor_of(request, scope)))


@router.get("/draws/{draw_id}", operation_id="get_draw", response_model=DrawRead)
def get_draw(draw_id: int, conn: ConnDep, scope: ScopeDep) -> DrawRead:
    """The stored draw: seed, pools and their SHA-256, parameters, algorithm, result."""
    return DrawRead.model_validate(wf.get_draw(conn, draw_id, scope))


@router.post("/draws/{draw_id}/verify", operation_id="verify_draw", response_model=DrawVerification)
def verify_draw(draw_id: int, conn: ConnDep, scope: ScopeDep) -> DrawVerification:
    """Re-run the draw from its record; ``ok`` only if the pools hash and result reproduce."""
    return DrawVerification.model_validate(wf.verify_draw(conn, draw_id, scope))


@router.get(
    "/draws/{draw_id}/notice",
    operation_id="get_draw_notice",
    response_model=DrawNotice,
    responses={200: {"content": {XLSX: {}}, "description": "JSON, or Excel with format=xlsx"}},
)
def get_draw_notice(
    draw_id: int,
    conn: ConnDep,
    scope: ScopeDep,
    format: Annotated[Literal["json", "xlsx"], Query()] = "json",
) -> DrawNotice | Response:
    """The publishable notice: targets and inspectors' names only."""
    rec = wf.get_draw(conn, draw_id, scope)
    rows = wf.notice_rows(conn, rec)
    if format == "xlsx":
        return Response(
            wf.notice_xlsx(draw_id, rows),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="draw-{draw_id}.xlsx"'},
        )
    return DrawNotice(
        draw_id=draw_id,
        title=f"双随机抽查结果公示（第 {draw_id} 号）",
        rows=[NoticeRow.model_validate(r) for r in rows],
    )

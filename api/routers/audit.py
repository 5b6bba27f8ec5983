"""GET /api/v1/audit: the append-only audit log of your town (镇安委办 only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.dependencies import AdminReadScopeDep, ConnDep
from api.schemas.audit import AuditEntry, AuditPage
from gis.audit import audit_select

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", response_model=AuditPage, operation_id="listAuditLog")
def list_audit(
    conn: ConnDep,
    scope: AdminReadScopeDep,
    table: Annotated[str | None, Query(max_length=64, description="table name")] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    actor: Annotated[str | None, Query(max_length=64, description="username")] = None,
    since: Annotated[dt.datetime | None, Query(description="at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditPage:
    """Who did what, when, with the row before and after; newest first."""
    query = audit_select(scope, table=table, action=action, actor=actor, since=since, until=until)
    rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
    return AuditPage(items=[AuditEntry(**r) for r in rows], limit=limit, offset=offset)

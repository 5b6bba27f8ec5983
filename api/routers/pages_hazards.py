"""Web pages for hazards: the filtered ledger list with the verbs the user may apply as buttons.

Each button is a POST form (CSRF field) calling the hazard workflow's ``transition`` with the
version the page showed, so a hazard moved by someone else in between is a clear conflict
message, not a silent overwrite.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from api.dependencies import ConnDep, FormAccess, ScopeDep, SettingsDep, actor_of
from api.page_support import PAGE_SIZE, names, page_links, render
from gis.access import Scope, scope_clause
from gis.db.models import Hazard, Unit
from gis.domain import HazardLevel, HazardStatus
from gis.errors import Conflict, InvalidInput, PreconditionRequired
from gis.workflows.hazards import FIELD, Move, Verb, allowed_verbs, transition

router = APIRouter(tags=["pages"], include_in_schema=False)

HazardId = Annotated[int, Path(ge=1, le=2**62)]
move_form_scope = FormAccess("page-hazard-move", FIELD, write=True)
MoveFormScope = Annotated[Scope, Depends(move_form_scope)]
#: Verbs that need a date or a reason: the button opens a small form instead of posting at once.
NEEDS_DEADLINE = {Verb.RECTIFY, Verb.REOPEN}
NEEDS_NOTE = {Verb.REJECT}


@router.get("/hazards", response_class=HTMLResponse)
def hazards_page(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: ScopeDep,
    status: HazardStatus | None = None,
    level: HazardLevel | None = None,
    overdue: Annotated[bool, Query()] = False,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
    message: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    """Hazards in scope, filtered on the server, with state, deadline and the allowed verbs."""
    where: list[Any] = [scope_clause(Hazard, scope)]
    if status is not None:
        where.append(Hazard.status == status)
    if level is not None:
        where.append(Hazard.level == level)
    if overdue:
        where.append(Hazard.deadline < scope.as_of)
        where.append(Hazard.status.not_in([HazardStatus.CLOSED.value, HazardStatus.REJECTED.value]))
    total = conn.execute(select(func.count()).select_from(Hazard).where(*where)).scalar_one()
    rows = []
    for r in conn.execute(
        select(
            Hazard.id,
            Hazard.code,
            Hazard.description,
            Hazard.level,
            Hazard.status,
            Hazard.deadline,
            Hazard.found_on,
            Hazard.village_code,
            Hazard.unit_id,
            Hazard.version,
            Hazard.first_signer,
            Unit.name.label("unit_name"),
        )
        .outerjoin(Unit, Unit.id == Hazard.unit_id)
        .where(*where)
        .order_by(Hazard.found_on.desc(), Hazard.id.desc())
        .limit(PAGE_SIZE)
        .offset(offset)
    ).mappings():
        row = dict(r)
        first = row.pop("first_signer")
        row["verbs"] = (
            []
            if scope.read_only
            else allowed_verbs(
                scope.role,
                HazardStatus(row["status"]),
                HazardLevel(row["level"]),
                first,
                scope.username,
            )
        )
        rows.append(row)
    filters = {
        "status": status.value if status else "",
        "level": level.value if level else "",
        "overdue": "true" if overdue else "",
    }
    towns = sorted(scope.town_codes) if scope.town_codes is not None else None
    return render(
        request,
        settings,
        scope,
        "hazards.html",
        {
            "hazards": rows,
            "total": total,
            "offset": offset,
            "filters": filters,
            "links": page_links("/hazards", filters, offset, len(rows), total),
            "names": names(conn, towns),
            "statuses": list(HazardStatus),
            "levels": list(HazardLevel),
            "needs_deadline": NEEDS_DEADLINE,
            "needs_note": NEEDS_NOTE,
            "message": message,
            "today": scope.as_of,
            "return_to": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        },
    )


def _back(return_to: str, message: str) -> str:
    """The list the user came from (local paths only), with the outcome to show."""
    base = return_to if return_to.startswith("/hazards") else "/hazards"
    base = base.split("&message=")[0].split("?message=")[0]
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'message': message})}"


@router.post("/hazards/{hazard_id}/move", response_class=HTMLResponse)
def hazard_move(
    request: Request,
    conn: ConnDep,
    scope: MoveFormScope,
    hazard_id: HazardId,
    verb: Annotated[Verb, Form()],
    version: Annotated[int, Form(ge=0, le=2**31)],
    deadline: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
    return_to: Annotated[str, Form(max_length=300)] = "/hazards",
) -> Response:
    """Apply one verb from a list button through the hazard workflow."""
    try:
        due = dt.date.fromisoformat(deadline) if deadline else None
    except ValueError:
        return RedirectResponse(
            _back(return_to, f"整改期限格式应为 YYYY-MM-DD (deadline: {deadline})"), 303
        )
    move = Move(verb, version, deadline=due, note=note.strip() or None)
    try:
        with conn.begin_nested():
            hazard = transition(conn, scope, actor_of(request, scope), hazard_id, move)
    except (Conflict, InvalidInput, PreconditionRequired) as exc:
        # Refused or stale (someone moved it first): the list says why, nothing was written.
        return RedirectResponse(_back(return_to, f"未执行：{exc.message}"), status_code=303)
    done = f"{hazard['code']}：{verb.label}，当前状态 {HazardStatus(hazard['status']).label}"
    return RedirectResponse(_back(return_to, done), status_code=303)

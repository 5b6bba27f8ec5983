"""Web pages for units: the filtered list, one unit on one screen, and the inspection checklist.

The checklist form posts through the inspections workflow (``record_inspection``); what it
refuses comes back next to the field it names (``field: reason`` in its message).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection, func, or_, select
from starlette.concurrency import run_in_threadpool

from api.dependencies import Access, ConnDep, FormAccess, ScopeDep, SettingsDep, actor_of
from api.page_support import PAGE_SIZE, names, page_links, render
from gis.access import Scope, scope_clause
from gis.db.models import Hazard, Inspection, Unit
from gis.domain import FireKeyLevel, HazardCategory, HazardStatus, ItemResult, RiskColor
from gis.errors import Conflict, InvalidInput, NotFound
from gis.queries.responsibilities import responsible_for_unit
from gis.workflows.hazards import FIELD
from gis.workflows.inspections import ItemFinding, NewInspection, checklists, record_inspection

router = APIRouter(tags=["pages"], include_in_schema=False)

UnitId = Annotated[int, Path(ge=1, le=2**62)]
#: The unit types a chief filters by (issue 11: key units, 九小场所, high-risk).
KINDS = {"fire_key": "消防安全重点单位", "nine_small": "九小场所", "high_risk": "高危行业"}
inspect_form_scope = FormAccess("page-inspect", FIELD, write=True)
InspectFormScope = Annotated[Scope, Depends(inspect_form_scope)]


def _unit_filters(q: str, risk: RiskColor | None, kind: str, village: str) -> list[Any]:
    where: list[Any] = []
    if q:
        like = f"%{q}%"
        where.append(or_(Unit.name.ilike(like), Unit.code.ilike(like), Unit.address.ilike(like)))
    if risk is not None:
        where.append(Unit.risk_color == risk)
    if kind == "fire_key":
        where.append(Unit.fire_key_level != FireKeyLevel.NONE)
    elif kind == "nine_small":
        where.append(Unit.nine_small_category.is_not(None))
    elif kind == "high_risk":
        where.append(Unit.high_risk.is_(True))
    if village:
        where.append(Unit.village_code == village)
    return where


def _inspectors(conn: Connection, scope: Scope, unit_ids: list[int]) -> dict[int, list[str]]:
    """Responsible inspector names per unit (responsibility records in force today)."""
    out: dict[int, list[str]] = {}
    for uid in unit_ids:
        rows = conn.execute(responsible_for_unit(uid, scope.as_of, scope)).mappings()
        out[uid] = [
            r["staff_name"] for r in rows if r["unit_id"] == uid and r["role"] == "unit_inspector"
        ]
    return out


@router.get("/units", response_class=HTMLResponse)
def units_page(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: ScopeDep,
    q: Annotated[str, Query(max_length=100)] = "",
    risk: RiskColor | None = None,
    kind: Annotated[str, Query(pattern="^(|fire_key|nine_small|high_risk)$")] = "",
    village: Annotated[str, Query(max_length=12)] = "",
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> Response:
    """Units in scope, searched and filtered on the server, one page at a time."""
    where = [scope_clause(Unit, scope), *_unit_filters(q.strip(), risk, kind, village)]
    total = conn.execute(select(func.count()).select_from(Unit).where(*where)).scalar_one()
    rows = [
        dict(r)
        for r in conn.execute(
            select(
                Unit.id,
                Unit.code,
                Unit.name,
                Unit.address,
                Unit.village_code,
                Unit.industry_code,
                Unit.department_code,
                Unit.risk_color,
                Unit.fire_key_level,
                Unit.nine_small_category,
                Unit.high_risk,
            )
            .where(*where)
            .order_by(Unit.name, Unit.id)
            .limit(PAGE_SIZE)
            .offset(offset)
        ).mappings()
    ]
    filters = {"q": q, "risk": risk.value if risk else "", "kind": kind, "village": village}
    towns = sorted(scope.town_codes) if scope.town_codes is not None else None
    return render(
        request,
        settings,
        scope,
        "units.html",
        {
            "units": rows,
            "total": total,
            "offset": offset,
            "filters": filters,
            "links": page_links("/units", filters, offset, len(rows), total),
            "inspectors": _inspectors(conn, scope, [r["id"] for r in rows]),
            "names": names(conn, towns),
            "risk_colors": list(RiskColor),
            "kinds": KINDS,
        },
    )


def _unit(conn: Connection, scope: Scope, unit_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            select(
                *[c for c in Unit.__table__.columns if c.name != "geom"],
                func.ST_X(Unit.geom).label("lon"),
                func.ST_Y(Unit.geom).label("lat"),
            ).where(Unit.id == unit_id, scope_clause(Unit, scope))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"单位 {unit_id} 不存在或不在您的范围内 (unit not found)")
    return dict(row)


@router.get("/units/{unit_id}", response_class=HTMLResponse)
def unit_page(
    request: Request, conn: ConnDep, settings: SettingsDep, scope: ScopeDep, unit_id: UnitId
) -> Response:
    """Everything about one unit: identity, place, who is responsible, inspections, hazards."""
    unit = _unit(conn, scope, unit_id)
    people = [
        dict(r) for r in conn.execute(responsible_for_unit(unit_id, scope.as_of, scope)).mappings()
    ]
    inspections = [
        dict(r)
        for r in conn.execute(
            select(
                Inspection.id,
                Inspection.code,
                Inspection.inspected_on,
                Inspection.kind,
                Inspection.hazard_count,
                Inspection.inspector_codes,
                Inspection.result,
            )
            .where(Inspection.unit_id == unit_id, scope_clause(Inspection, scope))
            .order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
            .limit(5)
        ).mappings()
    ]
    hazards = [
        dict(r)
        for r in conn.execute(
            select(
                Hazard.id,
                Hazard.code,
                Hazard.description,
                Hazard.level,
                Hazard.status,
                Hazard.deadline,
                Hazard.found_on,
            )
            .where(
                Hazard.unit_id == unit_id,
                scope_clause(Hazard, scope),
                Hazard.status.not_in([HazardStatus.CLOSED.value, HazardStatus.REJECTED.value]),
            )
            .order_by(Hazard.deadline.asc().nulls_last(), Hazard.id)
        ).mappings()
    ]
    return render(
        request,
        settings,
        scope,
        "unit.html",
        {
            "unit": unit,
            "people": people,
            "inspections": inspections,
            "hazards": hazards,
            "names": names(conn, [unit["town_code"]]),
            "can_inspect": scope.role in FIELD and not scope.read_only,
            "recorded": request.query_params.get("recorded", "")[:20],
            "today": scope.as_of,
        },
    )


def _checklist(conn: Connection, code: str) -> dict[str, Any]:
    lists = checklists(conn)
    return next((c for c in lists if c["code"] == code), lists[0])


def _inspect_form(
    request: Request,
    conn: Connection,
    settings: Any,
    scope: Scope,
    unit: dict[str, Any],
    checklist: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        settings,
        scope,
        "inspect.html",
        {
            "unit": unit,
            "checklist": checklist,
            "checklists": checklists(conn),
            "values": values,
            "errors": errors,
            "results": list(ItemResult),
            "categories": list(HazardCategory),
            "today": scope.as_of,
        },
        status_code=status_code,
    )


@router.get("/units/{unit_id}/inspect", response_class=HTMLResponse)
def inspect_form(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: Annotated[Scope, Depends(Access("page-inspect-form", FIELD))],
    unit_id: UnitId,
    checklist: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    """The checklist to fill in on a visit."""
    unit = _unit(conn, scope, unit_id)
    return _inspect_form(request, conn, settings, scope, unit, _checklist(conn, checklist), {}, {})


#: ``items[3].major_basis: …`` → the form field of item 4 (items are numbered from 1).
_ITEM_FIELD = re.compile(r"^items\[(\d+)\]")


def _field_errors(message: str, numbers: list[int]) -> dict[str, str]:
    """Split a workflow refusal (``field: reason; …``) into errors keyed by form field."""
    errors: dict[str, str] = {}
    for part in message.split("; "):
        field, _, reason = part.partition(": ")
        found = _ITEM_FIELD.match(field)
        if found and int(found.group(1)) < len(numbers):
            key = f"item_{numbers[int(found.group(1))]}"
        else:
            key = field if reason else "form"
        errors[key] = (errors.get(key, "") + " " + (reason or part)).strip()
    return errors


@router.post("/units/{unit_id}/inspect", response_class=HTMLResponse)
async def inspect_submit(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    scope: InspectFormScope,
    unit_id: UnitId,
) -> Response:
    """Record the inspection through the workflow; refusals are shown next to their field."""
    form = await request.form()
    values = {k: str(v)[:2000] for k, v in form.items() if isinstance(v, str)}
    return await run_in_threadpool(_record, request, conn, settings, scope, unit_id, values)


def _record(
    request: Request,
    conn: Connection,
    settings: Any,
    scope: Scope,
    unit_id: int,
    values: dict[str, str],
) -> Response:
    unit = _unit(conn, scope, unit_id)
    checklist = _checklist(conn, values.get("checklist", ""))
    errors: dict[str, str] = {}
    for key, label in (
        ("inspectors", "检查人员"),
        ("explained", "现场讲解内容"),
        ("unit_signer", "单位签字人"),
    ):
        if not values.get(key, "").strip():
            errors[key] = f"请填写{label} (required)"
    items: list[ItemFinding] = []
    numbers: list[int] = []
    for item in checklist["items"]:
        no = item["no"]
        raw = values.get(f"item_{no}", "")
        if raw not in {r.value for r in ItemResult}:
            errors[f"item_{no}"] = "请选择检查结果 (choose a result)"
            continue
        result = ItemResult(raw)
        note = values.get(f"note_{no}", "").strip() or None
        category = values.get(f"category_{no}", "")
        hazard = result is ItemResult.HAZARD
        items.append(
            ItemFinding(
                no=no,
                result=result,
                note=note,
                category=HazardCategory(category)
                if hazard and category in {c.value for c in HazardCategory}
                else None,
                fixed_on_spot=hazard and values.get(f"fixed_{no}") == "on",
            )
        )
        numbers.append(no)
    if not errors:
        new = NewInspection(
            unit_id=unit_id,
            checklist=checklist["code"],
            checklist_version=values.get("checklist_version", ""),
            items=items,
            inspectors=[
                n.strip() for n in re.split(r"[,，、\s]+", values["inspectors"]) if n.strip()
            ],
            explained=values["explained"].strip(),
            unit_signer=values["unit_signer"].strip(),
            handed_over=values.get("handed_over", "").strip() or None,
            inspected_on=dt.date.fromisoformat(values["inspected_on"])
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", values.get("inspected_on", ""))
            else None,
        )
        try:
            with conn.begin_nested():
                done = record_inspection(
                    conn, scope, actor_of(request, scope), new, radius_m=settings.checkin_radius_m
                )
        except InvalidInput as exc:
            errors = _field_errors(exc.message, numbers)
        except Conflict as exc:
            errors = {"form": exc.message}
        else:
            return RedirectResponse(f"/units/{unit_id}?recorded={done['code']}", status_code=303)
    return _inspect_form(request, conn, settings, scope, unit, checklist, values, errors, 400)

"""双随机 draws: gather the candidate pools, draw, store the record; verify it; the public notice.

The pools are built here from the database (who may inspect which unit, and why the others may
not); the draw itself is :func:`gis.analysis.draws.draw`. The record keeps the pools, their
SHA-256, the parameters, seed and algorithm version, so :func:`verify_draw` re-runs it from the
record alone and a changed byte anywhere makes it fail.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
from dataclasses import dataclass, field
from typing import Any

import openpyxl
from sqlalchemy import Connection, and_, func, insert, select, update

from gis import audit
from gis.access import Role, Scope, held_on, scope_clause
from gis.analysis.draws import ALGORITHM_VERSION, DrawParams, draw, pools_sha256
from gis.db.models import (
    Draw,
    Inspection,
    Responsibility,
    Staff,
    StaffConflict,
    Unit,
    Village,
)
from gis.domain import OPERATING_STATUSES, ResponsibilityRole, StaffRole
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.io.formulas import inert_cell

#: Who may be drawn to inspect: the department's own supervisors (三管三必须).
DRAWABLE_ROLES = (StaffRole.INSPECTOR, StaffRole.POLICE, StaffRole.FIREFIGHTER)


@dataclass(frozen=True)
class DrawRequest:
    town: str
    params: DrawParams
    department_code: str | None = None
    as_of: dt.date = field(default_factory=dt.date.today)
    seed: str | None = None
    replaces_id: int | None = None
    replace_reason: str | None = None


def _may_draw(scope: Scope, department: str | None) -> None:
    """Draws are made by the safety office (any department) or a department (its own)."""
    if scope.role in (Role.PUBLIC, Role.INSPECTOR, Role.GRID_CHIEF) or scope.village_codes:
        raise Forbidden("无权组织双随机抽查 (only the safety office or a department may draw)")
    if scope.department_codes is not None and (
        department is None or department not in scope.department_codes
    ):
        raise Forbidden(f"只能抽取本部门单位 (a department draws its own units: {department})")


def build_pools(conn: Connection, req: DrawRequest, scope: Scope) -> list[dict[str, Any]]:
    """Every candidate unit with its strata, eligible inspectors and each exclusion's reason."""
    cond = [
        Unit.town_code == req.town,
        Unit.status.in_(sorted(OPERATING_STATUSES)),
        scope_clause(Unit, scope),
    ]
    if req.department_code is not None:
        cond.append(Unit.department_code == req.department_code)
    units = conn.execute(
        select(
            Unit.id, Unit.village_code, Unit.industry_code, Unit.risk_color, Unit.department_code
        )
        .where(*cond)
        .order_by(Unit.id)
    ).all()
    if not units:
        raise InvalidInput("没有可抽取的单位 (no operating unit in scope to draw from)")
    ids = [int(u.id) for u in units]
    staff = conn.execute(
        select(Staff.id, Staff.code, Staff.department_code, Staff.home_village_code)
        .where(
            Staff.town_code == req.town,
            Staff.active.is_(True),
            Staff.role.in_([r.value for r in DRAWABLE_ROLES]),
        )
        .order_by(Staff.id)
    ).all()
    by_code = {s.code: int(s.id) for s in staff}
    own: dict[int, set[int]] = {}
    for r in conn.execute(
        select(Responsibility.unit_id, Responsibility.staff_id).where(
            Responsibility.unit_id.in_(ids),
            Responsibility.role == ResponsibilityRole.UNIT_INSPECTOR.value,
            held_on(req.as_of),
        )
    ):
        own.setdefault(int(r.unit_id), set()).add(int(r.staff_id))
    latest = (
        select(Inspection.unit_id, func.max(Inspection.inspected_on).label("last"))
        .where(Inspection.unit_id.in_(ids), Inspection.inspected_on <= req.as_of)
        .group_by(Inspection.unit_id)
        .subquery()
    )
    last: dict[int, set[int]] = {}
    for row in conn.execute(
        select(Inspection.unit_id, Inspection.inspector_codes).join(
            latest,
            and_(latest.c.unit_id == Inspection.unit_id, latest.c.last == Inspection.inspected_on),
        )
    ):
        last.setdefault(int(row.unit_id or 0), set()).update(
            by_code[c] for c in (row.inspector_codes or []) if c in by_code
        )
    conflicts: dict[int, set[int]] = {}
    for r in conn.execute(
        select(StaffConflict.unit_id, StaffConflict.staff_id).where(
            StaffConflict.unit_id.in_(ids), StaffConflict.declared_on <= req.as_of
        )
    ):
        conflicts.setdefault(int(r.unit_id), set()).add(int(r.staff_id))
    pools = []
    for u in units:
        uid = int(u.id)
        eligible: list[int] = []
        excluded: dict[str, list[str]] = {}
        for s in staff:
            if s.department_code != u.department_code:
                continue  # 三管三必须: the unit's own supervising department
            sid = int(s.id)
            # Every reason that applies is kept, so the record says why, not just whether.
            why = [
                reason
                for reason, hit in (
                    ("responsible_inspector", sid in own.get(uid, set())),
                    ("inspected_last", sid in last.get(uid, set())),
                    (
                        "home_village",
                        u.village_code is not None and s.home_village_code == u.village_code,
                    ),
                    ("declared_conflict", sid in conflicts.get(uid, set())),
                )
                if hit
            ]
            if why:
                excluded[str(sid)] = why
            else:
                eligible.append(sid)
        pools.append(
            {
                "unit_id": uid,
                "village": u.village_code,
                "industry": (u.industry_code or "?")[:1],
                "risk": getattr(u.risk_color, "value", u.risk_color),
                "department": u.department_code,
                "eligible": eligible,
                "excluded": excluded,
            }
        )
    return pools


def create_draw(
    conn: Connection, req: DrawRequest, scope: Scope, actor: audit.Actor
) -> dict[str, Any]:
    """Draw and store; with ``replaces_id`` the old draw is marked superseded (once, atomically)."""
    _may_draw(scope, req.department_code)
    if (req.replaces_id is None) != (not req.replace_reason):
        raise InvalidInput("替换抽签须同时给出 replaces 与 reason (a replacement names both)")
    if req.replaces_id is not None:
        get_draw(conn, req.replaces_id, scope)  # 404 when unknown or out of scope
        # Lock the old draw so two replacements of it serialise; the second sees the first.
        taken = conn.execute(
            select(Draw.superseded_by).where(Draw.id == req.replaces_id).with_for_update()
        ).scalar_one()
        if taken is not None:
            raise Conflict(f"抽签 {req.replaces_id} 已被第 {taken} 号替换 (already replaced)")
    pools = build_pools(conn, req, scope)
    seed = req.seed or str(secrets.randbits(64))
    result = draw(pools, req.params, seed)
    row = {
        "town_code": req.town,
        "department_code": req.department_code,
        "author": actor.username,
        "as_of": req.as_of,
        "seed": seed,
        "algorithm_version": ALGORITHM_VERSION,
        "params": req.params.as_dict(),
        "pools": pools,
        "pools_sha256": pools_sha256(pools),
        "result": result,
        "replaces_id": req.replaces_id,
        "replace_reason": req.replace_reason or None,
    }
    new_id = int(conn.execute(insert(Draw).values(row).returning(Draw.id)).scalar_one())
    if req.replaces_id is not None:
        done = conn.execute(
            update(Draw)
            .where(Draw.id == req.replaces_id, Draw.superseded_by.is_(None))
            .values(superseded_by=new_id)
            .returning(Draw.id)
        ).first()
        if done is None:
            raise Conflict(f"抽签 {req.replaces_id} 已被替换 (already replaced)")
        audit.record(
            conn,
            actor,
            "supersede",
            "draws",
            req.replaces_id,
            {"superseded_by": None},
            {"superseded_by": new_id},
            town_code=req.town,
        )
    audit.record(
        conn,
        actor,
        "draw",
        "draws",
        new_id,
        None,
        {k: row[k] for k in ("seed", "algorithm_version", "pools_sha256", "params", "replaces_id")},
        town_code=req.town,
    )
    return get_draw(conn, new_id, scope)


def get_draw(conn: Connection, draw_id: int, scope: Scope) -> dict[str, Any]:
    """The stored draw, if the scope may see it (the town's office; a department its own)."""
    stmt = select(*Draw.__table__.columns).where(Draw.id == draw_id)
    if scope.town_codes is not None:
        stmt = stmt.where(Draw.town_code.in_(sorted(scope.town_codes)))
    if scope.department_codes is not None:
        stmt = stmt.where(Draw.department_code.in_(sorted(scope.department_codes)))
    found = conn.execute(stmt).mappings().first()
    hidden = scope.role in (Role.PUBLIC, Role.INSPECTOR, Role.GRID_CHIEF) or scope.village_codes
    if found is None or hidden:
        raise NotFound(f"抽签 {draw_id} 不存在或不在您的管辖范围内 (unknown or out-of-scope draw)")
    return dict(found)


def verify_draw(conn: Connection, draw_id: int, scope: Scope) -> dict[str, Any]:
    """Re-run a stored draw from its record; every check must hold for ``ok``."""
    rec = get_draw(conn, draw_id, scope)
    checks = {
        "algorithm_version": rec["algorithm_version"] == ALGORITHM_VERSION,
        "pools_sha256": pools_sha256(rec["pools"]) == rec["pools_sha256"],
    }
    try:
        again = draw(rec["pools"], DrawParams.from_dict(rec["params"]), rec["seed"])
        checks["result"] = again == rec["result"]
    except (KeyError, TypeError, ValueError):
        checks["result"] = False
    return {"draw_id": draw_id, "ok": all(checks.values()), "checks": checks}


def notice_rows(conn: Connection, rec: dict[str, Any]) -> list[dict[str, Any]]:
    """一公开: each target's name and village and its inspectors' names; nothing else personal."""
    targets = rec["result"]["targets"]
    unit_ids = [t["unit_id"] for t in targets]
    staff_ids = sorted({s for t in targets for s in t["inspectors"]})
    units = {
        int(r.id): (r.name, r.village)
        for r in conn.execute(
            select(Unit.id, Unit.name, Village.name.label("village"))
            .outerjoin(Village, Village.code == Unit.village_code)
            .where(Unit.id.in_(unit_ids))
        )
    }
    names = dict(conn.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))).all())
    return [
        {
            "unit": units[t["unit_id"]][0],
            "village": units[t["unit_id"]][1],
            "inspectors": [names[s] for s in t["inspectors"]],
        }
        for t in targets
    ]


def notice_xlsx(draw_id: int, rows: list[dict[str, Any]]) -> bytes:
    """The notice as an Excel sheet; every cell through ``inert_cell`` (no live formula)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "双随机抽查公示"
    sheet.append([inert_cell(f"双随机抽查结果公示（第 {draw_id} 号）")])
    sheet.append(["序号", "检查对象", "所在村（社区）", "检查人员"])
    for i, r in enumerate(rows, start=1):
        sheet.append(
            [
                i,
                inert_cell(r["unit"]),
                inert_cell(r["village"] or ""),
                inert_cell("、".join(r["inspectors"])),
            ]
        )
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()

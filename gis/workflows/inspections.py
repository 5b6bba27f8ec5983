"""Recording an inspection (检查记录): one result per checklist item, the 五现场, a GPS check-in,
and every item found wanting filed as a hazard linked to it, all in one transaction.

The check-in is never refused: farther than the configured radius from the unit it is flagged,
with the distance measured on the ellipsoid (``geography``), so the office can follow it up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, insert, select, update

from gis.access import Role, Scope, scope_clause
from gis.audit import Actor, record
from gis.crs import STORAGE_SRID
from gis.db.models import ChecklistTemplate, Hazard, Inspection, Unit
from gis.domain import (
    FatalFactor,
    HazardCategory,
    HazardLevel,
    HazardSource,
    InspectionKind,
    ItemResult,
)
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.workflows import hazards as hazard_flow

#: Which hazard source an inspection of each kind files its findings under.
SOURCE_OF_KIND = {
    InspectionKind.DEPARTMENT: HazardSource.DEPARTMENT,
    InspectionKind.RANDOM: HazardSource.DEPARTMENT,
    InspectionKind.GRID_PATROL: HazardSource.GRID_PATROL,
    InspectionKind.SUPERVISION: HazardSource.SUPERVISION,
}


def checklist_version(name: str, items: Sequence[str]) -> str:
    """A template's version: the first 12 hex digits of the SHA-256 of its name and items.

    Derived from the content, so an edited template is a new version without anyone having to
    remember to bump a number, and an inspection names exactly the wording it answered.
    """
    text = json.dumps({"name": name, "items": list(items)}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def checklists(conn: Connection) -> list[dict[str, Any]]:
    """Every checklist template with its current version and numbered items."""
    rows = conn.execute(select(ChecklistTemplate).order_by(ChecklistTemplate.code)).mappings()
    return [
        {
            "code": r["code"],
            "name": r["name"],
            "clause": r["clause"],
            "version": checklist_version(r["name"], r["items"]),
            "items": [{"no": i, "text": t} for i, t in enumerate(r["items"], start=1)],
        }
        for r in rows
    ]


@dataclass(frozen=True)
class ItemFinding:
    """The result of checklist item ``no`` (numbered from 1, as on the printed form)."""

    no: int
    result: ItemResult
    note: str | None = None
    category: HazardCategory | None = None
    level: HazardLevel = HazardLevel.GENERAL
    major_basis: str | None = None
    #: 当场整改: a general hazard put right before the inspector left.
    fixed_on_spot: bool = False


@dataclass(frozen=True)
class NewInspection:
    unit_id: int
    checklist: str
    checklist_version: str
    items: Sequence[ItemFinding]
    #: 五现场: 现场查 (who inspected), 现场讲 (what was explained), 现场交办 (what was handed
    #: over to the unit), 现场签字 (the unit's representative who signed).
    inspectors: Sequence[str]
    explained: str
    unit_signer: str
    handed_over: str | None = None
    kind: InspectionKind | None = None
    inspected_on: dt.date | None = None
    notes: str | None = None
    lon: float | None = None
    lat: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _check_items(new: NewInspection, template_items: Sequence[str], today: dt.date) -> list[str]:
    problems: list[str] = []
    if new.inspected_on is not None and new.inspected_on > today:
        problems.append(f"inspected_on: 检查日期 {new.inspected_on} 晚于今天 (in the future)")
    if not [name for name in new.inspectors if name.strip()]:
        problems.append("inspectors: 须填写检查人员 (现场查: who inspected)")
    numbers = [f.no for f in new.items]
    expected = set(range(1, len(template_items) + 1))
    for i, finding in enumerate(new.items):
        where = f"items[{i}]"
        if finding.no not in expected:
            problems.append(f"{where}.no: 检查表没有第{finding.no}项 (1..{len(template_items)})")
        elif numbers.count(finding.no) > 1:
            problems.append(f"{where}.no: 第{finding.no}项重复 (each item once)")
        if finding.result is not ItemResult.HAZARD:
            if finding.fixed_on_spot or finding.category or finding.major_basis:
                problems.append(f"{where}: 只有存在隐患的项目填写隐患信息 (hazard items only)")
            continue
        if finding.level is HazardLevel.MAJOR:
            if not (finding.major_basis and finding.major_basis.strip()):
                problems.append(f"{where}.major_basis: 重大隐患须注明判定依据 (cite the clause)")
            if finding.fixed_on_spot:
                problems.append(f"{where}.fixed_on_spot: 重大隐患不能当场整改销号 (major)")
    missing = sorted(expected - set(numbers))
    if missing:
        problems.append(
            f"items: 缺少第{'、'.join(map(str, missing))}项的结果 (one result per item)"
        )
    return problems


def _fatal_factor(text: str) -> FatalFactor | None:
    try:
        return FatalFactor.from_label(text)
    except ValueError:
        return None


def record_inspection(
    conn: Connection,
    scope: Scope,
    actor: Actor,
    new: NewInspection,
    *,
    radius_m: float,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Write the inspection and one hazard per item found wanting, or nothing at all.

    Returns the inspection with its check-in verdict and the hazards it filed.
    """
    today = today or dt.date.today()
    if scope.read_only or scope.role is Role.PUBLIC:
        raise Forbidden(f"{scope.role.label}不能登记检查 (this account may not record inspections)")
    template = (
        conn.execute(select(ChecklistTemplate).where(ChecklistTemplate.code == new.checklist))
        .mappings()
        .first()
    )
    if template is None:
        raise InvalidInput(f"checklist: 没有检查表 {new.checklist!r} (unknown checklist)")
    version = checklist_version(template["name"], template["items"])
    if new.checklist_version != version:
        raise Conflict(
            f"checklist_version: 检查表已更新为 {version}，请按新版填写 "
            f"(you answered {new.checklist_version!r})"
        )
    problems = _check_items(new, template["items"], today)
    if problems:
        raise InvalidInput("; ".join(problems))
    with conn.begin_nested():
        return _write(conn, scope, actor, new, template, version, radius_m, today)


def _write(
    conn: Connection,
    scope: Scope,
    actor: Actor,
    new: NewInspection,
    template: Any,
    version: str,
    radius_m: float,
    today: dt.date,
) -> dict[str, Any]:
    point = None
    distance: Any = None
    if new.lon is not None and new.lat is not None:
        point = gf.ST_SetSRID(gf.ST_MakePoint(new.lon, new.lat), STORAGE_SRID)
        # On the ellipsoid of the stored SRID (geography keeps 4490), not a planar guess.
        distance = gf.ST_Distance(func.geography(Unit.geom), func.geography(point))
    columns: list[Any] = [Unit.id, Unit.town_code, Unit.village_code]
    if distance is not None:
        columns.append(distance.label("distance"))
    unit = (
        conn.execute(select(*columns).where(Unit.id == new.unit_id, scope_clause(Unit, scope)))
        .mappings()
        .first()
    )
    if unit is None:
        raise NotFound(f"unit_id {new.unit_id} not found in your scope (单位不存在或无权限)")
    kind = new.kind or (
        InspectionKind.GRID_PATROL if scope.role is Role.GRID_CHIEF else InspectionKind.DEPARTMENT
    )
    inspected_on = new.inspected_on or today
    metres = float(unit["distance"]) if distance is not None else None
    flagged = None if metres is None else metres > radius_m
    items = [
        {
            "no": f.no,
            "item": template["items"][f.no - 1],
            "result": f.result.value,
            "note": f.note,
        }
        for f in sorted(new.items, key=lambda f: f.no)
    ]
    values: dict[str, Any] = {
        "town_code": unit["town_code"],
        "code": f"JC{inspected_on:%Y%m%d}{secrets.token_hex(3).upper()}",
        "unit_id": unit["id"],
        "village_code": unit["village_code"],
        "inspected_on": inspected_on,
        "kind": kind,
        "inspector_codes": [n.strip() for n in new.inspectors if n.strip()],
        "hazard_count": 0,
        "checklist_code": new.checklist,
        "checklist_version": version,
        "items": items,
        "notes": new.notes,
        "explained": new.explained,
        "handed_over": new.handed_over,
        "unit_signer": new.unit_signer,
        "checkin_geom": point,
        "checkin_distance_m": metres,
        "checkin_flagged": flagged,
        "recorded_by": actor.username[:64],
        "recorded_at": dt.datetime.now(dt.UTC),
    }
    inspection_id = int(
        conn.execute(insert(Inspection).values(**values).returning(Inspection.id)).scalar_one()
    )
    filed: list[dict[str, Any]] = []
    by_no = {item["no"]: item for item in items}
    for finding in sorted(new.items, key=lambda f: f.no):
        if finding.result is not ItemResult.HAZARD:
            continue
        text = template["items"][finding.no - 1]
        category = finding.category or HazardCategory.FIRE
        hazard = hazard_flow.NewHazard(
            category=category,
            description=f"{text}：{finding.note}" if finding.note else f"{text}：不符合要求",
            source=SOURCE_OF_KIND[kind],
            level=finding.level,
            unit_id=unit["id"],
            fatal_factor=_fatal_factor(text) if category is HazardCategory.FIRE else None,
            major_basis=finding.major_basis,
            found_on=inspected_on,
            inspection_id=inspection_id,
            location_desc=None,
        )
        hazard_id = hazard_flow.insert_hazard(conn, scope, actor, hazard, today)
        status = "reported"
        if finding.fixed_on_spot:
            moved = hazard_flow.transition(
                conn,
                scope,
                actor,
                hazard_id,
                hazard_flow.Move(
                    hazard_flow.Verb.FIX_ON_SPOT, 1, details={"inspection": values["code"]}
                ),
                today=today,
            )
            status = moved["status"]
        code = conn.execute(select(Hazard.code).where(Hazard.id == hazard_id)).scalar_one()
        by_no[finding.no]["hazard_id"] = hazard_id
        filed.append({"id": hazard_id, "code": code, "item_no": finding.no, "status": status})
    result = f"发现隐患{len(filed)}处" + ("，已责令整改" if filed else "，未发现问题")
    conn.execute(
        update(Inspection)
        .where(Inspection.id == inspection_id)
        .values(hazard_count=len(filed), result=result, items=items)
    )
    after = {k: v for k, v in values.items() if k != "checkin_geom"} | {
        "hazard_count": len(filed),
        "lon": new.lon,
        "lat": new.lat,
    }
    record(
        conn,
        actor,
        "create",
        "inspections",
        inspection_id,
        None,
        after,
        town_code=unit["town_code"],
    )
    return {
        "id": inspection_id,
        "code": values["code"],
        "unit_id": unit["id"],
        "inspected_on": inspected_on,
        "kind": kind,
        "checklist": new.checklist,
        "checklist_version": version,
        "hazard_count": len(filed),
        "result": result,
        "checkin": {"distance_m": metres, "flagged": flagged, "radius_m": radius_m},
        "hazards": filed,
    }

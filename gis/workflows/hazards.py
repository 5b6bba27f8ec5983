"""The hazard closed loop (隐患闭环): reporting a hazard and moving it through its states.

Every allowed move is one row of ``TRANSITIONS`` (from-state, verb, to-state, roles, levels,
extra needs); nothing else in the code decides what may happen. A move is ONE conditional
``UPDATE hazards … WHERE id AND version AND (status, level, role, signer fit a row) AND in scope
RETURNING``: no row back means refused, and only then is the hazard read to say why (404, 409
with the current state, 412 for a stale If-Match, 403 for a role the row does not allow). The
same transaction appends the hash-chained history row and the audit entry.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import ColumnElement, Connection, and_, case, insert, literal, or_, select, update

from gis.access import Role, Scope, scope_clause
from gis.audit import Actor, record
from gis.crs import STORAGE_SRID
from gis.db.models import Hazard, Town, Unit, Village
from gis.domain import (
    FatalFactor,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    LabelledEnum,
)
from gis.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    StaleVersion,
    TransitionRefused,
)
from gis.queries.hazards import hazard_select
from gis.workflows import hazard_ledger


class Verb(LabelledEnum):
    """The state changes, spelled as in the API paths (``POST /hazards/{id}/<verb>``)."""

    CONFIRM = "confirm", "确认隐患"
    REJECT = "reject", "不予认定"
    RECTIFY = "rectify", "责令整改"
    FIX_ON_SPOT = "fix-on-spot", "当场整改"
    SUBMIT = "submit", "提交整改"
    REVIEW = "review", "复查"
    REOPEN = "reopen", "重新整改"
    SIGN_OFF = "sign-off", "销号"


class Need(Enum):
    """Extra conditions of a transition, beyond state, level and role."""

    DEADLINE = "a new rectification deadline"
    REASON = "a reason (note)"
    FIRST_SIGNATURE = "records the signer as the first of two"
    SECOND_SIGNER = "a signer who is not the first signer"


S, L, R = HazardStatus, HazardLevel, Role
ALL_LEVELS = frozenset(L)
#: Who supervises: the town safety office and the unit's department (its scope is its units).
OFFICE = frozenset({R.TOWN_ADMIN, R.DEPARTMENT})
SUPERVISORS = OFFICE | {R.INSPECTOR}
FIELD = SUPERVISORS | {R.GRID_CHIEF}


@dataclass(frozen=True)
class Transition:
    """One allowed move: ``verb`` takes a hazard of ``levels`` from ``source`` to ``target``."""

    verb: Verb
    source: HazardStatus
    target: HazardStatus
    roles: frozenset[Role]
    levels: frozenset[HazardLevel] = ALL_LEVELS
    needs: frozenset[Need] = frozenset()
    #: Date columns set to the day of the move, and columns emptied by it.
    stamps: tuple[str, ...] = ()
    clears: tuple[str, ...] = ()


def _t(
    verb: Verb,
    source: HazardStatus,
    target: HazardStatus,
    roles: frozenset[Role],
    *,
    levels: frozenset[HazardLevel] = ALL_LEVELS,
    needs: tuple[Need, ...] = (),
    stamps: tuple[str, ...] = (),
    clears: tuple[str, ...] = (),
) -> Transition:
    return Transition(verb, source, target, roles, levels, frozenset(needs), stamps, clears)


GENERAL, MAJOR = frozenset({L.GENERAL}), frozenset({L.MAJOR})
CLOSING = ("closed_on",)
AGAIN = ("rectified_on", "reviewed_on", "first_signer")

#: The hazard state machine, as data. A major hazard is reviewed by its supervising department
#: only and signed off by two different people; only a general one may be fixed on the spot.
TRANSITIONS: tuple[Transition, ...] = (
    _t(Verb.CONFIRM, S.REPORTED, S.CONFIRMED, SUPERVISORS),
    _t(Verb.REJECT, S.REPORTED, S.REJECTED, SUPERVISORS, needs=(Need.REASON,)),
    _t(Verb.RECTIFY, S.CONFIRMED, S.RECTIFYING, SUPERVISORS, needs=(Need.DEADLINE,)),
    *(
        _t(
            Verb.FIX_ON_SPOT,
            source,
            S.CLOSED,
            FIELD,
            levels=GENERAL,
            stamps=("deadline", "rectified_on", "reviewed_on", "closed_on"),
        )
        for source in (S.REPORTED, S.CONFIRMED)
    ),
    _t(Verb.SUBMIT, S.RECTIFYING, S.AWAITING_REVIEW, FIELD, stamps=("rectified_on",)),
    _t(
        Verb.REVIEW,
        S.AWAITING_REVIEW,
        S.REVIEWED,
        SUPERVISORS,
        levels=GENERAL,
        stamps=("reviewed_on",),
    ),
    _t(
        Verb.REVIEW,
        S.AWAITING_REVIEW,
        S.REVIEWED,
        frozenset({R.DEPARTMENT}),
        levels=MAJOR,
        stamps=("reviewed_on",),
    ),
    _t(
        Verb.REOPEN,
        S.AWAITING_REVIEW,
        S.RECTIFYING,
        SUPERVISORS,
        needs=(Need.DEADLINE,),
        clears=AGAIN,
    ),
    _t(Verb.REOPEN, S.REVIEWED, S.RECTIFYING, OFFICE, needs=(Need.DEADLINE,), clears=AGAIN),
    _t(
        Verb.REOPEN,
        S.AWAITING_COUNTERSIGN,
        S.RECTIFYING,
        OFFICE,
        levels=MAJOR,
        needs=(Need.DEADLINE,),
        clears=AGAIN,
    ),
    _t(Verb.SIGN_OFF, S.REVIEWED, S.CLOSED, OFFICE, levels=GENERAL, stamps=CLOSING),
    _t(
        Verb.SIGN_OFF,
        S.REVIEWED,
        S.AWAITING_COUNTERSIGN,
        OFFICE,
        levels=MAJOR,
        needs=(Need.FIRST_SIGNATURE,),
    ),
    _t(
        Verb.SIGN_OFF,
        S.AWAITING_COUNTERSIGN,
        S.CLOSED,
        OFFICE,
        levels=MAJOR,
        needs=(Need.SECOND_SIGNER,),
        stamps=CLOSING,
    ),
)


def roles_for(verb: Verb) -> frozenset[Role]:
    """Every role some row lets make ``verb`` (the API's access rule for the verb's route)."""
    return frozenset().union(*(t.roles for t in TRANSITIONS if t.verb is verb))


def allowed_verbs(
    role: Role, status: HazardStatus, level: HazardLevel, first_signer: str | None, me: str | None
) -> list[Verb]:
    """The verbs ``role`` may apply to a hazard in this state, in table order."""
    out: list[Verb] = []
    for t in TRANSITIONS:
        if t.source is not status or level not in t.levels or role not in t.roles:
            continue
        if Need.SECOND_SIGNER in t.needs and first_signer == me:
            continue
        if t.verb not in out:
            out.append(t.verb)
    return out


@dataclass(frozen=True)
class Move:
    """What a client asks for: a verb on a hazard, based on the version it has seen."""

    verb: Verb
    version: int | None
    #: The version came as an ``If-Match`` ETag (a stale one is 412 rather than 409).
    if_match: bool = False
    deadline: dt.date | None = None
    note: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def _current(row: Mapping[str, Any]) -> dict[str, Any]:
    status = HazardStatus(row["status"])
    return {
        "id": row["id"],
        "status": status.value,
        "status_label": status.label,
        "version": row["version"],
        "level": row["level"],
    }


def _check_move(move: Move, candidates: list[Transition], today: dt.date) -> None:
    needs = frozenset().union(*(t.needs for t in candidates))
    if Need.DEADLINE in needs:
        if move.deadline is None:
            raise InvalidInput(f"{move.verb.label}须指定整改期限 (deadline is required)")
        if move.deadline < today:
            raise InvalidInput(f"整改期限 {move.deadline} 早于今天 (deadline is in the past)")
    elif move.deadline is not None:
        raise InvalidInput(f"{move.verb.label}不设整改期限 (deadline is not used by {move.verb})")
    if Need.REASON in needs and not (move.note and move.note.strip()):
        raise InvalidInput(f"{move.verb.label}须说明理由 (note: a reason is required)")


def _fits(t: Transition, me: str) -> ColumnElement[bool]:
    """SQL: the hazard row is where transition ``t`` may start."""
    clauses = [Hazard.status == t.source.value, Hazard.level.in_([lv.value for lv in t.levels])]
    if Need.SECOND_SIGNER in t.needs:
        clauses.append(Hazard.first_signer.is_distinct_from(me))
    return and_(*clauses)


def transition(
    conn: Connection,
    scope: Scope,
    actor: Actor,
    hazard_id: int,
    move: Move,
    *,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """Apply ``move`` to a hazard in one conditional UPDATE; history and audit in the same
    transaction. Returns the hazard as ``hazard_select`` shows it.

    Raises NotFound (not in scope), PreconditionRequired (no version), StaleVersion /
    PreconditionFailed (someone moved it first), TransitionRefused (not from this state, or the
    same person signing twice) and Forbidden (a role the table does not allow).
    """
    today = today or dt.date.today()
    if scope.read_only or scope.role is Role.PUBLIC:
        raise Forbidden(f"{scope.role.label}不能办理隐患 (this account may not change hazards)")
    me = actor.username
    candidates = [t for t in TRANSITIONS if t.verb is move.verb and scope.role in t.roles]
    if not candidates:
        raise Forbidden(f"{scope.role.label}不能{move.verb.label} (role may not {move.verb})")
    if move.version is None:
        row = _visible(conn, scope, hazard_id)
        raise PreconditionRequired(
            f'请带上版本号 (send If-Match: "{row["version"]}" or a version field)'
        )
    _check_move(move, candidates, today)

    fits = [(t, _fits(t, me)) for t in candidates]
    values: dict[str, Any] = {
        "status": case(*[(cond, literal(t.target.value)) for t, cond in fits]),
        "version": Hazard.version + 1,
    }
    touched = {c for t in candidates for c in (*t.stamps, *t.clears)}
    for column in sorted(touched):
        whens: list[tuple[ColumnElement[bool], Any]] = [
            (cond, literal(today)) for t, cond in fits if column in t.stamps
        ]
        whens += [(cond, None) for t, cond in fits if column in t.clears]
        values[column] = case(*whens, else_=getattr(Hazard, column))
    if any(Need.DEADLINE in t.needs for t in candidates):
        values["deadline"] = literal(move.deadline)
    if any(Need.FIRST_SIGNATURE in t.needs for t in candidates):
        signs = [(cond, literal(me)) for t, cond in fits if Need.FIRST_SIGNATURE in t.needs]
        values["first_signer"] = case(*signs, else_=Hazard.first_signer)

    old = select(Hazard.id, Hazard.status.label("old_status")).where(Hazard.id == hazard_id)
    before = old.subquery("prior")
    stmt = (
        update(Hazard)
        .where(
            Hazard.id == before.c.id,
            Hazard.version == move.version,
            scope_clause(Hazard, scope),
            or_(*(cond for _, cond in fits)),
        )
        .values(**values)
        .returning(
            before.c.old_status, Hazard.status, Hazard.version, Hazard.town_code, Hazard.deadline
        )
    )
    changed = conn.execute(stmt).mappings().first()
    if changed is None:
        _explain_refusal(conn, scope, hazard_id, move, me)
    assert changed is not None
    source, target = str(changed["old_status"]), HazardStatus(changed["status"]).value
    details: dict[str, Any] = {**move.details}
    if move.note:
        details["note"] = move.note
    if move.deadline is not None:
        details["deadline"] = move.deadline
    hazard_ledger.append(
        conn,
        hazard_id=hazard_id,
        town_code=changed["town_code"],
        seq=int(changed["version"]),
        verb=move.verb.value,
        from_status=source,
        to_status=target,
        actor=actor,
        actor_role=scope.role.value,
        details=details,
    )
    record(
        conn,
        actor,
        move.verb.value,
        "hazards",
        hazard_id,
        {"status": source, "version": move.version},
        {"status": target, "version": changed["version"], **details},
        town_code=changed["town_code"],
    )
    return get_hazard(conn, scope, hazard_id)


def _visible(conn: Connection, scope: Scope, hazard_id: int) -> dict[str, Any]:
    row = conn.execute(hazard_select(scope, Hazard.id == hazard_id)).mappings().first()
    if row is None:
        raise NotFound(f"hazard {hazard_id} not found in your scope (隐患不存在或无权查看)")
    return dict(row)


def _explain_refusal(conn: Connection, scope: Scope, hazard_id: int, move: Move, me: str) -> None:
    """The conditional UPDATE matched nothing: say why, from the row as it is now."""
    row = _visible(conn, scope, hazard_id)
    current = _current(row)
    status, level = HazardStatus(row["status"]), HazardLevel(row["level"])
    if row["version"] != move.version:
        stale = PreconditionFailed if move.if_match else StaleVersion
        raise stale(
            f"隐患已被他人更新：当前为第{row['version']}版（{status.label}），"
            f"请刷新后重试 (stale version {move.version}; current is {row['version']})",
            current,
        )
    here = [t for t in TRANSITIONS if t.verb is move.verb and t.source is status]
    if not here:
        raise TransitionRefused(
            f"{status.label}的隐患不能{move.verb.label} (cannot {move.verb} a hazard that is "
            f"{status.value})",
            current,
        )
    at_level = [t for t in here if level in t.levels]
    if not at_level:
        raise TransitionRefused(
            f"{level.label}隐患不能{move.verb.label} "
            f"({move.verb} is not for {level.value} hazards)",
            current,
        )
    if not any(scope.role in t.roles for t in at_level):
        who = "、".join(sorted(r.label for t in at_level for r in t.roles))
        raise Forbidden(f"{level.label}隐患的{move.verb.label}须由{who}办理 (role not allowed)")
    if any(Need.SECOND_SIGNER in t.needs for t in at_level) and row["first_signer"] == me:
        raise TransitionRefused(
            "重大隐患销号须由另一人复核签字 (the second signer must not be the first)", current
        )
    raise TransitionRefused(f"{move.verb.label}未执行 (refused)", current)  # pragma: no cover


def get_hazard(conn: Connection, scope: Scope, hazard_id: int) -> dict[str, Any]:
    """One hazard in scope, with the verbs this caller may apply to it now."""
    row = dict(_visible(conn, scope, hazard_id))
    status, level = HazardStatus(row["status"]), HazardLevel(row["level"])
    first = row.pop("first_signer")
    row["actions"] = (
        [v.value for v in allowed_verbs(scope.role, status, level, first, scope.username)]
        if not scope.read_only
        else []
    )
    row["awaiting_second_signer"] = status is HazardStatus.AWAITING_COUNTERSIGN
    # Who signed first is an account name: only the town office sees accounts (issue 4).
    row["first_signer"] = first if scope.role is Role.TOWN_ADMIN else None
    return row


# --- reporting a hazard -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewHazard:
    """A hazard found by staff (public reports go through gis.workflows.reports)."""

    category: HazardCategory
    description: str
    source: HazardSource = HazardSource.DEPARTMENT
    level: HazardLevel = HazardLevel.GENERAL
    unit_id: int | None = None
    lon: float | None = None
    lat: float | None = None
    town_code: str | None = None
    fatal_factor: FatalFactor | None = None
    major_basis: str | None = None
    location_desc: str | None = None
    found_on: dt.date | None = None
    inspection_id: int | None = None


def _hazard_code(day: dt.date) -> str:
    # Date + random hex: unique without a counter row every writer would contend for.
    return f"YH{day:%Y%m%d}{secrets.token_hex(3).upper()}"


def check_new_hazard(new: NewHazard, today: dt.date) -> list[tuple[str, str]]:
    """Problems with a new hazard as (field, reason) pairs; empty when it may be written."""
    problems: list[tuple[str, str]] = []
    if new.source is HazardSource.PUBLIC_REPORT:
        problems.append(
            ("source", "群众举报请走 /api/v1/reports (public reports have their own form)")
        )
    if new.level is HazardLevel.MAJOR:
        if not (new.major_basis and new.major_basis.strip()):
            problems.append(("major_basis", "重大隐患须注明判定依据条款 (cite the clause)"))
        if new.unit_id is None:
            problems.append(("unit_id", "重大隐患须关联生产经营单位 (a major hazard needs a unit)"))
    elif new.major_basis:
        problems.append(("major_basis", "只有重大隐患注明判定依据 (only for major hazards)"))
    if new.fatal_factor is not None and new.category is not HazardCategory.FIRE:
        problems.append(("fatal_factor", "十大致命风险因素只用于消防类隐患 (fire hazards only)"))
    if new.found_on is not None and new.found_on > today:
        problems.append(("found_on", f"发现日期 {new.found_on} 晚于今天 (in the future)"))
    if new.unit_id is None and (new.lon is None or new.lat is None):
        problems.append(("lon", "未关联单位时须给出位置 (lon/lat, or a unit_id)"))
    return problems


def report_hazard(
    conn: Connection, scope: Scope, actor: Actor, new: NewHazard, *, today: dt.date | None = None
) -> dict[str, Any]:
    """Record a hazard in state ``reported`` (version 1, history row 1); audited.

    The hazard must fall inside the caller's scope (its unit, or the village at its location).
    """
    today = today or dt.date.today()
    if scope.read_only or scope.role is Role.PUBLIC:
        raise Forbidden(f"{scope.role.label}不能登记隐患 (this account may not report hazards)")
    problems = check_new_hazard(new, today)
    if problems:
        field_name, reason = problems[0]
        raise InvalidInput(f"{field_name}: {reason}")
    with conn.begin_nested():
        hazard_id = insert_hazard(conn, scope, actor, new, today)
    return get_hazard(conn, scope, hazard_id)


def insert_hazard(
    conn: Connection, scope: Scope, actor: Actor, new: NewHazard, today: dt.date
) -> int:
    """Insert a checked hazard, its first history row and its audit entry; the caller owns the
    transaction (a savepoint), so a refusal here leaves nothing behind."""
    point = None
    if new.lon is not None and new.lat is not None:
        point = gf.ST_SetSRID(gf.ST_MakePoint(new.lon, new.lat), STORAGE_SRID)
    if new.unit_id is not None:
        unit = (
            conn.execute(
                select(Unit.id, Unit.town_code, Unit.village_code, Unit.geom).where(
                    Unit.id == new.unit_id, scope_clause(Unit, scope)
                )
            )
            .mappings()
            .first()
        )
        if unit is None:
            raise NotFound(f"unit_id {new.unit_id} not found in your scope (单位不存在或无权限)")
        town_code, village = unit["town_code"], unit["village_code"]
        geom = point if point is not None else unit["geom"]
    else:
        town_code = new.town_code or _only_town(scope)
        if not conn.execute(select(Town.code).where(Town.code == town_code)).first():
            raise InvalidInput(f"town_code {town_code!r} is not a known town")
        village = conn.execute(
            select(Village.code).where(
                Village.town_code == town_code, gf.ST_Intersects(Village.geom, point)
            )
        ).scalar()
        if village is None:
            raise InvalidInput("lon/lat: 位置不在本镇范围内 (outside the town; longitude first)")
        geom = point
    found_on = new.found_on or today
    values: dict[str, Any] = {
        "town_code": town_code,
        "code": _hazard_code(found_on),
        "unit_id": new.unit_id,
        "village_code": village,
        "inspection_id": new.inspection_id,
        "source": new.source,
        "category": new.category,
        "fatal_factor": new.fatal_factor,
        "level": new.level,
        "major_basis": new.major_basis,
        "description": new.description,
        "location_desc": new.location_desc,
        "found_on": found_on,
        "status": HazardStatus.REPORTED,
        # A major hazard is 挂牌督办 by the town from the day it is recorded.
        "supervised": new.level is HazardLevel.MAJOR,
        "version": 1,
        "geom": geom,
    }
    hazard_id = int(conn.execute(insert(Hazard).values(**values).returning(Hazard.id)).scalar_one())
    visible = conn.execute(
        select(Hazard.id).where(Hazard.id == hazard_id, scope_clause(Hazard, scope))
    ).first()
    if visible is None:
        raise Forbidden("隐患位置不在您的管辖范围内 (the hazard would be outside your scope)")
    details = {k: v for k, v in values.items() if k not in {"geom", "status", "version"}}
    hazard_ledger.append(
        conn,
        hazard_id=hazard_id,
        town_code=town_code,
        seq=1,
        verb="report",
        from_status=None,
        to_status=HazardStatus.REPORTED.value,
        actor=actor,
        actor_role=scope.role.value,
        details=details,
    )
    record(conn, actor, "create", "hazards", hazard_id, None, details, town_code=town_code)
    return hazard_id


def _only_town(scope: Scope) -> str:
    if scope.town_codes is not None and len(scope.town_codes) == 1:
        return next(iter(scope.town_codes))
    raise InvalidInput("town_code: 请指定乡镇 (give a town_code)")

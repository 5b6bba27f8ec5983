"""Escalation of overdue hazards (逾期督办): village → town → county by days past the deadline.

``gridsafe hazards escalate`` (cron-friendly, idempotent) raises each overdue hazard to the
level its days overdue call for, in ONE conditional UPDATE that only ever raises a level; each
raised hazard gets a history row and an audit entry, and its version moves on (a client holding
the old version must re-read it). Major hazards start at the town and are 挂牌督办 candidates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, literal, select, update

from gis.audit import Actor, record
from gis.db.models import Hazard, Unit, Village
from gis.domain import EscalationLevel, HazardLevel, HazardStatus
from gis.workflows import hazard_ledger

E = EscalationLevel
#: Days overdue from which each level applies, per hazard level (the schedule, as data).
SCHEDULE: dict[HazardLevel, tuple[tuple[int, EscalationLevel], ...]] = {
    HazardLevel.GENERAL: ((1, E.VILLAGE), (8, E.TOWN), (31, E.COUNTY)),
    HazardLevel.MAJOR: ((1, E.TOWN), (15, E.COUNTY)),
}
RANK = {E.VILLAGE: 1, E.TOWN: 2, E.COUNTY: 3}
#: Only a hazard under rectification can be overdue: later states have been handed back.
OVERDUE_STATES = (HazardStatus.RECTIFYING,)


def _days_overdue(as_of: dt.date) -> ColumnElement[int]:
    return literal(as_of) - Hazard.deadline  # type: ignore[return-value]


def _target(as_of: dt.date) -> ColumnElement[str]:
    days = _days_overdue(as_of)
    whens = []
    for level, steps in SCHEDULE.items():
        for threshold, target in sorted(steps, reverse=True):
            whens.append((and_(Hazard.level == level.value, days >= threshold), target.value))
    return case(*whens, else_=None)


def _rank(expr: Any) -> ColumnElement[int]:
    return case(*[(expr == level.value, rank) for level, rank in RANK.items()], else_=0)


def escalate(
    conn: Connection, actor: Actor, as_of: dt.date, *, town_code: str | None = None
) -> list[dict[str, Any]]:
    """Raise every overdue hazard to its level; return all overdue hazards for the notice list.

    Each row carries ``escalated`` (raised by this run) and ``listing_candidate`` (major).
    """
    target = _target(as_of)
    overdue = and_(
        Hazard.status.in_([s.value for s in OVERDUE_STATES]),
        Hazard.deadline < as_of,
        *([Hazard.town_code == town_code] if town_code else []),
    )
    raised = (
        conn.execute(
            update(Hazard)
            .where(overdue, _rank(target) > _rank(Hazard.escalation))
            .values(escalation=target, escalated_on=as_of, version=Hazard.version + 1)
            .returning(
                Hazard.id, Hazard.town_code, Hazard.version, Hazard.status, Hazard.escalation
            )
        )
        .mappings()
        .all()
    )
    for row in raised:
        details = {"escalation": row["escalation"], "as_of": as_of}
        hazard_ledger.append(
            conn,
            hazard_id=int(row["id"]),
            town_code=row["town_code"],
            seq=int(row["version"]),
            verb="escalate",
            from_status=str(row["status"]),
            to_status=str(row["status"]),
            actor=actor,
            actor_role=None,
            details=details,
        )
        record(
            conn,
            actor,
            "escalate",
            "hazards",
            row["id"],
            None,
            details,
            town_code=row["town_code"],
        )
    ids = {int(r["id"]) for r in raised}
    rows = conn.execute(
        select(
            Hazard.id,
            Hazard.code,
            Hazard.town_code,
            Unit.name.label("unit_name"),
            Village.name.label("village_name"),
            Hazard.category,
            Hazard.level,
            Hazard.description,
            Hazard.found_on,
            Hazard.deadline,
            _days_overdue(as_of).label("days_overdue"),
            Hazard.escalation,
            Hazard.status,
        )
        .outerjoin(Unit, Unit.id == Hazard.unit_id)
        .outerjoin(Village, Village.code == Hazard.village_code)
        .where(overdue)
        .order_by(Hazard.deadline, Hazard.id)
    ).mappings()
    return [
        {
            **row,
            "escalated": int(row["id"]) in ids,
            "listing_candidate": row["level"] == HazardLevel.MAJOR,
        }
        for row in rows
    ]

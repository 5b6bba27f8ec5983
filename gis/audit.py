"""The audit trail: one ``record`` call per write, into a table the database keeps append-only."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, insert, select

from gis.access import Scope, scope_clause
from gis.db.access_models import AuditLog

#: Columns never copied into the log: secrets, and geometry (bulky, kept by the table itself).
REDACTED = frozenset({"password_hash", "geom"})


@dataclass(frozen=True)
class Actor:
    """Who performs a write: an account (from the request) or a named system process."""

    username: str
    account_id: int | None = None
    town_code: str | None = None
    ip: str | None = None
    request_id: str | None = None

    @classmethod
    def system(cls, name: str, town_code: str | None = None) -> Actor:
        """The CLI or a background job, e.g. ``Actor.system("cli:create-admin")``."""
        return cls(username=name, town_code=town_code)

    @classmethod
    def of(cls, scope: Scope, *, ip: str | None = None, request_id: str | None = None) -> Actor:
        """The account behind a request scope (anonymous public reports included)."""
        town = (
            next(iter(scope.town_codes))
            if scope.town_codes and len(scope.town_codes) == 1
            else None
        )
        return cls(
            username=scope.username or "anonymous",
            account_id=scope.account_id,
            town_code=town,
            ip=ip,
            request_id=request_id or uuid.uuid4().hex,
        )


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)


def snapshot(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A row as JSON for the log, without secrets or geometry."""
    if row is None:
        return None
    return {str(k): _jsonable(v) for k, v in row.items() if k not in REDACTED}


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    table: str,
    key: object,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    town_code: str | None = None,
) -> int:
    """Append one entry to the audit log in the caller's transaction; returns its id.

    Call it from every write path, inside the same transaction as the write, so the entry
    exists exactly when the write does. ``town_code`` defaults to the actor's town.

    Examples
    --------
    >>> record(conn, actor, "deactivate", "accounts", 7, {"active": True}, {"active": False})
    ... # doctest: +SKIP
    """
    values = {
        "town_code": town_code or actor.town_code,
        "actor_account_id": actor.account_id,
        "actor": actor.username[:64],
        "action": action[:32],
        "table_name": table[:64],
        "row_key": None if key is None else str(key)[:100],
        "before": snapshot(before),
        "after": snapshot(after),
        "request_id": actor.request_id,
        "ip": actor.ip,
    }
    return int(conn.execute(insert(AuditLog).values(**values).returning(AuditLog.id)).scalar_one())


def audit_select(
    scope: Scope,
    *,
    table: str | None = None,
    action: str | None = None,
    actor: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[*tuple[Any, ...]]:
    """Entries ``scope`` may read (town admins: their town), newest first."""
    clauses: list[ColumnElement[bool]] = [scope_clause(AuditLog, scope)]
    if table is not None:
        clauses.append(AuditLog.table_name == table)
    if action is not None:
        clauses.append(AuditLog.action == action)
    if actor is not None:
        clauses.append(AuditLog.actor == actor)
    if since is not None:
        clauses.append(AuditLog.at >= since)
    if until is not None:
        clauses.append(AuditLog.at < until)
    return select(AuditLog).where(and_(*clauses)).order_by(AuditLog.id.desc())

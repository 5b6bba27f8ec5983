"""Audit log entries as the API shows them to the town safety office."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class AuditEntry(BaseModel):
    id: int
    at: dt.datetime
    town_code: str | None
    actor_account_id: int | None
    actor: str
    action: str
    table_name: str
    row_key: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    ip: str | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    limit: int
    offset: int

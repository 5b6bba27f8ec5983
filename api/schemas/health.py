"""Health report schema."""

from __future__ import annotations

from pydantic import BaseModel


class Health(BaseModel):
    status: str
    database: str
    schema_revision: str | None = None
    towns: int | None = None
    detail: str | None = None

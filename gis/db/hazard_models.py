"""The hazard history (隐患闭环记录): one hash-chained, append-only row per transition."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import Base


class HazardHistory(Base):
    """Who moved which hazard from which state to which, when, with what details.

    Row ``seq`` of a hazard holds the SHA-256 of its own content and the hash of row ``seq - 1``
    (``prev_hash``), so a changed or deleted row breaks the chain (``gridsafe hazards verify``).
    A trigger (migration 0006) also refuses UPDATE, DELETE and TRUNCATE, as on ``audit_log``.
    """

    __tablename__ = "hazard_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    town_code: Mapped[str] = mapped_column(String(12), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    verb: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("hazard_id", "seq", name="uq_hazard_history_hazard_seq"),)

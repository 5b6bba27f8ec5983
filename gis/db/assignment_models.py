"""assignment_runs: one row per written assignment run (objective, gap, timings, author)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Float, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import Base


class AssignmentRun(Base):
    """An assignment run that wrote responsibility records, kept for audit."""

    __tablename__ = "assignment_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    town_code: Mapped[str] = mapped_column(ForeignKey("towns.code"), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    author: Mapped[str | None] = mapped_column(String(100))
    required: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer)
    changes: Mapped[int] = mapped_column(Integer)
    travel_s: Mapped[int] = mapped_column(BigInteger)
    travel_bound_s: Mapped[float] = mapped_column(Float)
    gap: Mapped[float] = mapped_column(Float)
    seconds: Mapped[dict[str, Any]] = mapped_column(JSONB)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB)

"""The hazard history (隐患闭环记录): one hash-chained, append-only row per transition."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.db.models import Base, enum_column
from gis.domain import PhotoKind


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


class HazardPhoto(Base):
    """A photo of a hazard, before or after rectification, stored once by its SHA-256.

    The file lives under ``<data_dir>/photos/<sha[:2]>/<sha>.<ext>``; the row says which hazard
    it shows, what it is (checked by content) and when and where it was taken, if it says so.
    """

    __tablename__ = "hazard_photos"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id"), index=True)
    town_code: Mapped[str] = mapped_column(String(12), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[PhotoKind] = mapped_column(enum_column(PhotoKind, "photo_kind"))
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("hazard_id", "sha256", name="uq_hazard_photos_hazard_sha"),)

"""Tables of accounts, revoked tokens and the append-only audit log (issue 4: access and audit).

They live apart from ``gis.db.models`` so the town-data schema and the access schema can evolve in
separate migrations (``0002_accounts_audit``); they share its ``Base`` and naming convention.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.access import Role
from gis.db.models import Base, enum_column

#: Which scope column each role needs (and only that role may use).
ROLE_CHECK = (
    "(role = 'county_office' AND county_code IS NOT NULL AND town_code IS NULL)"
    " OR (role <> 'county_office' AND town_code IS NOT NULL AND county_code IS NULL)"
)


class Account(Base):
    """A person who signs in; the role and the scope columns decide what they may see."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    #: Unique regardless of case (``uq_accounts_username_lower``); sign-in matches it likewise.
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "account_role"))
    display_name: Mapped[str | None] = mapped_column(String(50))
    #: County office accounts see every town of ``county_code``; everyone else one town.
    county_code: Mapped[str | None] = mapped_column(String(12))
    town_code: Mapped[str | None] = mapped_column(ForeignKey("towns.code"), index=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("villages.code"))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Demo accounts (known password) can sign in only while the service runs in demo mode.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Bumped on deactivation or password change: every token issued before stops working.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(ROLE_CHECK, name="role_area"),
        CheckConstraint("role <> 'grid_chief' OR village_code IS NOT NULL", name="chief_village"),
        CheckConstraint(
            "role <> 'department' OR department_code IS NOT NULL", name="department_code"
        ),
        CheckConstraint("role <> 'inspector' OR staff_id IS NOT NULL", name="inspector_staff"),
        CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{3,64}$'", name="username_chars"),
        # `DEMO-TOWN` beside `demo-town` would be two accounts a person cannot tell apart.
        Index("uq_accounts_username_lower", func.lower(username), unique=True),
    )


class LoginThrottle(Base):
    """Failed sign-ins per client address in the current window (migration 0004).

    In the database, so every worker process counts into the same row; each attempt takes its
    slot with one atomic upsert before any password is checked.
    """

    __tablename__ = "login_throttle"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)


class RevokedToken(Base):
    """Tokens signed out before they expired; rows past ``expires_at`` may be purged."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AuditLog(Base):
    """Who did what to which row, when, with the row before and after.

    Append-only in the database: a trigger (migration 0002) raises on UPDATE, DELETE and
    TRUNCATE, so not even a bug or a compromised service account can rewrite history.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp(), index=True
    )
    #: The town whose data was touched (or the actor's town): what a town admin may read.
    town_code: Mapped[str | None] = mapped_column(String(12), index=True)
    #: No foreign key: the log must outlive anything it mentions.
    actor_account_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))

"""Sign-in under attack: per-client throttle, per-account lockout, one answer for every refusal.

Both counters are taken with one atomic SQL statement *before* any password is checked, so
parallel guesses cannot all pass a check made on a stale read (the review reproduced 40 parallel
guesses ending at ``failed_logins = 2``):

* the client's slot: an upsert into ``login_throttle`` that counts the attempt as a failure and
  refuses (429) once the address has used ``THROTTLE_FAILURES`` in the window;
* the account's slot: ``UPDATE accounts SET failed_logins = failed_logins + 1 … WHERE not locked
  RETURNING …``, which also sets the lock on the ``MAX_FAILED_LOGINS``-th attempt. No row back
  means unknown or locked: nothing is verified against the real hash.

The row locks those statements take are held until the request commits, so attempts on one
account (or from one address) queue behind each other instead of racing. A correct password
gives both slots back. Unknown, locked and wrong-password attempts get the same message after
the same work (one argon2 verification, against a dummy hash when there is no real one).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gis.audit import Actor, record
from gis.auth import dummy_hash, needs_rehash, rehash_password, verify_password
from gis.db.access_models import Account, LoginThrottle
from gis.workflows.accounts import Principal, principal_of_row

#: Failed sign-ins in a row that lock an account, and for how long.
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
#: Failed sign-ins one client address may make per window before it gets 429.
THROTTLE_FAILURES = 10
THROTTLE_WINDOW = dt.timedelta(minutes=15)
#: The one answer to an unknown username, a locked account and a wrong password alike.
WRONG_CREDENTIALS = "用户名或密码错误 (wrong username or password)"


@dataclass(frozen=True)
class LoginOutcome:
    """The result of a sign-in attempt; failures are returned, not raised, so the caller's
    transaction commits the counters and the audit entry before answering 401 or 429."""

    principal: Principal | None
    reason: str | None = None
    #: Set when the client address is throttled: seconds until it may try again.
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.principal is not None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def client_key(address: str | None) -> str:
    """What the throttle counts per: an IPv4 address, or the /64 network of an IPv6 one (a
    single host usually holds a whole /64, and could otherwise rotate through it)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "unknown")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _purge_expired(conn: Connection, now: dt.datetime) -> None:
    """Forget a few addresses whose window is over, skipping rows other attempts hold."""
    table = LoginThrottle.__table__
    stale = (
        select(table.c.client)
        .where(table.c.window_start <= now - THROTTLE_WINDOW)
        .limit(50)
        .with_for_update(skip_locked=True)
    )
    conn.execute(delete(LoginThrottle).where(LoginThrottle.client.in_(stale.scalar_subquery())))


def _take_client_slot(conn: Connection, client: str, now: dt.datetime) -> int | None:
    """Count one attempt for ``client``; None when it has no attempts left in its window."""
    table = LoginThrottle.__table__
    expired = table.c.window_start <= now - THROTTLE_WINDOW
    stmt = pg_insert(LoginThrottle).values(client=client, window_start=now, failures=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LoginThrottle.client],
        set_={
            "window_start": case((expired, now), else_=table.c.window_start),
            "failures": case((expired, 1), else_=table.c.failures + 1),
        },
        # The conflicting row is locked even when this refuses the update, so the follow-up
        # read of its window below is consistent.
        where=or_(expired, table.c.failures < THROTTLE_FAILURES),
    )
    taken = conn.execute(stmt.returning(LoginThrottle.failures)).scalar()
    return None if taken is None else int(taken)


def _retry_after(conn: Connection, client: str, now: dt.datetime) -> int:
    start = conn.execute(
        select(LoginThrottle.window_start).where(LoginThrottle.client == client)
    ).scalar_one()
    # ``now`` was read before this request waited for the row's lock, so a window opened by a
    # request that read its clock later can end more than one window after ``now``: clamp.
    left = math.ceil((start + THROTTLE_WINDOW - now).total_seconds())
    return min(max(1, left), int(THROTTLE_WINDOW.total_seconds()))


def _take_account_slot(conn: Connection, username: str, now: dt.datetime) -> Row[Any] | None:
    """Count one attempt against the account unless it is locked; its row (new counts) or None."""
    lock_over = Account.locked_until.is_not(None) & (Account.locked_until <= now)
    attempts = case((lock_over, 0), else_=Account.failed_logins) + 1
    return conn.execute(
        update(Account)
        .where(
            func.lower(Account.username) == func.lower(literal(username)),
            or_(Account.locked_until.is_(None), Account.locked_until <= now),
        )
        .values(
            failed_logins=attempts,
            locked_until=case((attempts >= MAX_FAILED_LOGINS, now + LOCKOUT), else_=None),
        )
        .returning(*Account.__table__.columns)
    ).first()


def authenticate(
    conn: Connection,
    username: str,
    password: str,
    *,
    actor: Actor,
    allow_demo: bool,
    now: dt.datetime | None = None,
) -> LoginOutcome:
    """Check a username (any case) and password, with throttling and lockout.

    The reason given to the caller never says whether the username exists or is locked.
    """
    now = now or _now()
    client = client_key(actor.ip)
    _purge_expired(conn, now)
    used = _take_client_slot(conn, client, now)
    if used is None:
        wait = _retry_after(conn, client, now)
        minutes = math.ceil(wait / 60)
        return LoginOutcome(
            None,
            f"登录失败次数过多，请 {minutes} 分钟后再试 (too many failed sign-ins from this "
            "address; try again later)",
            retry_after=wait,
        )
    row = _take_account_slot(conn, username, now)
    if row is None:
        verify_password(dummy_hash(), password)  # the same work as a real check
        known = conn.execute(
            select(Account.id, Account.town_code).where(
                func.lower(Account.username) == func.lower(literal(username))
            )
        ).first()
        if known is None:
            record(
                conn, actor, "login_failed", "accounts", username[:100], None, {"reason": "unknown"}
            )
        else:
            record(
                conn,
                actor,
                "login_refused",
                "accounts",
                known.id,
                None,
                {"reason": "locked"},
                town_code=known.town_code,
            )
        _note_throttle(conn, actor, client, used)
        return LoginOutcome(None, WRONG_CREDENTIALS)
    if not verify_password(row.password_hash, password):
        locks = row.failed_logins >= MAX_FAILED_LOGINS
        record(
            conn,
            actor,
            "lockout" if locks else "login_failed",
            "accounts",
            row.id,
            None,
            {"failed_logins": row.failed_logins},
            town_code=row.town_code,
        )
        _note_throttle(conn, actor, client, used)
        return LoginOutcome(None, WRONG_CREDENTIALS)
    # The right password: give back both slots taken for this attempt.
    conn.execute(
        update(LoginThrottle)
        .where(LoginThrottle.client == client)
        .values(failures=func.greatest(LoginThrottle.failures - 1, 0))
    )
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
    if needs_rehash(row.password_hash):
        values["password_hash"] = rehash_password(password)
    conn.execute(update(Account).where(Account.id == row.id).values(**values))
    refusal = None
    if not row.active:
        refusal = ("inactive", "账号已停用 (account disabled)")
    elif row.is_demo and not allow_demo:
        refusal = ("demo", "演示账号仅在演示模式下可用 (demo accounts work in demo mode only)")
    if refusal is not None:
        record(
            conn,
            actor,
            "login_refused",
            "accounts",
            row.id,
            None,
            {"reason": refusal[0]},
            town_code=row.town_code,
        )
        return LoginOutcome(None, refusal[1])
    record(conn, actor, "login", "accounts", row.id, None, None, town_code=row.town_code)
    return LoginOutcome(principal_of_row(row._mapping))


def _note_throttle(conn: Connection, actor: Actor, client: str, used: int) -> None:
    """Audit the moment an address uses its last attempt of the window (once, not per 429)."""
    if used == THROTTLE_FAILURES:
        record(
            conn,
            actor,
            "login_throttled",
            "login_throttle",
            client,
            None,
            {"failures": used, "window_minutes": THROTTLE_WINDOW.total_seconds() // 60},
        )

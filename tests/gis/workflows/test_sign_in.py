"""Sign-in under attack against the real database: parallel guesses, lockout, throttle, unlock.

These tests commit (each guess in its own transaction, as the service runs them), so they use
their own account and client addresses and delete what they created afterwards.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, delete, select

from gis.access import Role, Scope
from gis.audit import Actor
from gis.auth import dummy_hash
from gis.db.access_models import Account, LoginThrottle
from gis.workflows import sign_in
from gis.workflows.accounts import unlock_account
from gis.workflows.sign_in import (
    MAX_FAILED_LOGINS,
    THROTTLE_FAILURES,
    WRONG_CREDENTIALS,
    authenticate,
)
from tests.accounts import TEST_PASSWORD, make_account
from tests.conftest import DEMO_TOWN

PARALLEL = 50


@pytest.fixture
def wide_engine(db_url: str, db_engine: Engine) -> Iterator[Engine]:
    """An engine with a connection per guess, so all of them really run at once."""
    engine = create_engine(db_url, pool_size=PARALLEL, max_overflow=0)
    yield engine
    engine.dispose()


@pytest.fixture
def committed_account(wide_engine: Engine) -> Iterator[dict[str, Any]]:
    name = f"race-{uuid.uuid4().hex[:10]}"
    with wide_engine.begin() as conn:
        account = make_account(conn, Role.TOWN_ADMIN, username=name, town_code=DEMO_TOWN)
    yield account
    with wide_engine.begin() as conn:
        conn.execute(delete(LoginThrottle).where(LoginThrottle.client.like(f"{name}-%")))
        conn.execute(delete(Account).where(Account.id == account["id"]))


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification sign-in makes: 'real' against a stored hash, else 'dummy'."""
    seen: list[str] = []
    lock = threading.Lock()
    real_verify: Callable[[str, str], bool] = sign_in.verify_password

    def counting(stored_hash: str, password: str) -> bool:
        with lock:
            seen.append("dummy" if stored_hash == dummy_hash() else "real")
        return real_verify(stored_hash, password)

    monkeypatch.setattr(sign_in, "verify_password", counting)
    return seen


def _attempt(engine: Engine, username: str, password: str, client: str) -> sign_in.LoginOutcome:
    actor = Actor(username=username, ip=client)
    with engine.begin() as conn:  # one transaction per request, as get_conn gives the service
        return authenticate(conn, username, password, actor=actor, allow_demo=False)


def _state(engine: Engine, account_id: int) -> tuple[int, dt.datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(Account.failed_logins, Account.locked_until).where(Account.id == account_id)
        ).one()
    return int(row.failed_logins), row.locked_until


def test_parallel_guesses_lock_after_exactly_five_verifications(
    wide_engine: Engine, committed_account: dict[str, Any], verifications: list[str]
) -> None:
    name = committed_account["username"]
    start = threading.Barrier(PARALLEL)

    def guess(i: int) -> sign_in.LoginOutcome:
        start.wait()
        # A different address per guess: the account's own lock must hold, not the throttle.
        return _attempt(wide_engine, name, f"wrong guess {i:03d}", f"{name}-{i}")

    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(pool.map(guess, range(PARALLEL)))

    assert all(o.principal is None and o.reason == WRONG_CREDENTIALS for o in outcomes)
    assert verifications.count("real") == MAX_FAILED_LOGINS
    assert verifications.count("dummy") == PARALLEL - MAX_FAILED_LOGINS  # same work, no secret
    failed, locked_until = _state(wide_engine, committed_account["id"])
    assert failed == MAX_FAILED_LOGINS
    assert locked_until is not None and locked_until > dt.datetime.now(dt.UTC)

    # Locked: the right password is refused (and not even checked against the real hash).
    refused = _attempt(wide_engine, name, TEST_PASSWORD, f"{name}-owner")
    assert refused.principal is None and refused.reason == WRONG_CREDENTIALS
    assert verifications.count("real") == MAX_FAILED_LOGINS

    with wide_engine.begin() as conn:
        unlock_account(
            conn, Scope.unrestricted(), Actor.system("test"), int(committed_account["id"])
        )
    assert _state(wide_engine, committed_account["id"]) == (0, None)
    welcome = _attempt(wide_engine, name.upper(), TEST_PASSWORD, f"{name}-owner")
    assert welcome.principal is not None and welcome.principal.username == name


def test_parallel_guesses_from_one_address_are_throttled_atomically(
    wide_engine: Engine, committed_account: dict[str, Any], verifications: list[str]
) -> None:
    name = committed_account["username"]
    client = f"{name}-one-address"
    start = threading.Barrier(PARALLEL)

    def guess(i: int) -> sign_in.LoginOutcome:
        start.wait()
        # Unknown usernames: only the address's budget stands between these and argon2.
        return _attempt(wide_engine, f"{name}-nobody-{i}", "wrong guess", client)

    with ThreadPoolExecutor(PARALLEL) as pool:
        outcomes = list(pool.map(guess, range(PARALLEL)))

    throttled = [o for o in outcomes if o.retry_after is not None]
    assert len(throttled) == PARALLEL - THROTTLE_FAILURES
    assert all(0 < o.retry_after <= 15 * 60 for o in throttled)  # type: ignore[operator]
    assert len(verifications) == THROTTLE_FAILURES  # a throttled attempt costs no hashing
    with wide_engine.connect() as conn:
        used = conn.execute(
            select(LoginThrottle.failures).where(LoginThrottle.client == client)
        ).scalar_one()
    assert used == THROTTLE_FAILURES
    # Another address is not affected.
    other = _attempt(wide_engine, name, TEST_PASSWORD, f"{name}-elsewhere")
    assert other.principal is not None


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:1:2:3", "2001:db8:1:2::/64"),  # same host network, same budget
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_the_throttle_counts_per_address_or_ipv6_network(address: str | None, key: str) -> None:
    assert sign_in.client_key(address) == key


def test_expired_throttle_windows_are_forgotten(db_conn: Any) -> None:
    old = dt.datetime.now(dt.UTC) - 2 * sign_in.THROTTLE_WINDOW
    db_conn.execute(
        LoginThrottle.__table__.insert().values(client="198.51.100.9", window_start=old, failures=3)
    )
    authenticate(
        db_conn,
        "nobody-at-all",
        "wrong guess",
        actor=Actor(username="x", ip="198.51.100.10"),
        allow_demo=False,
    )
    clients = set(db_conn.execute(select(LoginThrottle.client)).scalars())
    assert "198.51.100.9" not in clients and "198.51.100.10" in clients

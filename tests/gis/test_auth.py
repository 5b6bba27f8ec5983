"""Passwords and tokens without a database: argon2 hashes, signatures, expiry."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest

import gis.auth
from gis.auth import (
    HASH_CONCURRENCY,
    TOKEN_LIFETIME,
    check_password_strength,
    decode_token,
    hash_password,
    issue_token,
    verify_password,
)
from gis.errors import InvalidInput, Unauthenticated
from gis.settings import DEFAULT_SECRET

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def test_password_hash_is_salted_argon2id_and_verifies() -> None:
    first, second = hash_password("gridsafe-demo"), hash_password("gridsafe-demo")
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert verify_password(first, "gridsafe-demo")
    assert not verify_password(first, "gridsafe-demO")
    assert not verify_password("not a hash", "gridsafe-demo")  # never raises
    assert "gridsafe-demo" not in first


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "长度"),
        ("x" * 300, "长度"),
        (" padded-password ", "空格"),
        ("password", "常见"),
        ("12345678", "常见"),
        ("Password123!", "常见"),  # a common word with the usual suffix
        ("woaini1314", "常见"),
        ("98765432", "只由"),  # all digits
        ("zqxjkvbwpm", "只由"),  # all lower case
        ("ZQXJKVBWPM", "只由"),
        ("!@#$%^&*()", "只由"),
        ("abcdefgh9", "常见|连续|重复"),
        ("hgfedcba", "只由"),
        ("qwertyuiop[", "常见|连续|重复"),
        ("Abcdefghij", "连续"),
        ("ab12ab12ab12", "重复"),
        ("a1a1a1a1a1", "重复"),
    ],
)
def test_weak_or_absurd_passwords_are_refused_with_a_reason(password: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why):
        check_password_strength(password)


def test_a_password_equal_to_the_username_is_refused_in_any_case() -> None:
    with pytest.raises(InvalidInput, match="用户名"):
        check_password_strength("Chief-201x", "chief-201X")
    check_password_strength("Chief-201x but longer", "chief-201x")


@pytest.mark.parametrize(
    "password", ["gridsafe-demo", "correct horse battery", "a long passphrase", "Xq7#mP2v"]
)
def test_reasonable_passwords_pass(password: str) -> None:
    check_password_strength(password, "demo-town")


def test_hashing_runs_at_most_a_few_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forty parallel sign-ins must not hold forty 64 MiB argon2 buffers at once."""
    active = peak = 0
    lock = threading.Lock()

    class Recording:
        def verify(self, stored_hash: str, password: str) -> bool:
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.02)
            with lock:
                active -= 1
            return True

        def hash(self, password: str) -> str:
            self.verify("", password)
            return "$argon2id$recorded"

    recording: Any = Recording()
    monkeypatch.setattr(gis.auth, "_hasher", lambda: recording)
    with ThreadPoolExecutor(40) as pool:
        list(pool.map(lambda i: verify_password("h", f"pw-{i}"), range(40)))
        list(pool.map(lambda i: hash_password(f"Xq7#mP2v-{i}"), range(40)))
    assert 1 < peak <= HASH_CONCURRENCY


def test_tokens_signed_with_the_published_default_are_refused() -> None:
    """A key anyone can read in the old README signs nothing and verifies nothing."""
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": "gridsafe", "sub": "1", "ver": 0, "jti": "x" * 32, "iat": now}
    forged = jwt.encode({**claims, "exp": now + TOKEN_LIFETIME}, DEFAULT_SECRET, "HS256")
    with pytest.raises(Unauthenticated):
        decode_token(forged, DEFAULT_SECRET)
    with pytest.raises(ValueError, match="default"):
        issue_token(1, 0, DEFAULT_SECRET)


def test_token_round_trip_carries_account_version_and_jti() -> None:
    token, claims = issue_token(42, 3, SECRET)
    decoded = decode_token(token, SECRET)
    assert decoded == claims
    assert (decoded.account_id, decoded.token_version) == (42, 3)
    assert len(decoded.jti) == 32
    assert decoded.expires_at - decoded.issued_at == TOKEN_LIFETIME
    assert issue_token(42, 3, SECRET)[1].jti != claims.jti


def test_token_expires() -> None:
    issued = dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)
    token, _ = issue_token(1, 0, SECRET, now=issued)
    just_before = issued + TOKEN_LIFETIME - dt.timedelta(seconds=1)
    assert decode_token(token, SECRET, now=just_before).account_id == 1
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(token, SECRET, now=issued + TOKEN_LIFETIME)
    # And against the real clock: a token that expired long ago.
    with pytest.raises(Unauthenticated, match="expired"):
        decode_token(token, SECRET)


def test_forged_tokens_are_refused() -> None:
    token, _ = issue_token(1, 0, SECRET)
    with pytest.raises(Unauthenticated):
        decode_token(token, "another-secret-that-is-long-enough-too")
    payload = jwt.decode(token, options={"verify_signature": False})
    unsigned = jwt.encode({**payload, "sub": "2"}, key=None, algorithm="none")
    with pytest.raises(Unauthenticated):
        decode_token(unsigned, SECRET)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(Unauthenticated):
        decode_token(tampered, SECRET)
    with pytest.raises(Unauthenticated):
        decode_token("not-a-token", SECRET)

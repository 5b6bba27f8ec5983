"""Passwords and tokens without a database: argon2 hashes, signatures, expiry."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest

from gis.auth import (
    TOKEN_LIFETIME,
    check_password_strength,
    decode_token,
    hash_password,
    issue_token,
    verify_password,
)
from gis.errors import InvalidInput, Unauthenticated

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def test_password_hash_is_salted_argon2id_and_verifies() -> None:
    first, second = hash_password("gridsafe-demo"), hash_password("gridsafe-demo")
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert verify_password(first, "gridsafe-demo")
    assert not verify_password(first, "gridsafe-demO")
    assert not verify_password("not a hash", "gridsafe-demo")  # never raises
    assert "gridsafe-demo" not in first


@pytest.mark.parametrize("password", ["short", "aaaaaaaaaaaa", " padded-password ", "x" * 300])
def test_weak_or_absurd_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput):
        check_password_strength(password)


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

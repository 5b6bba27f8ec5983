"""Credentials without a database: argon2 password hashes and signed, expiring access tokens.

Tokens are HS256 JWTs signed with ``Settings.secret_key``. Each carries a random ``jti`` (so a
single token can be revoked at logout) and the account's ``token_version`` (so deactivating an
account or changing its password revokes every token at once). Checking those two against the
database is the caller's job (``gis.workflows.accounts.principal_for_token``).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from data import REFERENCE_DIR
from gis.errors import InvalidInput, Unauthenticated
from gis.settings import DEFAULT_SECRET

if TYPE_CHECKING:
    from jwt.types import Options

TOKEN_LIFETIME = dt.timedelta(hours=8)
ALGORITHM = "HS256"
ISSUER = "gridsafe"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
#: Argon2 hashes computed at once in this process. Each takes 64 MiB for ~50 ms; forty parallel
#: sign-ins in the 40-thread pool took the service from 390 MB to 2.2 GB. Two at a time keep the
#: peak at 128 MiB of hashing while still using both cores of a small server.
HASH_CONCURRENCY = 2
COMMON_PASSWORDS_FILE = REFERENCE_DIR / "common_passwords.csv"
#: Keyboard rows and alphabets: a password that is a run of one of these is a sequence.
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)


@lru_cache
def _hasher() -> PasswordHasher:
    # RFC 9106 "low memory" profile (argon2id, t=3, m=64 MiB): argon2-cffi's default.
    return PasswordHasher()


@lru_cache
def _hash_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(HASH_CONCURRENCY)


@contextmanager
def _hashing() -> Iterator[None]:
    """Hold one of the process's few hashing slots (the route threads wait here, not in RAM)."""
    with _hash_slots():
        yield


@lru_cache
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords every guesser tries first (lower case)."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8", newline="") as handle:
        return frozenset(row["password"].strip().lower() for row in csv.DictReader(handle))


def _is_sequence(text: str) -> bool:
    """A run along the alphabet or a keyboard row, either way (``abcdefgh``, ``87654321``)."""
    return any(text in seq or text in seq[::-1] for seq in _SEQUENCES)


def _is_repetition(text: str) -> bool:
    """One short unit repeated (``abcabcabc``, ``12121212``)."""
    return re.fullmatch(r"(.{1,4})\1+.{0,3}", text) is not None


def _is_patterned(text: str) -> bool:
    """A sequence or repetition, whole or in runs covering most of it (``abcd1234``)."""
    if _is_sequence(text) or _is_repetition(text):
        return True
    runs = re.findall(r"[a-z]+|[0-9]+|[^a-z0-9]+", text)
    covered = sum(
        len(run) for run in runs if len(run) >= 3 and (_is_sequence(run) or _is_repetition(run))
    )
    return covered >= 0.75 * len(text)


def check_password_strength(password: str, username: str | None = None) -> None:
    """Refuse passwords a guesser tries first: too short, common, one kind of character,
    a sequence or repetition, or the username itself; and overlong ones (a hashing DoS)."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be {MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} characters "
            f"(密码长度须为 {MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} 位)"
        )
    folded = password.lower()
    if password.strip() != password:
        raise InvalidInput("password must not start or end with a space (密码首尾不能是空格)")
    if username and folded in {username.lower(), username.lower()[::-1]}:
        raise InvalidInput("password must differ from the username (密码不能与用户名相同)")
    # A common password with digits or punctuation stuck on is as weak ("password123!").
    stem = folded.rstrip("0123456789!@#$%^&*.?_-")
    if folded in common_passwords() or (len(stem) >= 4 and stem in common_passwords()):
        raise InvalidInput("password is too common (密码过于常见，容易被猜中，请换一个)")
    classes = (str.isdigit, str.islower, str.isupper, lambda c: not c.isalnum())
    if any(all(kind(c) for c in password) for kind in classes):
        raise InvalidInput(
            "password uses one kind of character only "
            "(密码不能只由数字、或只由小写字母、或只由大写字母、或只由符号组成)"
        )
    if _is_patterned(folded) or len(set(password)) < 4:
        raise InvalidInput(
            "password is a sequence or repetition (密码不能是连续或重复的字符，如 abcd1234、121212)"
        )


def hash_password(password: str, username: str | None = None) -> str:
    """An argon2id hash of ``password`` with a fresh salt; checks the strength first."""
    check_password_strength(password, username)
    return rehash_password(password)


def rehash_password(password: str) -> str:
    """A fresh argon2id hash of a password already in use (no strength check: it signed in)."""
    with _hashing():
        return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises on a malformed hash or a mismatch."""
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]  # still verify: equal work for every answer
        stored_hash = dummy_hash()
    try:
        with _hashing():
            return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


@lru_cache
def dummy_hash() -> str:
    """A hash to verify against when the account is unknown or locked, so timing does not tell."""
    return _hasher().hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: whose it is, which issue of it, until when."""

    account_id: int
    token_version: int
    jti: str
    issued_at: dt.datetime
    expires_at: dt.datetime


def issue_token(
    account_id: int,
    token_version: int,
    secret: str,
    *,
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = TOKEN_LIFETIME,
) -> tuple[str, TokenClaims]:
    """A signed access token for an account, and the claims it carries."""
    if not secret or secret == DEFAULT_SECRET:
        raise ValueError("refusing to sign with a missing or the published default secret")
    now = now or dt.datetime.now(dt.UTC)
    claims = TokenClaims(
        account_id=account_id,
        token_version=token_version,
        jti=secrets.token_hex(16),
        issued_at=now.replace(microsecond=0),
        expires_at=(now + lifetime).replace(microsecond=0),
    )
    payload = {
        "iss": ISSUER,
        "sub": str(account_id),
        "ver": token_version,
        "jti": claims.jti,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_token(token: str, secret: str, *, now: dt.datetime | None = None) -> TokenClaims:
    """The claims of a token signed with ``secret``; Unauthenticated if forged or expired.

    The published default secret is never a key: a token it verifies is forged by definition.
    """
    if not secret or secret == DEFAULT_SECRET:
        raise Unauthenticated("invalid token (无效的登录凭据)")
    options: Options = {"require": ["exp", "iat", "sub", "jti", "iss"], "verify_iat": False}
    try:
        if now is None:
            payload = jwt.decode(
                token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options=options
            )
        else:
            # Expiry against an explicit clock (tests): decode without it, then compare.
            payload = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={**options, "verify_exp": False},
            )
            if now.timestamp() >= float(payload["exp"]):
                raise jwt.ExpiredSignatureError("token expired")
        return TokenClaims(
            account_id=int(payload["sub"]),
            token_version=int(payload.get("ver", 0)),
            jti=str(payload["jti"]),
            issued_at=dt.datetime.fromtimestamp(float(payload["iat"]), dt.UTC),
            expires_at=dt.datetime.fromtimestamp(float(payload["exp"]), dt.UTC),
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("token expired; sign in again (登录已过期，请重新登录)") from exc
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        raise Unauthenticated("invalid token (无效的登录凭据)") from exc

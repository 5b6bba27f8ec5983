"""Credentials without a database: argon2 password hashes and signed, expiring access tokens.

Tokens are HS256 JWTs signed with ``Settings.secret_key``. Each carries a random ``jti`` (so a
single token can be revoked at logout) and the account's ``token_version`` (so deactivating an
account or changing its password revokes every token at once). Checking those two against the
database is the caller's job (``gis.workflows.accounts.principal_for_token``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gis.errors import InvalidInput, Unauthenticated

if TYPE_CHECKING:
    from jwt.types import Options

TOKEN_LIFETIME = dt.timedelta(hours=8)
ALGORITHM = "HS256"
ISSUER = "gridsafe"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256


@lru_cache
def _hasher() -> PasswordHasher:
    # RFC 9106 "low memory" profile (argon2id, t=3, m=64 MiB): argon2-cffi's default.
    return PasswordHasher()


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing, or long enough to be a DoS vector."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"password must be {MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} characters "
            f"(密码长度须为 {MIN_PASSWORD_LENGTH}–{MAX_PASSWORD_LENGTH} 位)"
        )
    if password.strip() != password or len(set(password)) < 4:
        raise InvalidInput("password is too simple (密码过于简单)")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with a fresh salt; checks the strength first."""
    check_password_strength(password)
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises on a malformed hash or a mismatch."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


@lru_cache
def dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so timing does not tell."""
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
    """The claims of a token signed with ``secret``; Unauthenticated if forged or expired."""
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

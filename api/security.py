"""Browser-side credentials: the session cookie and double-submit CSRF tokens.

The session cookie holds the same signed token the API hands out (so logout revokes both alike);
it is HttpOnly and SameSite=Lax, and Secure outside demo/development. State-changing requests
authenticated by the cookie must also echo the CSRF token — from the ``gridsafe_csrf`` cookie,
signed with the secret — in a form field or the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from gis.auth import TOKEN_LIFETIME
from gis.errors import Forbidden
from gis.settings import Settings

SESSION_COOKIE = "gridsafe_session"
CSRF_COOKIE = "gridsafe_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key.get_secret_value(), salt="gridsafe-csrf")


def _secure(settings: Settings) -> bool:
    return settings.mode == "production"


def new_csrf_token(settings: Settings) -> str:
    return str(_serializer(settings).dumps(secrets.token_urlsafe(16)))


def csrf_token_for(request: Request, settings: Settings) -> str:
    """The CSRF token already in the browser's cookie if it is valid, else a fresh one."""
    current = request.cookies.get(CSRF_COOKIE)
    if current and _valid(current, settings):
        return current
    return new_csrf_token(settings)


def _valid(token: str, settings: Settings) -> bool:
    try:
        _serializer(settings).loads(token, max_age=int(TOKEN_LIFETIME.total_seconds()))
    except BadSignature:
        return False
    return True


def check_csrf(request: Request, settings: Settings, submitted: str | None) -> None:
    """Refuse a state-changing browser request whose CSRF token is missing or wrong."""
    cookie = request.cookies.get(CSRF_COOKIE)
    submitted = submitted or request.headers.get(CSRF_HEADER)
    if (
        not cookie
        or not submitted
        or not hmac.compare_digest(cookie, submitted)
        or not _valid(cookie, settings)
    ):
        raise Forbidden("CSRF token missing or invalid; reload the page (页面已过期，请刷新后重试)")


def set_csrf_cookie(response: Response, token: str, settings: Settings) -> None:
    # Readable by the page's own scripts (that is the point of double-submit), never cross-site.
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=int(TOKEN_LIFETIME.total_seconds()),
        httponly=False,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(TOKEN_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")

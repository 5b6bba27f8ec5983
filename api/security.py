"""Browser-side credentials: the session cookie and CSRF tokens bound to the session.

The session cookie holds the same signed token the API hands out (so logout revokes both alike);
it is HttpOnly and SameSite=Lax, and Secure in production. State-changing requests
authenticated by the cookie must also send the CSRF token in a form field or the
``X-CSRF-Token`` header. The token is an HMAC, under the signing secret, of what identifies the
browser's session: the session token's ``jti`` once signed in, else a random pre-session id kept
in an HttpOnly cookie (for the sign-in form itself). A token therefore works in one session only:
one copied or planted from another browser (e.g. by a sibling subdomain setting cookies, which
defeats plain double-submit) does not match. The token is also put in the readable
``gridsafe_csrf`` cookie for the page's own scripts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import Request, Response

from gis.auth import TOKEN_LIFETIME, decode_token
from gis.errors import Forbidden, Unauthenticated
from gis.settings import Settings

SESSION_COOKIE = "gridsafe_session"
PRESESSION_COOKIE = "gridsafe_presession"
CSRF_COOKIE = "gridsafe_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PRESESSION_ID = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def _secure(settings: Settings) -> bool:
    return settings.mode == "production"


def _binding(request: Request, settings: Settings) -> str | None:
    """What the browser's CSRF token must be bound to: its session, else its pre-session."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        try:
            return "session:" + decode_token(session, settings.signing_secret()).jti
        except Unauthenticated:
            pass  # an expired or forged cookie is no session; the sign-in form falls back
    presession = request.cookies.get(PRESESSION_COOKIE)
    if presession and _PRESESSION_ID.match(presession):
        return "pre:" + presession
    return None


def _mac(settings: Settings, binding: str) -> str:
    key = settings.signing_secret().encode()
    return hmac.new(key, b"gridsafe-csrf\0" + binding.encode(), hashlib.sha256).hexdigest()


def session_csrf_token(settings: Settings, jti: str) -> str:
    """The CSRF token of the session whose token carries ``jti`` (set right after sign-in)."""
    return _mac(settings, "session:" + jti)


def csrf_token_for(request: Request, settings: Settings) -> tuple[str, str | None]:
    """The CSRF token of this browser's session, and a new pre-session id to set if it had none."""
    binding = _binding(request, settings)
    if binding is not None:
        return _mac(settings, binding), None
    presession = secrets.token_urlsafe(24)
    return _mac(settings, "pre:" + presession), presession


def check_csrf(request: Request, settings: Settings, submitted: str | None) -> None:
    """Refuse a state-changing browser request whose CSRF token is missing or not its own."""
    submitted = submitted or request.headers.get(CSRF_HEADER)
    binding = _binding(request, settings)
    if (
        not submitted
        or binding is None
        or not hmac.compare_digest(submitted.encode(), _mac(settings, binding).encode())
    ):
        raise Forbidden("CSRF token missing or invalid; reload the page (页面已过期，请刷新后重试)")


def set_csrf_cookie(
    response: Response, token: str, settings: Settings, *, presession: str | None = None
) -> None:
    # Readable by the page's own scripts (they echo it in the header), never sent cross-site.
    response.set_cookie(
        CSRF_COOKIE,
        token,
        max_age=int(TOKEN_LIFETIME.total_seconds()),
        httponly=False,
        samesite="lax",
        secure=_secure(settings),
        path="/",
    )
    if presession is not None:
        response.set_cookie(
            PRESESSION_COOKIE,
            presession,
            max_age=int(TOKEN_LIFETIME.total_seconds()),
            httponly=True,
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
    # Signed in: the pre-session id has done its job (the next sign-in form gets a fresh one).
    response.delete_cookie(PRESESSION_COOKIE, path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")

"""Web sign-in pages (Chinese UI): login form, current account, logout; session cookie + CSRF."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Connection

from api.dependencies import ConnDep, SettingsDep, actor_of
from api.pages import templates
from api.security import (
    SESSION_COOKIE,
    check_csrf,
    clear_session_cookie,
    csrf_token_for,
    session_csrf_token,
    set_csrf_cookie,
    set_session_cookie,
)
from gis.access import Role, Scope
from gis.auth import decode_token
from gis.errors import Forbidden, Unauthenticated
from gis.settings import Settings
from gis.workflows.accounts import (
    Principal,
    get_account,
    issue_for,
    principal_for_token,
    revoke,
    scope_for,
)
from gis.workflows.sign_in import authenticate

router = APIRouter(tags=["web"], include_in_schema=False)

HOME = "/home"


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect after login would hand phishers a trusted link."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


def _session(request: Request, conn: Connection, settings: Settings) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return principal_for_token(conn, decode_token(token, settings.signing_secret()))
    except Unauthenticated:
        return None


def _login_page(
    request: Request,
    settings: Settings,
    *,
    error: str | None = None,
    username: str = "",
    next_: str = HOME,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token, presession = csrf_token_for(request, settings)
    context = {
        "csrf_token": token,
        "error": error,
        "username": username,
        "next": _safe_next(next_),
        "demo": settings.mode == "demo",
    }
    response = templates.TemplateResponse(
        request, "login.html", context, status_code=status_code, headers=headers
    )
    set_csrf_cookie(response, token, settings, presession=presession)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    settings: SettingsDep,
    next: Annotated[str, Query(max_length=300)] = HOME,  # noqa: A002 - the conventional name
) -> HTMLResponse:
    return _login_page(request, settings, next_=next)


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=300)] = HOME,  # noqa: A002
) -> Response:
    try:
        check_csrf(request, settings, csrf_token)
    except Forbidden as exc:
        return _login_page(request, settings, error=exc.message, username=username, status_code=403)
    actor = actor_of(request, Scope(role=Role.PUBLIC, username=username[:64]))
    outcome = authenticate(
        conn, username, password, actor=actor, allow_demo=settings.mode == "demo"
    )
    if outcome.principal is None:
        throttled = outcome.retry_after is not None
        return _login_page(
            request,
            settings,
            error=outcome.reason,
            username=username,
            next_=next,
            status_code=429 if throttled else 401,
            headers={"Retry-After": str(outcome.retry_after)} if throttled else None,
        )
    token, claims = issue_for(conn, outcome.principal, settings.signing_secret())
    target = _safe_next(next)
    if target == HOME and outcome.principal.role is Role.PUBLIC:
        target = "/account"  # no public home page is built yet: the account card, not a 403
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, token, settings)
    # The session's own CSRF token: the pre-session one is worthless from now on.
    set_csrf_cookie(response, session_csrf_token(settings, claims.jti), settings)
    return response


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, conn: ConnDep, settings: SettingsDep) -> Response:
    principal = _session(request, conn, settings)
    if principal is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    scope = scope_for(conn, principal)
    row = get_account(conn, Scope.unrestricted(), principal.account_id)
    token, presession = csrf_token_for(request, settings)
    response = templates.TemplateResponse(
        request,
        "account.html",
        {
            "account": row,
            "role_label": principal.role.label,
            "read_only": scope.read_only,
            "csrf_token": token,
        },
    )
    set_csrf_cookie(response, token, settings, presession=presession)
    return response


@router.post("/logout")
def logout_submit(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    check_csrf(request, settings, csrf_token)
    principal = _session(request, conn, settings)
    if principal is not None and principal.claims is not None:
        scope = scope_for(conn, principal)
        revoke(conn, principal.claims, actor_of(request, scope))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response

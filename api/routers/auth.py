"""Sign in and out over the API: OAuth2 password flow, bearer tokens, who-am-I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from api.dependencies import (
    AccountScopeDep,
    ConnDep,
    PrincipalDep,
    SettingsDep,
    actor_of,
)
from api.schemas.accounts import Me, Token
from gis.access import Role, Scope
from gis.auth import TOKEN_LIFETIME
from gis.workflows.accounts import get_account, issue_for, revoke
from gis.workflows.sign_in import LoginOutcome, authenticate

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def account_public(row: dict[str, Any]) -> dict[str, Any]:
    """An account row as the ``AccountPublic`` schema wants it (with the role's label)."""
    return {**row, "role_label": Role(row["role"]).label}


def refusal(outcome: LoginOutcome) -> JSONResponse:
    """401 for refused credentials, 429 with Retry-After for a throttled client address.

    Returned, not raised: the request's transaction must commit the counters and the audit.
    """
    if outcome.retry_after is not None:
        return JSONResponse(
            {"code": "too_many_attempts", "message": outcome.reason},
            status_code=429,
            headers={"Retry-After": str(outcome.retry_after)},
        )
    return JSONResponse(
        {"code": "unauthenticated", "message": outcome.reason or "sign-in failed"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.post(
    "/token",
    response_model=Token,
    operation_id="createToken",
    responses={
        401: {"description": "wrong credentials, locked or disabled account (one answer)"},
        429: {"description": "too many failed sign-ins from this address; see Retry-After"},
    },
)
def create_token(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Any:
    """OAuth2 password flow: exchange a username and password for a bearer token (8 h)."""
    actor = actor_of(request, Scope(role=Role.PUBLIC, username=form.username[:64]))
    outcome = authenticate(
        conn, form.username, form.password, actor=actor, allow_demo=settings.mode == "demo"
    )
    if outcome.principal is None:
        return refusal(outcome)
    token, _ = issue_for(conn, outcome.principal, settings.signing_secret())
    return Token(access_token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()))


@router.post("/logout", status_code=204, operation_id="logout")
def logout(
    request: Request, conn: ConnDep, scope: AccountScopeDep, principal: PrincipalDep
) -> Response:
    """Revoke the token (or session cookie) this request was made with."""
    if principal is not None and principal.claims is not None:
        revoke(conn, principal.claims, actor_of(request, scope))
    return Response(status_code=204)


@router.get("/me", response_model=Me, operation_id="getMe")
def me(conn: ConnDep, scope: AccountScopeDep, principal: PrincipalDep) -> Me:
    """The signed-in account and the data scope it grants."""
    assert scope.account_id is not None
    row = get_account(conn, Scope.unrestricted(), scope.account_id)

    def listed(codes: frozenset[str] | None) -> list[str] | None:
        return None if codes is None else sorted(codes)

    return Me(
        **account_public(row),
        read_only=scope.read_only,
        town_codes=listed(scope.town_codes),
        village_codes=listed(scope.village_codes),
        department_codes=listed(scope.department_codes),
        token_expires_at=principal.claims.expires_at if principal and principal.claims else None,
    )

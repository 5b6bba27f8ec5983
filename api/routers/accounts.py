"""Account administration for the town safety office: create, list, deactivate, unlock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.dependencies import AdminReadScopeDep, AdminScopeDep, ConnDep, actor_of
from api.routers.auth import account_public
from api.schemas.accounts import AccountCreate, AccountPage, AccountPublic
from gis.workflows.accounts import (
    NewAccount,
    create_account,
    deactivate_account,
    get_account,
    list_accounts,
    unlock_account,
)

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])

AccountId = Annotated[int, Path(ge=1, le=2**62)]


@router.post("", response_model=AccountPublic, status_code=201, operation_id="createAccount")
def create(
    request: Request, conn: ConnDep, scope: AdminScopeDep, body: AccountCreate
) -> AccountPublic:
    """Create an account in your own town (镇安委办 only)."""
    spec = NewAccount(**body.model_dump())
    row = create_account(conn, scope, actor_of(request, scope), spec)
    return AccountPublic(**account_public(row))


@router.get("", response_model=AccountPage, operation_id="listAccounts")
def list_(
    conn: ConnDep,
    scope: AdminReadScopeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AccountPage:
    """Accounts of your town."""
    rows = list_accounts(conn, scope, limit=limit, offset=offset)
    return AccountPage(
        items=[AccountPublic(**account_public(r)) for r in rows], limit=limit, offset=offset
    )


@router.get("/{account_id}", response_model=AccountPublic, operation_id="getAccount")
def get(conn: ConnDep, scope: AdminReadScopeDep, account_id: AccountId) -> AccountPublic:
    return AccountPublic(**account_public(get_account(conn, scope, account_id)))


@router.post(
    "/{account_id}/deactivate", response_model=AccountPublic, operation_id="deactivateAccount"
)
def deactivate(
    request: Request, conn: ConnDep, scope: AdminScopeDep, account_id: AccountId
) -> AccountPublic:
    """Disable an account; every token it holds stops working at once."""
    row = deactivate_account(conn, scope, actor_of(request, scope), account_id)
    return AccountPublic(**account_public(row))


@router.post("/{account_id}/unlock", response_model=AccountPublic, operation_id="unlockAccount")
def unlock(
    request: Request, conn: ConnDep, scope: AdminScopeDep, account_id: AccountId
) -> AccountPublic:
    """Lift a sign-in lockout (after repeated wrong passwords) at once; audited."""
    row = unlock_account(conn, scope, actor_of(request, scope), account_id)
    return AccountPublic(**account_public(row))

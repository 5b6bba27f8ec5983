"""Typed FastAPI dependencies: settings, the process engine, a connection and a scope per request.

Access control: every endpoint that reads or writes town data takes exactly one of the scope
aliases below (``ScopeDep``, ``WriteScopeDep``, ``AdminScopeDep``, …). Each is an ``Access``
rule: which roles may call, whether it writes (county office is read-only), whether anonymous
callers are allowed. The rule authenticates the caller (bearer token or session cookie), refuses
with 401/403, and returns the ``Scope`` that the queries apply with ``scope_clause``. The
role × endpoint matrix test (tests/api/test_access_matrix.py) reads these rules off every route.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer
from sqlalchemy import Connection, Engine

from api.security import SAFE_METHODS, SESSION_COOKIE, check_csrf
from gis.access import Role, Scope
from gis.audit import Actor
from gis.auth import decode_token
from gis.errors import Forbidden, Unauthenticated
from gis.settings import Settings, get_settings
from gis.workflows.accounts import Principal, principal_for_token, scope_for

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def get_conn(engine: EngineDep) -> Iterator[Connection]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with engine.begin() as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
cookie_scheme = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session")


def get_principal(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    bearer: Annotated[str | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Principal | None:
    """The signed-in account (bearer token first, then session cookie); None if no credentials.

    Credentials that are present but bad (forged, expired, revoked, account disabled) are a 401,
    never a silent fall-back to anonymous.
    """
    token = bearer or cookie
    if not token:
        return None
    claims = decode_token(token, settings.signing_secret())
    principal = principal_for_token(conn, claims)
    request.state.credential = "bearer" if bearer else "cookie"
    return principal


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


class Access:
    """An access rule for an endpoint; as a dependency it returns the caller's ``Scope``.

    Parameters
    ----------
    roles
        Roles allowed to call the endpoint at all (others get 403).
    write
        The endpoint changes data: read-only scopes (county office) get 403, and browser
        requests authenticated by the session cookie must carry the CSRF token.
    anonymous
        Callers without credentials are allowed (as the ``public`` role, unrestricted town);
        otherwise they get 401.
    """

    def __init__(
        self, name: str, roles: Iterable[Role], *, write: bool = False, anonymous: bool = False
    ) -> None:
        self.name = name
        self.roles = frozenset(roles)
        self.write = write
        self.anonymous = anonymous

    def __repr__(self) -> str:
        roles = ",".join(sorted(r.value for r in self.roles))
        return f"Access({self.name!r}, roles={roles}, write={self.write}, anon={self.anonymous})"

    def __call__(
        self, request: Request, conn: ConnDep, settings: SettingsDep, principal: PrincipalDep
    ) -> Scope:
        return self.scope_of(request, conn, settings, principal, None)

    def scope_of(
        self,
        request: Request,
        conn: Connection,
        settings: Settings,
        principal: Principal | None,
        submitted_csrf: str | None,
    ) -> Scope:
        """Authenticate and authorise; ``submitted_csrf`` is a form's token (else the header's)."""
        if principal is None:
            if not self.anonymous:
                raise Unauthenticated("sign in first (请先登录)")
            return Scope(role=Role.PUBLIC)
        if principal.role not in self.roles:
            raise Forbidden(f"role {principal.role.label} may not use this endpoint (无权访问)")
        scope = scope_for(conn, principal)
        if self.write and scope.read_only:
            raise Forbidden(f"{principal.role.label}账号为只读，不能修改数据 (read-only account)")
        if request.method not in SAFE_METHODS and request.state.credential == "cookie":
            check_csrf(request, settings, submitted_csrf)
        return scope


class FormAccess(Access):
    """An ``Access`` rule for HTML form posts: the CSRF token comes in the form's own field.

    A plain form cannot send headers, so the token the page rendered into ``csrf_token`` is
    checked instead (still bound to the session, see api/security.py).
    """

    def __call__(
        self,
        request: Request,
        conn: ConnDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Scope:
        return self.scope_of(request, conn, settings, principal, csrf_token or None)


STAFF_ROLES = frozenset(Role) - {Role.PUBLIC}

#: Read town data within the caller's scope: every role but the public.
get_scope = Access("read", STAFF_ROLES)
ScopeDep = Annotated[Scope, Depends(get_scope)]
#: Change town data within the caller's scope: every role but the public; county office refused.
get_write_scope = Access("write", STAFF_ROLES, write=True)
WriteScopeDep = Annotated[Scope, Depends(get_write_scope)]
#: Town safety office only (accounts, audit log, reporter identities).
get_admin_read_scope = Access("town-admin-read", {Role.TOWN_ADMIN})
AdminReadScopeDep = Annotated[Scope, Depends(get_admin_read_scope)]
get_admin_scope = Access("town-admin-write", {Role.TOWN_ADMIN}, write=True)
AdminScopeDep = Annotated[Scope, Depends(get_admin_scope)]
#: Any signed-in account, whatever its role (who am I, sign out).
get_account_scope = Access("signed-in", frozenset(Role))
AccountScopeDep = Annotated[Scope, Depends(get_account_scope)]
#: The public report form: anyone, signed in or not, except read-only accounts.
get_report_scope = Access("report", frozenset(Role), write=True, anonymous=True)
ReportScopeDep = Annotated[Scope, Depends(get_report_scope)]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def actor_of(request: Request, scope: Scope) -> Actor:
    """The audit-log actor of a request: the scope's account, client address and request id."""
    given = request.headers.get("X-Request-ID", "")
    return Actor.of(
        scope,
        ip=request.client.host if request.client else None,
        request_id=given if _REQUEST_ID.match(given) else uuid.uuid4().hex,
    )

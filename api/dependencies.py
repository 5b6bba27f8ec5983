"""Typed FastAPI dependencies: settings, the process engine, a connection and a scope per request.

Access control: every endpoint that reads or writes town data takes exactly one of the scope
aliases below (``ScopeDep``, ``WriteScopeDep``, ``AdminScopeDep``, …). Each is an ``Access``
rule: which roles may call, whether it writes (county office is read-only), whether anonymous
callers are allowed. The rule authenticates the caller (bearer token or session cookie), refuses
with 401/403, and returns the ``Scope`` that the queries apply with ``scope_clause``. The
role × endpoint matrix test (tests/api/test_access_matrix.py) reads these rules off every route.
"""

from __future__ import annotations

import asyncio
import re
import uuid
import weakref
from collections.abc import AsyncIterator, Iterable
from typing import Annotated

import anyio
from fastapi import Depends, Form, Request
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from api.security import SAFE_METHODS, SESSION_COOKIE, check_csrf
from gis.access import Role, Scope
from gis.audit import Actor
from gis.auth import decode_token
from gis.db.engine import POOL_SIZE
from gis.errors import DatabaseBusy, Forbidden, Unauthenticated
from gis.settings import Settings, get_settings
from gis.workflows.accounts import Principal, principal_for_token, scope_for


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with (``create_app``), else the process's.

    Read from the app's state rather than swapped in with ``dependency_overrides``: FastAPI
    re-analyses every dependency's signature on every request while any override is set (~9 %
    of a layer read's time in a profile). async: no worker thread needed.
    """
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def get_engine(request: Request) -> Engine:
    # async: reading app state needs no worker thread.
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]

#: Seconds a request may wait for a database slot before it is answered 503 ``database_busy``.
ADMISSION_TIMEOUT_S = 30.0
# One semaphore per (event loop, engine): asyncio primitives belong to the loop they first wait on.
_admission: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _semaphore(engine: Engine) -> asyncio.Semaphore:
    per_engine = _admission.setdefault(asyncio.get_running_loop(), {})
    if id(engine) not in per_engine:
        size = getattr(engine.pool, "size", lambda: POOL_SIZE)()
        per_engine[id(engine)] = asyncio.Semaphore(max(1, int(size)))
    return per_engine[id(engine)]


def _open(engine: Engine) -> Connection:
    conn = engine.connect()
    conn.begin()
    return conn


def _close(conn: Connection, commit: bool) -> None:
    try:
        if commit:
            conn.commit()
        else:
            conn.rollback()
    finally:
        conn.close()


async def get_conn(engine: EngineDep) -> AsyncIterator[Connection]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    At most the pool's size of requests hold a connection at once; the others wait here, in the
    event loop, so a burst queues instead of exhausting the pool in worker threads (which would
    answer 503 after ``pool_timeout``). A request still waiting after
    :data:`ADMISSION_TIMEOUT_S` gets 503 ``database_busy`` with ``Retry-After``.
    """
    slot = _semaphore(engine)
    try:
        with anyio.fail_after(ADMISSION_TIMEOUT_S):
            await slot.acquire()
    except TimeoutError:
        raise DatabaseBusy("服务繁忙，请稍后重试 (server busy, retry shortly)") from None
    try:
        # Shielded, as the close below: a cancelled wait would drop a connection already open.
        with anyio.CancelScope(shield=True):
            conn = await run_in_threadpool(_open, engine)
        commit = False
        try:
            yield conn
            commit = True
        finally:
            # Shielded: a client that hangs up must not leave the connection checked out.
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(_close, conn, commit)
    finally:
        slot.release()


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

    async def __call__(
        self, request: Request, conn: ConnDep, settings: SettingsDep, principal: PrincipalDep
    ) -> Scope:
        return await self.scope_of(request, conn, settings, principal, None)

    async def scope_of(
        self,
        request: Request,
        conn: Connection,
        settings: Settings,
        principal: Principal | None,
        submitted_csrf: str | None,
    ) -> Scope:
        """Authenticate and authorise; ``submitted_csrf`` is a form's token (else the header's)."""
        # async: only a county office's scope needs the database (its towns), so the other
        # roles are answered in the event loop without a hop to a worker thread.
        if principal is None:
            if not self.anonymous:
                raise Unauthenticated("sign in first (请先登录)")
            return Scope(role=Role.PUBLIC)
        if principal.role not in self.roles:
            raise Forbidden(f"role {principal.role.label} may not use this endpoint (无权访问)")
        if principal.role is Role.COUNTY_OFFICE:
            scope = await run_in_threadpool(scope_for, conn, principal)
        else:
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

    async def __call__(
        self,
        request: Request,
        conn: ConnDep,
        settings: SettingsDep,
        principal: PrincipalDep,
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Scope:
        return await self.scope_of(request, conn, settings, principal, csrf_token or None)


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

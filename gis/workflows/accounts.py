"""Accounts: create, deactivate, unlock, set passwords, sign out; the scope of a signed-in user.

Signing in (throttle, lockout, password check) is ``gis.workflows.sign_in``.

Every function takes a Connection already inside the caller's transaction (one per request or CLI
command) and records each write in the audit log through ``gis.audit.record``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from gis.access import Role, Scope, scope_clause
from gis.audit import Actor, record
from gis.auth import TokenClaims, hash_password, issue_token
from gis.db.access_models import Account, RevokedToken
from gis.db.models import Department, Responsibility, Staff, Town, Unit, Village
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated

#: Roles a town admin may create in their own town (county office accounts come from the CLI).
TOWN_ASSIGNABLE_ROLES = frozenset(
    {Role.TOWN_ADMIN, Role.DEPARTMENT, Role.GRID_CHIEF, Role.INSPECTOR, Role.PUBLIC}
)

#: Public columns of an account (never the password hash).
PUBLIC_COLUMNS = (
    Account.id,
    Account.username,
    Account.display_name,
    Account.role,
    Account.county_code,
    Account.town_code,
    Account.village_code,
    Account.department_code,
    Account.staff_id,
    Account.active,
    Account.is_demo,
    Account.locked_until,
    Account.created_at,
)


@dataclass(frozen=True)
class NewAccount:
    """What an admin supplies to create an account; only the role's own area field is used."""

    username: str
    password: str
    role: Role
    town_code: str | None = None
    county_code: str | None = None
    village_code: str | None = None
    department_code: str | None = None
    staff_id: int | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class Principal:
    """A signed-in account as a request sees it, with the token that proved it."""

    account_id: int
    username: str
    role: Role
    county_code: str | None
    town_code: str | None
    village_code: str | None
    department_code: str | None
    staff_id: int | None
    claims: TokenClaims | None = None


def principal_of_row(row: RowMapping, claims: TokenClaims | None = None) -> Principal:
    return Principal(
        account_id=int(row["id"]),
        username=str(row["username"]),
        role=Role(row["role"]),
        county_code=row["county_code"],
        town_code=row["town_code"],
        village_code=row["village_code"],
        department_code=row["department_code"],
        staff_id=row["staff_id"],
        claims=claims,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- who is signed in ---------------------------------------------------------------------------


def principal_for_token(conn: Connection, claims: TokenClaims) -> Principal:
    """The account a decoded token speaks for, if it is active and the token was not revoked."""
    revoked = exists().where(RevokedToken.jti == claims.jti)
    row = (
        conn.execute(
            select(*PUBLIC_COLUMNS, Account.token_version, revoked.label("revoked")).where(
                Account.id == claims.account_id
            )
        )
        .mappings()
        .first()
    )
    if row is None or row["revoked"]:
        raise Unauthenticated("signed out; sign in again (已退出登录，请重新登录)")
    if not row["active"] or row["token_version"] != claims.token_version:
        raise Unauthenticated("account disabled or token withdrawn (账号已停用或凭据已失效)")
    return principal_of_row(row, claims)


def scope_for(conn: Connection, principal: Principal, *, as_of: dt.date | None = None) -> Scope:
    """The data scope of a signed-in account (the rows ``scope_clause`` will let it read)."""
    common: dict[str, Any] = {
        "role": principal.role,
        "account_id": principal.account_id,
        "username": principal.username,
    }
    if as_of is not None:
        common["as_of"] = as_of
    town = frozenset({principal.town_code}) if principal.town_code else frozenset()
    match principal.role:
        case Role.COUNTY_OFFICE:
            towns = conn.execute(
                select(Town.code).where(Town.county_code == principal.county_code)
            ).scalars()
            return Scope(town_codes=frozenset(towns), read_only=True, **common)
        case Role.TOWN_ADMIN | Role.PUBLIC:
            return Scope(town_codes=town, **common)
        case Role.DEPARTMENT:
            depts = frozenset({principal.department_code} if principal.department_code else ())
            return Scope(town_codes=town, department_codes=depts, **common)
        case Role.GRID_CHIEF:
            villages = frozenset({principal.village_code} if principal.village_code else ())
            return Scope(town_codes=town, village_codes=villages, **common)
        case Role.INSPECTOR:
            return Scope(town_codes=town, staff_id=principal.staff_id, **common)
    raise AssertionError(f"unhandled role {principal.role}")  # pragma: no cover


# --- tokens -----------------------------------------------------------------------------------


def issue_for(
    conn: Connection, principal: Principal, secret: str, *, now: dt.datetime | None = None
) -> tuple[str, TokenClaims]:
    """A fresh signed token for a principal (carrying its account's current token version)."""
    version = conn.execute(
        select(Account.token_version).where(Account.id == principal.account_id)
    ).scalar_one()
    return issue_token(principal.account_id, int(version), secret, now=now)


def revoke(conn: Connection, claims: TokenClaims, actor: Actor) -> None:
    """Sign one token out; forgets revocations of tokens that have expired anyway."""
    conn.execute(delete(RevokedToken).where(RevokedToken.expires_at < _now()))
    conn.execute(
        insert(RevokedToken).values(
            jti=claims.jti, account_id=claims.account_id, expires_at=claims.expires_at
        )
    )
    record(conn, actor, "logout", "revoked_tokens", claims.jti, None, None)


# --- administration -----------------------------------------------------------------------------


def account_select(scope: Scope) -> Any:
    """Public columns of the accounts ``scope`` may read (town admins: their town)."""
    return select(*PUBLIC_COLUMNS).where(scope_clause(Account, scope)).order_by(Account.id)


def get_account(conn: Connection, scope: Scope, account_id: int) -> dict[str, Any]:
    row = conn.execute(account_select(scope).where(Account.id == account_id)).mappings().first()
    if row is None:
        raise NotFound(f"账号 {account_id} 不存在或无权查看")
    return dict(row)


def list_accounts(
    conn: Connection, scope: Scope, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = conn.execute(account_select(scope).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows]


def _check_area(conn: Connection, spec: NewAccount) -> dict[str, Any]:
    """The area columns the role needs, verified to exist and to lie in the account's town."""
    role = spec.role
    if role is Role.COUNTY_OFFICE:
        if (
            not spec.county_code
            or not conn.execute(
                select(Town.code).where(Town.county_code == spec.county_code).limit(1)
            ).first()
        ):
            raise InvalidInput(f"county_code {spec.county_code!r}: no town of that county")
        return {"county_code": spec.county_code}
    town = spec.town_code
    if not town or not conn.execute(select(Town.code).where(Town.code == town)).first():
        raise InvalidInput(f"town_code {town!r} is not a known town")
    area: dict[str, Any] = {"town_code": town}
    if role is Role.GRID_CHIEF:
        ok = (
            bool(spec.village_code)
            and conn.execute(
                select(Village.code).where(
                    Village.code == spec.village_code, Village.town_code == town
                )
            ).first()
            is not None
        )
        if not ok:
            raise InvalidInput(f"village_code {spec.village_code!r} is not a village of {town}")
        area["village_code"] = spec.village_code
    elif role is Role.DEPARTMENT:
        ok = (
            bool(spec.department_code)
            and conn.execute(
                select(Department.code).where(Department.code == spec.department_code)
            ).first()
            is not None
        )
        if not ok:
            raise InvalidInput(f"department_code {spec.department_code!r} is not a department")
        area["department_code"] = spec.department_code
    elif role is Role.INSPECTOR:
        ok = (
            spec.staff_id is not None
            and conn.execute(
                select(Staff.id).where(Staff.id == spec.staff_id, Staff.town_code == town)
            ).first()
            is not None
        )
        if not ok:
            raise InvalidInput(f"staff_id {spec.staff_id!r} is not a staff member of {town}")
        area["staff_id"] = spec.staff_id
    return area


def create_account(
    conn: Connection, scope: Scope, actor: Actor, spec: NewAccount, *, is_demo: bool = False
) -> dict[str, Any]:
    """Create an account inside ``scope`` (a town admin: their own town only); audited."""
    if scope.read_only or scope.role is not Role.TOWN_ADMIN:
        raise Forbidden("only the town safety office may create accounts (仅镇安委办可创建账号)")
    if scope.town_codes is not None:  # a town admin, not the CLI
        if spec.role not in TOWN_ASSIGNABLE_ROLES:
            raise Forbidden(f"a town admin cannot create {spec.role.value} accounts")
        if spec.town_code not in (None, *scope.town_codes):
            raise Forbidden(f"town {spec.town_code} is outside your scope")
        spec = NewAccount(**{**spec.__dict__, "town_code": next(iter(scope.town_codes))})
    area = _check_area(conn, spec)
    values = {
        "username": spec.username,
        "password_hash": hash_password(spec.password, spec.username),
        "role": spec.role,
        "display_name": spec.display_name,
        "is_demo": is_demo,
        "active": True,
        **area,
    }
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                insert(Account).values(**values).returning(Account.id)
            ).scalar_one()
    except IntegrityError as exc:
        if "uq_accounts_username" in str(exc.orig) or "unique" in str(exc.orig).lower():
            raise Conflict(
                f"username {spec.username!r} is taken, in this or another case (用户名已存在，"
                "不区分大小写)"
            ) from exc
        raise InvalidInput(f"account rejected: {exc.orig}") from exc
    created = dict(
        conn.execute(select(*PUBLIC_COLUMNS).where(Account.id == new_id)).mappings().one()
    )
    record(conn, actor, "create", "accounts", new_id, None, created, town_code=created["town_code"])
    return created


def deactivate_account(
    conn: Connection, scope: Scope, actor: Actor, account_id: int
) -> dict[str, Any]:
    """Disable an account and withdraw every token it holds; audited. Idempotent refusal:
    deactivating an inactive account is a conflict, your own account is forbidden."""
    if scope.read_only or scope.role is not Role.TOWN_ADMIN:
        raise Forbidden("only the town safety office may deactivate accounts")
    if scope.account_id == account_id:
        raise Forbidden("you cannot deactivate your own account (不能停用自己的账号)")
    before = get_account(conn, scope, account_id)
    changed = (
        conn.execute(
            update(Account)
            .where(Account.id == account_id, Account.active.is_(True), scope_clause(Account, scope))
            .values(active=False, token_version=Account.token_version + 1)
            .returning(*PUBLIC_COLUMNS)
        )
        .mappings()
        .first()
    )
    if changed is None:
        raise Conflict(f"account {account_id} is already inactive (账号已停用)")
    after = dict(changed)
    record(
        conn,
        actor,
        "deactivate",
        "accounts",
        account_id,
        before,
        after,
        town_code=after["town_code"],
    )
    return after


def account_id_for_username(conn: Connection, username: str) -> int:
    """The id of the account named ``username`` in any case (CLI commands name accounts)."""
    account_id = conn.execute(
        select(Account.id).where(func.lower(Account.username) == func.lower(literal(username)))
    ).scalar()
    if account_id is None:
        raise NotFound(f"no account {username!r} (账号不存在)")
    return int(account_id)


def set_password(conn: Connection, actor: Actor, username: str, password: str) -> None:
    """Replace an account's password (CLI) and withdraw its tokens; audited without the hash.

    Also lifts a lockout: whoever may set the password may let its owner sign in.
    """
    account_id = account_id_for_username(conn, username)
    real_name = conn.execute(select(Account.username).where(Account.id == account_id)).scalar_one()
    new_hash = hash_password(password, real_name)
    row = conn.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(
            password_hash=new_hash,
            token_version=Account.token_version + 1,
            failed_logins=0,
            locked_until=None,
        )
        .returning(Account.id, Account.town_code)
    ).one()
    record(
        conn,
        actor,
        "set_password",
        "accounts",
        row.id,
        None,
        {"password": "changed"},
        town_code=row.town_code,
    )


def unlock_account(conn: Connection, scope: Scope, actor: Actor, account_id: int) -> dict[str, Any]:
    """Lift a sign-in lockout and clear the failure count (town admin or CLI); audited.

    A conflict when the account has nothing to lift, so a repeated click does not log twice.
    """
    if scope.read_only or scope.role is not Role.TOWN_ADMIN:
        raise Forbidden("only the town safety office may unlock accounts (仅镇安委办可解锁账号)")
    get_account(conn, scope, account_id)  # 404 outside the scope
    before = (
        conn.execute(
            select(Account.failed_logins, Account.locked_until)
            .where(Account.id == account_id)
            .with_for_update()
        )
        .mappings()
        .one()
    )
    changed = (
        conn.execute(
            update(Account)
            .where(
                Account.id == account_id,
                scope_clause(Account, scope),
                (Account.failed_logins > 0) | Account.locked_until.is_not(None),
            )
            .values(failed_logins=0, locked_until=None)
            .returning(*PUBLIC_COLUMNS)
        )
        .mappings()
        .first()
    )
    if changed is None:
        raise Conflict(f"account {account_id} is not locked (账号未被锁定)")
    after = dict(changed)
    record(
        conn,
        actor,
        "unlock",
        "accounts",
        account_id,
        dict(before),
        {"failed_logins": 0, "locked_until": None},
        town_code=after["town_code"],
    )
    return after


# --- demo accounts ------------------------------------------------------------------------------

DEMO_PASSWORD = "gridsafe-demo"
DEMO_DEPARTMENTS = ("AJB", "SCJG")


def _demo_specs(conn: Connection, town_code: str) -> list[NewAccount]:
    county = conn.execute(select(Town.county_code).where(Town.code == town_code)).scalar()
    if county is None:
        raise NotFound(f"town {town_code} is not loaded")
    # The village with most units, so the grid chief's map is not empty.
    village = conn.execute(
        select(Village.code)
        .where(Village.town_code == town_code)
        .order_by(
            select(func.count()).where(Unit.village_code == Village.code).scalar_subquery().desc(),
            Village.code,
        )
        .limit(1)
    ).scalar_one()
    dept = (
        conn.execute(
            select(Unit.department_code)
            .where(Unit.town_code == town_code, Unit.department_code.in_(DEMO_DEPARTMENTS))
            .group_by(Unit.department_code)
            .order_by(func.count().desc(), Unit.department_code)
            .limit(1)
        ).scalar_one_or_none()
        or DEMO_DEPARTMENTS[0]
    )
    # The staff member responsible for most units today; else the first department inspector.
    today = dt.date.today()
    staff_id = conn.execute(
        select(Responsibility.staff_id)
        .where(
            Responsibility.town_code == town_code,
            Responsibility.unit_id.is_not(None),
            Responsibility.valid_from <= today,
            (Responsibility.valid_to.is_(None)) | (Responsibility.valid_to > today),
        )
        .group_by(Responsibility.staff_id)
        .order_by(func.count().desc(), Responsibility.staff_id)
        .limit(1)
    ).scalar_one_or_none()
    if staff_id is None:
        staff_id = conn.execute(
            select(Staff.id)
            .where(Staff.town_code == town_code)
            .order_by((Staff.role != "inspector"), Staff.id)
            .limit(1)
        ).scalar_one()
    return [
        NewAccount(
            "demo-town",
            DEMO_PASSWORD,
            Role.TOWN_ADMIN,
            town_code=town_code,
            display_name="演示·镇安委办",
        ),
        NewAccount(
            "demo-county",
            DEMO_PASSWORD,
            Role.COUNTY_OFFICE,
            county_code=county,
            display_name="演示·区安委办",
        ),
        NewAccount(
            "demo-dept",
            DEMO_PASSWORD,
            Role.DEPARTMENT,
            town_code=town_code,
            department_code=dept,
            display_name="演示·行业部门",
        ),
        NewAccount(
            "demo-chief",
            DEMO_PASSWORD,
            Role.GRID_CHIEF,
            town_code=town_code,
            village_code=village,
            display_name="演示·网格长",
        ),
        NewAccount(
            "demo-inspector",
            DEMO_PASSWORD,
            Role.INSPECTOR,
            town_code=town_code,
            staff_id=staff_id,
            display_name="演示·检查人员",
        ),
        NewAccount(
            "demo-public",
            DEMO_PASSWORD,
            Role.PUBLIC,
            town_code=town_code,
            display_name="演示·公众",
        ),
    ]


def ensure_demo_accounts(engine: Engine, town_code: str) -> list[dict[str, Any]]:
    """Create one demo account per role (password ``gridsafe-demo``) unless they exist.

    Demo accounts are flagged ``is_demo`` and can only sign in while the service runs in demo
    mode, so a demo database promoted to production does not keep a known password.
    """
    actor = Actor.system("gridsafe demo", town_code=town_code)
    with engine.begin() as conn:
        existing = set(
            conn.execute(select(Account.username).where(Account.username.like("demo-%"))).scalars()
        )
        for spec in _demo_specs(conn, town_code):
            if spec.username not in existing:
                create_account(conn, Scope.unrestricted(), actor, spec, is_demo=True)
        rows = conn.execute(
            select(*PUBLIC_COLUMNS)
            .where(and_(Account.is_demo.is_(True), Account.username.like("demo-%")))
            .order_by(Account.id)
        ).mappings()
        return [dict(r) for r in rows]

"""``gridsafe account …``: the first admin, other accounts, passwords; and the demo accounts."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from gis.access import Role, Scope
from gis.audit import Actor
from gis.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _say(message: str) -> None:
    print(message, flush=True)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 (password): ")
    if getpass.getpass("再次输入 (repeat): ") != first:
        raise SystemExit("passwords differ; nothing was changed")
    return first


def _actor(command: str, town_code: str | None = None) -> Actor:
    """The audit actor of ``gridsafe account COMMAND``, e.g. ``cli:account-unlock``."""
    return Actor.system(f"cli:account-{command}", town_code)


def _engine() -> Engine:
    # Migrated first: `account create-admin` is often the first command on a new server.
    from api.cli import _prepare

    return _prepare(get_settings())


def cmd_create(args: argparse.Namespace) -> int:
    from gis.workflows.accounts import NewAccount, create_account

    role = Role(args.role)
    town = None if role is Role.COUNTY_OFFICE else (args.town or get_settings().town_code)
    spec = NewAccount(
        username=args.username,
        password=_read_password(args),
        role=role,
        town_code=town,
        county_code=args.county,
        village_code=args.village,
        department_code=args.department,
        staff_id=args.staff_id,
        display_name=args.name,
    )
    with _engine().begin() as conn:
        row = create_account(conn, Scope.unrestricted(), _actor(args.action, town), spec)
    area = row["county_code"] or row["town_code"]
    _say(f"created {role.label} account {row['username']} (id {row['id']}, {area})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from gis.workflows.accounts import list_accounts

    with _engine().begin() as conn:
        rows = list_accounts(conn, Scope.unrestricted(), limit=100_000, offset=0)
    for row in rows:
        if args.town and row["town_code"] != args.town:
            continue
        area = row["village_code"] or row["department_code"] or row["staff_id"] or ""
        state = "active" if row["active"] else "inactive"
        demo = " demo" if row["is_demo"] else ""
        _say(
            f"{row['id']:>5}  {row['username']:<24} {Role(row['role']).label:<6} "
            f"{row['county_code'] or row['town_code']} {area} {state}{demo}"
        )
    return 0


def cmd_deactivate(args: argparse.Namespace) -> int:
    from gis.workflows.accounts import account_id_for_username, deactivate_account

    with _engine().begin() as conn:
        account_id = account_id_for_username(conn, args.username)
        deactivate_account(conn, Scope.unrestricted(), _actor("deactivate"), account_id)
    _say(f"deactivated {args.username}; its tokens no longer work")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from gis.workflows.accounts import account_id_for_username, unlock_account

    with _engine().begin() as conn:
        account_id = account_id_for_username(conn, args.username)
        unlock_account(conn, Scope.unrestricted(), _actor("unlock"), account_id)
    _say(f"unlocked {args.username}; it may sign in again (已解锁)")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from gis.workflows.accounts import set_password

    password = _read_password(args)
    with _engine().begin() as conn:
        set_password(conn, _actor("set-password"), args.username, password)
    _say(f"password of {args.username} changed; its old tokens no longer work")
    return 0


def announce_demo_accounts(engine: Engine, town_code: str) -> None:
    """Create the demo accounts (one per role) and print how to sign in with them."""
    from gis.workflows.accounts import DEMO_PASSWORD, ensure_demo_accounts

    rows = ensure_demo_accounts(engine, town_code)
    names = ", ".join(f"{r['username']} ({Role(r['role']).label})" for r in rows)
    _say(f"demo accounts, password {DEMO_PASSWORD}: {names}")
    _say(
        "sign in at /login, or: curl -d username=demo-town -d password=gridsafe-demo "
        "http://127.0.0.1:8000/api/v1/auth/token"
    )


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = sub.add_parser("account", help="manage sign-in accounts")
    actions = account.add_subparsers(dest="action", required=True)

    def password_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    admin = actions.add_parser(
        "create-admin", help="create a town admin (镇安委办), e.g. the first"
    )
    admin.add_argument("--username", required=True)
    admin.add_argument("--town", help="12-digit town code (default GRIDSAFE_TOWN_CODE)")
    admin.add_argument("--name", help="display name")
    password_option(admin)
    admin.set_defaults(
        func=cmd_create,
        role=Role.TOWN_ADMIN.value,
        county=None,
        village=None,
        department=None,
        staff_id=None,
    )

    create = actions.add_parser("create", help="create an account of any role")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--town", help="12-digit town code (default GRIDSAFE_TOWN_CODE)")
    create.add_argument("--county", help="12-digit county code (county_office)")
    create.add_argument("--village", help="12-digit village code (grid_chief)")
    create.add_argument("--department", help="department code, e.g. SCJG (department)")
    create.add_argument("--staff-id", type=int, help="staff id (inspector)")
    create.add_argument("--name", help="display name")
    password_option(create)
    create.set_defaults(func=cmd_create)

    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--town")
    listing.set_defaults(func=cmd_list)

    off = actions.add_parser("deactivate", help="disable an account and revoke its tokens")
    off.add_argument("username")
    off.set_defaults(func=cmd_deactivate)

    unlock = actions.add_parser("unlock", help="lift a lockout after repeated failed sign-ins")
    unlock.add_argument("username")
    unlock.set_defaults(func=cmd_unlock)

    reset = actions.add_parser("set-password", help="set a new password, revoking old tokens")
    reset.add_argument("username")
    password_option(reset)
    reset.set_defaults(func=cmd_set_password)

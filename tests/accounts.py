"""Test accounts: insert one of any role in the caller's transaction and sign requests as it.

Usable from any test that has a Connection (the shared ``db_conn`` or a throwaway cluster):

    headers = bearer_headers(conn, "town_admin", town_code=TINY_TOWN)
    TestClient(app, headers=headers)
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, insert, select

from gis.access import Role
from gis.auth import hash_password, issue_token
from gis.db.access_models import Account
from gis.db.models import Town

TEST_PASSWORD = "correct horse battery"
#: The signing secret of every test app (the published default is refused everywhere).
TEST_SECRET = "test-secret-" + "0123456789abcdef" * 2
_serial = itertools.count(1)


@lru_cache
def test_password_hash() -> str:
    """One argon2 hash per run: hashing per account would make the matrix test slow."""
    return hash_password(TEST_PASSWORD)


def make_account(conn: Connection, role: Role | str, **overrides: Any) -> dict[str, Any]:
    """Insert an active account of ``role`` (password ``TEST_PASSWORD``); returns its row.

    ``town_code`` defaults to the first town; county office accounts get that town's county.
    Give ``village_code`` / ``department_code`` / ``staff_id`` for the roles that need them.
    """
    role = Role(role)
    values: dict[str, Any] = {
        "username": f"test-{role.value.replace('_', '-')}-{next(_serial)}",
        "password_hash": test_password_hash(),
        "role": role,
        "active": True,
        "is_demo": False,
        "token_version": 0,
        "failed_logins": 0,
    }
    values.update(overrides)
    if role is Role.COUNTY_OFFICE:
        if "county_code" not in values:
            town = values.pop("town_code", None)
            query = select(Town.county_code).order_by(Town.code).limit(1)
            if town:
                query = select(Town.county_code).where(Town.code == town)
            values["county_code"] = conn.execute(query).scalar_one()
        values.pop("town_code", None)
    elif "town_code" not in values:
        values["town_code"] = conn.execute(
            select(Town.code).order_by(Town.code).limit(1)
        ).scalar_one()
    row = conn.execute(insert(Account).values(**values).returning(*Account.__table__.columns))
    return dict(row.mappings().one())


def bearer_token(account_id: int, secret: str = TEST_SECRET, token_version: int = 0) -> str:
    token, _ = issue_token(account_id, token_version, secret)
    return token


def bearer_headers(
    conn: Connection, role: Role | str = Role.TOWN_ADMIN, **overrides: Any
) -> dict[str, str]:
    """Authorization headers for a fresh account of ``role`` (signed with the test secret)."""
    account = make_account(conn, role, **overrides)
    return {"Authorization": f"Bearer {bearer_token(int(account['id']))}"}

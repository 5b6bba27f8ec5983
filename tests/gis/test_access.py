"""Scopes as WHERE clauses: confidential tables, unit slots in a grid, the scope of each role."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Connection, func, insert, select

from gis.access import Role, Scope, scope_clause
from gis.db.access_models import Account, AuditLog, RevokedToken
from gis.db.models import Hazard, ReporterIdentity, Responsibility, Staff, Unit
from gis.workflows.accounts import Principal, scope_for
from tests.accounts import make_account
from tests.conftest import DEMO_TOWN


def _count(conn: Connection, model: type, scope: Scope) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(model).where(scope_clause(model, scope))
        ).scalar_one()
    )


def _principal(account: dict) -> Principal:
    keys = ("county_code", "town_code", "village_code", "department_code", "staff_id")
    return Principal(
        account_id=account["id"],
        username=account["username"],
        role=Role(account["role"]),
        **{k: account[k] for k in keys},
    )


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.TOWN_ADMIN])
def test_reporter_identities_are_for_the_town_admin_only(db_conn: Connection, role: Role) -> None:
    assert _count(db_conn, ReporterIdentity, Scope.unrestricted()) > 0
    scope = Scope(role=role, town_codes=frozenset({DEMO_TOWN}))
    for model in (ReporterIdentity, Account, AuditLog, RevokedToken):
        assert _count(db_conn, model, scope) == 0, model


def test_town_admin_sees_only_identities_of_their_town(db_conn: Connection) -> None:
    mine = Scope(role=Role.TOWN_ADMIN, town_codes=frozenset({DEMO_TOWN}))
    other = Scope(role=Role.TOWN_ADMIN, town_codes=frozenset({"419999999000"}))
    total = _count(db_conn, ReporterIdentity, Scope.unrestricted())
    assert _count(db_conn, ReporterIdentity, mine) == total
    assert _count(db_conn, ReporterIdentity, other) == 0
    assert _count(db_conn, RevokedToken, mine) == 0  # read by the service, never by a scope


def test_grid_chief_sees_unit_slots_of_their_village(db_conn: Connection) -> None:
    unit_id, village = db_conn.execute(
        select(Unit.id, Unit.village_code).where(Unit.village_code.is_not(None)).limit(1)
    ).one()
    staff_id = db_conn.execute(select(Staff.id).limit(1)).scalar_one()
    db_conn.execute(
        insert(Responsibility).values(
            town_code=DEMO_TOWN,
            staff_id=staff_id,
            role="unit_inspector",
            unit_id=unit_id,
            valid_from=dt.date(2024, 1, 1),
        )
    )
    chief = Scope(
        role=Role.GRID_CHIEF, town_codes=frozenset({DEMO_TOWN}), village_codes=frozenset({village})
    )
    rows = db_conn.execute(
        select(Responsibility.unit_id).where(scope_clause(Responsibility, chief))
    ).scalars()
    assert unit_id in set(rows)


def test_scope_for_each_role(db_conn: Connection) -> None:
    village = db_conn.execute(select(Unit.village_code).limit(1)).scalar_one()
    staff_id = db_conn.execute(select(Staff.id).limit(1)).scalar_one()
    county = _principal(make_account(db_conn, Role.COUNTY_OFFICE, town_code=DEMO_TOWN))
    chief = _principal(make_account(db_conn, Role.GRID_CHIEF, village_code=village))
    dept = _principal(make_account(db_conn, Role.DEPARTMENT, department_code="SCJG"))
    inspector = _principal(make_account(db_conn, Role.INSPECTOR, staff_id=staff_id))
    public = _principal(make_account(db_conn, Role.PUBLIC))

    county_scope = scope_for(db_conn, county)
    assert county_scope.read_only and DEMO_TOWN in (county_scope.town_codes or ())
    assert scope_for(db_conn, chief).village_codes == {village}
    assert scope_for(db_conn, dept).department_codes == {"SCJG"}
    assert scope_for(db_conn, inspector).staff_id == staff_id
    public_scope = scope_for(db_conn, public)
    assert _count(db_conn, Hazard, public_scope) == 0
    assert _count(db_conn, Unit, public_scope) == 0
    for principal in (chief, dept, inspector, public):
        assert not scope_for(db_conn, principal).read_only
        assert scope_for(db_conn, principal).town_codes == {DEMO_TOWN}

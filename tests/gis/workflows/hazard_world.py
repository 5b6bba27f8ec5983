"""A unit every role can reach, one account and scope per role, and hazards in any state."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from gis.access import Role, Scope
from gis.audit import Actor
from gis.db.models import Hazard, Responsibility, Staff, Unit
from gis.domain import HazardLevel, HazardStatus
from gis.workflows.accounts import Principal, scope_for
from tests.accounts import make_account
from tests.conftest import DEMO_TOWN

TODAY = dt.date.today()


@dataclass
class HazardWorld:
    conn: Connection
    unit_id: int
    village: str
    department: str
    scopes: dict[Role, Scope]
    actors: dict[Role, Actor]
    accounts: dict[Role, dict[str, Any]]
    responsibility_id: int

    def second(self, role: Role) -> tuple[Scope, Actor]:
        """Another account of ``role`` with the same area (a second signer)."""
        account = make_account(self.conn, role, **_area(self, role))
        scope = _scope(self.conn, account)
        return scope, Actor.of(scope)

    def hazard(
        self,
        status: HazardStatus = HazardStatus.REPORTED,
        level: HazardLevel = HazardLevel.GENERAL,
        *,
        first_signer: str | None = None,
        version: int = 0,
    ) -> int:
        """A hazard on the world's unit, written straight into the table (no history)."""
        closed = status is HazardStatus.CLOSED
        found = TODAY - dt.timedelta(days=10)
        return int(
            self.conn.execute(
                insert(Hazard)
                .values(
                    town_code=DEMO_TOWN,
                    code=f"TST{uuid.uuid4().hex[:12]}",
                    unit_id=self.unit_id,
                    village_code=self.village,
                    source="department",
                    category="fire",
                    level=level,
                    description="测试隐患",
                    found_on=found,
                    closed_on=found if closed else None,
                    status=status,
                    supervised=level is HazardLevel.MAJOR,
                    first_signer=first_signer,
                    version=version,
                )
                .returning(Hazard.id)
            ).scalar_one()
        )


def _area(world: HazardWorld, role: Role) -> dict[str, Any]:
    extra = {
        Role.GRID_CHIEF: {"village_code": world.village},
        Role.DEPARTMENT: {"department_code": world.department},
        Role.INSPECTOR: {"staff_id": world.accounts[Role.INSPECTOR]["staff_id"]},
    }.get(role, {})
    return {"town_code": DEMO_TOWN, **extra}


def _scope(conn: Connection, account: dict[str, Any]) -> Scope:
    principal = Principal(
        account_id=int(account["id"]),
        username=account["username"],
        role=Role(account["role"]),
        county_code=account["county_code"],
        town_code=account["town_code"],
        village_code=account["village_code"],
        department_code=account["department_code"],
        staff_id=account["staff_id"],
    )
    return scope_for(conn, principal)


def make_world(conn: Connection) -> HazardWorld:
    unit = (
        conn.execute(
            select(Unit.id, Unit.village_code, Unit.department_code)
            .where(Unit.town_code == DEMO_TOWN, Unit.village_code.is_not(None))
            .order_by(Unit.id)
            .limit(1)
        )
        .mappings()
        .one()
    )
    staff_id = conn.execute(
        select(Staff.id).where(Staff.town_code == DEMO_TOWN).order_by(Staff.id).limit(1)
    ).scalar_one()
    responsibility_id = conn.execute(
        insert(Responsibility)
        .values(
            town_code=DEMO_TOWN,
            staff_id=staff_id,
            role="unit_inspector",
            unit_id=unit["id"],
            valid_from=dt.date(2024, 1, 1),
        )
        .returning(Responsibility.id)
    ).scalar_one()
    area: dict[Role, dict[str, Any]] = {
        Role.GRID_CHIEF: {"village_code": unit["village_code"]},
        Role.DEPARTMENT: {"department_code": unit["department_code"]},
        Role.INSPECTOR: {"staff_id": staff_id},
    }
    accounts = {
        role: make_account(conn, role, town_code=DEMO_TOWN, **area.get(role, {})) for role in Role
    }
    scopes = {role: _scope(conn, account) for role, account in accounts.items()}
    return HazardWorld(
        conn,
        int(unit["id"]),
        str(unit["village_code"]),
        str(unit["department_code"]),
        scopes,
        {role: Actor.of(scope) for role, scope in scopes.items()},
        accounts,
        int(responsibility_id),
    )

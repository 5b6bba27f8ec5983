"""The assignment workflow on the demo town: coverage, explanations, stability, history, dry run."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Connection, func, select, update

from gis.access import Role, Scope
from gis.analysis import assignment_rules as rules
from gis.audit import Actor
from gis.db.assignment_models import AssignmentRun
from gis.db.models import Responsibility, Staff, Unit
from gis.domain import FireKeyLevel, OperatingStatus, ResponsibilityRole
from gis.errors import Forbidden, InvalidInput
from gis.queries import assignments as q
from gis.queries import responsibilities as rq
from gis.workflows.assignments import run_assignment, teams_on

TOWN = "411003101000"
D1, D2 = dt.date(2025, 1, 1), dt.date(2025, 3, 1)
ADMIN = Scope.unrestricted()
ACTOR = Actor.system("test:assign", town_code=TOWN)


def count(conn: Connection, model: type) -> int:
    return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_dry_run_writes_nothing(db_conn: Connection) -> None:
    before = count(db_conn, Responsibility), count(db_conn, AssignmentRun)
    report = run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=True, actor=ACTOR)
    assert not report.written and report.changes and report.filled > 0
    assert (count(db_conn, Responsibility), count(db_conn, AssignmentRun)) == before


def test_demo_town_every_grid_and_key_unit_covered_or_explained(db_conn: Connection) -> None:
    report = run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=False, actor=ACTOR)
    assert report.written and report.run_id is not None
    assert report.gap < 0.01
    counts = {s.role: s for s in report.slots}
    n_villages = len(q.frame(db_conn, q.villages_in_town(TOWN, ADMIN)))
    assert counts["grid_chief"].required == counts["grid_chief"].filled == n_villages
    held = q.frame(db_conn, rq.responsibilities_on(TOWN, D1, ADMIN))
    chiefs = held[held["role"] == "grid_chief"]
    assert chiefs["village_code"].nunique() == n_villages
    # Every key unit has a complete team, or each missing role is explained for its place.
    units = q.frame(db_conn, q.units_in_town(TOWN, ADMIN))
    key = units[rules.needs_team(units)]
    assert len(key) == int(
        (
            (units["fire_key_level"] != FireKeyLevel.NONE.value)
            & units["status"].isin(["operating", "seasonal"])
        ).sum()
    )
    teams = teams_on(db_conn, TOWN, D1, ADMIN)
    assert len(teams) == len(key)
    explained = {(i.role, i.place) for i in report.infeasibilities}
    for team in teams:
        assert len(team.members) + len(team.missing_roles) == 5
        assert len({m.staff_id for m in team.members}) == len(team.members)
        for role in team.missing_roles:
            rule = rules.RULES[ResponsibilityRole(role)]
            place = team.village_name if rule.same_village else None
            assert any(r == role and (place is None or p == place) for r, p in explained), (
                team.unit_name,
                role,
            )
    # Capacity is respected in the written records.
    staff = q.frame(db_conn, q.staff_in_town(TOWN, ADMIN)).set_index("id")
    team_roles = [r.value for r in rules.TEAM_ROLES] + ["grid_chief"]
    team_load = held[held["role"].isin(team_roles)].groupby("staff_id").size()
    unit_load = held[held["role"] == "unit_inspector"].groupby("staff_id").size()
    assert (team_load <= staff.loc[team_load.index, "capacity_teams"]).all()
    assert (unit_load <= staff.loc[unit_load.index, "capacity_units"]).all()


def test_infeasibility_is_explained_in_planner_words(db_conn: Connection) -> None:
    village = (
        db_conn.execute(select(Staff.home_village_code).where(Staff.role == "village_staff"))
        .scalars()
        .first()
    )
    db_conn.execute(update(Staff).where(Staff.home_village_code == village).values(active=False))
    report = run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=True, actor=ACTOR)
    msgs = [i.message for i in report.infeasibilities if i.code == "no_candidate"]
    assert any("没有在岗的村级网格员" in m for m in msgs), msgs


def test_removing_one_person_changes_only_their_slots(db_conn: Connection) -> None:
    run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=False, actor=ACTOR)
    first = q.frame(db_conn, rq.responsibilities_on(TOWN, D1, ADMIN))
    counts = first.groupby("staff_id").size()
    leaver = int(counts.index[counts.argmax()])
    db_conn.execute(update(Staff).where(Staff.id == leaver).values(active=False))
    report = run_assignment(db_conn, TOWN, D2, ADMIN, dry_run=False, actor=ACTOR)
    assert report.changes
    assert {c.before_staff_id for c in report.changes} == {leaver}
    second = q.frame(db_conn, rq.responsibilities_on(TOWN, D2, ADMIN))
    key = ["role", "village_code", "unit_id", "staff_id"]
    others_before = first[first["staff_id"] != leaver][key]
    kept = others_before.merge(second[key], how="inner")
    assert len(kept) == len(others_before)
    assert leaver not in set(second["staff_id"])
    for change in report.changes:
        assert "已不在岗" in change.reason


def test_point_in_time_after_two_runs(db_conn: Connection) -> None:
    run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=False, actor=ACTOR)
    unit_id, inspector = db_conn.execute(
        select(Responsibility.unit_id, Responsibility.staff_id).where(
            Responsibility.role == "unit_inspector", Responsibility.valid_to.is_(None)
        )
    ).first()
    db_conn.execute(update(Staff).where(Staff.id == inspector).values(active=False))
    run_assignment(db_conn, TOWN, D2, ADMIN, dry_run=False, actor=ACTOR)

    def inspector_on(day: dt.date) -> set[int]:
        rows = q.frame(db_conn, rq.responsible_for_unit(unit_id, day, ADMIN))
        return set(rows.loc[rows["role"] == "unit_inspector", "staff_id"])

    assert inspector_on(D1) == {inspector}
    assert inspector_on(D2 - dt.timedelta(days=1)) == {inspector}
    now = inspector_on(D2)
    assert inspector not in now and len(now) <= 1
    assert inspector_on(D1 - dt.timedelta(days=1)) == set()


def test_closed_unit_releases_its_inspector(db_conn: Connection) -> None:
    run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=False, actor=ACTOR)
    unit_id = (
        db_conn.execute(
            select(Responsibility.unit_id).where(Responsibility.role == "unit_inspector")
        )
        .scalars()
        .first()
    )
    db_conn.execute(update(Unit).where(Unit.id == unit_id).values(status=OperatingStatus.CLOSED))
    report = run_assignment(db_conn, TOWN, D2, ADMIN, dry_run=False, actor=ACTOR)
    released = [c for c in report.changes if c.unit_id == unit_id]
    assert released and all(c.after_staff_id is None for c in released)
    assert "不再需要" in released[0].reason


def test_scope_refusals(db_conn: Connection) -> None:
    with pytest.raises(Forbidden):
        run_assignment(
            db_conn,
            TOWN,
            D1,
            Scope(role=Role.TOWN_ADMIN, read_only=True),
            dry_run=False,
            actor=ACTOR,
        )
    with pytest.raises(Forbidden):
        run_assignment(
            db_conn,
            TOWN,
            D1,
            Scope(role=Role.DEPARTMENT, department_codes=frozenset({"AJB"})),
            actor=ACTOR,
        )
    with pytest.raises(Forbidden):
        run_assignment(
            db_conn,
            TOWN,
            D1,
            Scope(role=Role.TOWN_ADMIN, town_codes=frozenset({"411003102000"})),
            actor=ACTOR,
        )
    # A read-only town account may preview.
    preview = run_assignment(
        db_conn, TOWN, D1, Scope(role=Role.TOWN_ADMIN, read_only=True), actor=ACTOR
    )
    assert not preview.written


def test_backdated_run_is_refused(db_conn: Connection) -> None:
    run_assignment(db_conn, TOWN, D2, ADMIN, dry_run=False, actor=ACTOR)
    with pytest.raises(InvalidInput):
        run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=True, actor=ACTOR)


def test_same_day_rerun_replaces_instead_of_closing(db_conn: Connection) -> None:
    run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=False, actor=ACTOR)
    again = run_assignment(db_conn, TOWN, D1, ADMIN, dry_run=False, actor=ACTOR)
    assert again.changes == []
    held = pd.DataFrame(q.frame(db_conn, rq.responsibilities_on(TOWN, D1, ADMIN)))
    assert not held.duplicated(["role", "village_code", "unit_id", "staff_id"]).any()

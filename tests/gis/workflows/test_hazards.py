"""The hazard state machine against the real database: every verb × state × level × role."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, text

from gis.access import Role
from gis.audit import Actor
from gis.db.access_models import AuditLog
from gis.db.hazard_models import HazardHistory
from gis.db.models import Hazard
from gis.domain import HazardCategory, HazardLevel, HazardStatus
from gis.errors import (
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
    StaleVersion,
    TransitionRefused,
)
from gis.workflows import hazard_ledger
from gis.workflows.hazards import (
    TRANSITIONS,
    Move,
    Need,
    NewHazard,
    Verb,
    report_hazard,
    roles_for,
    transition,
)
from tests.gis.workflows.hazard_world import TODAY, HazardWorld, make_world

DEADLINE_VERBS = {t.verb for t in TRANSITIONS if Need.DEADLINE in t.needs}


@pytest.fixture
def world(db_conn: Connection) -> HazardWorld:
    return make_world(db_conn)


def _move(verb: Verb, version: int = 0, **kw: Any) -> Move:
    deadline = TODAY + dt.timedelta(days=7) if verb in DEADLINE_VERBS else None
    return Move(verb, version, deadline=deadline, note="测试理由", **kw)


def _row(conn: Connection, hazard_id: int) -> Any:
    return conn.execute(select(Hazard).where(Hazard.id == hazard_id)).mappings().one()


def _history(conn: Connection, hazard_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(HazardHistory)
            .where(HazardHistory.hazard_id == hazard_id)
            .order_by(HazardHistory.seq)
        ).mappings()
    )


def test_the_table_is_well_formed() -> None:
    """At most one row per (verb, state, level, role): the outcome never depends on order."""
    seen: set[tuple[Any, ...]] = set()
    for t in TRANSITIONS:
        for level in t.levels:
            for role in t.roles:
                key = (t.verb, t.source, level, role)
                assert key not in seen, key
                seen.add(key)
    assert all(
        Role.COUNTY_OFFICE not in t.roles and Role.PUBLIC not in t.roles for t in TRANSITIONS
    )


@pytest.mark.parametrize("status", list(HazardStatus), ids=str)
@pytest.mark.parametrize("verb", list(Verb), ids=str)
def test_every_transition_and_role(world: HazardWorld, verb: Verb, status: HazardStatus) -> None:
    """Generated from the table: allowed cases move to the table's target (one history row,
    one audit entry); every other role and level is refused and leaves the row untouched."""
    conn = world.conn
    for level in HazardLevel:
        for role in Role:
            rows = [
                t
                for t in TRANSITIONS
                if t.verb is verb and t.source is status and level in t.levels
            ]
            allowed = [t for t in rows if role in t.roles]
            # A countersign state needs a first signer who is someone else.
            first = "someone-else" if status is HazardStatus.AWAITING_COUNTERSIGN else None
            hazard_id = world.hazard(status, level, first_signer=first)
            audits = conn.execute(select(AuditLog.id).order_by(AuditLog.id.desc())).first()
            case = f"{verb} {status} {level} as {role}"
            if allowed:
                result = transition(
                    conn, world.scopes[role], world.actors[role], hazard_id, _move(verb)
                )
                assert result["status"] == allowed[0].target, case
                row = _row(conn, hazard_id)
                assert (row["status"], row["version"]) == (allowed[0].target, 1), case
                history = _history(conn, hazard_id)
                assert [
                    (h["seq"], h["from_status"], h["to_status"], h["verb"]) for h in history
                ] == [(1, status.value, allowed[0].target.value, verb.value)], case
                logged = (
                    conn.execute(
                        select(AuditLog.action).where(
                            AuditLog.table_name == "hazards", AuditLog.row_key == str(hazard_id)
                        )
                    )
                    .scalars()
                    .all()
                )
                assert logged == [verb.value], case
                continue
            expected: type[Exception] = TransitionRefused
            if role in (Role.COUNTY_OFFICE, Role.PUBLIC) or role not in roles_for(verb) or rows:
                expected = Forbidden
            with pytest.raises(Exception) as caught, conn.begin_nested():
                transition(conn, world.scopes[role], world.actors[role], hazard_id, _move(verb))
            assert type(caught.value) is expected, f"{case}: {caught.value!r}"
            row = _row(conn, hazard_id)
            assert (row["status"], row["version"]) == (status, 0), case
            assert _history(conn, hazard_id) == [], case
            latest = conn.execute(select(AuditLog.id).order_by(AuditLog.id.desc())).first()
            assert latest == audits, case


def test_major_hazard_needs_department_review_and_two_signers(world: HazardWorld) -> None:
    conn = world.conn
    new = NewHazard(
        category=HazardCategory.DUST,
        description="粉尘涉爆除尘系统未设泄爆装置",
        level=HazardLevel.MAJOR,
        unit_id=world.unit_id,
        major_basis="工贸行业重大事故隐患判定标准 第十一条",
    )
    admin, dept = Role.TOWN_ADMIN, Role.DEPARTMENT
    hazard = report_hazard(conn, world.scopes[Role.INSPECTOR], world.actors[Role.INSPECTOR], new)
    hid = hazard["id"]
    assert (hazard["status"], hazard["version"], hazard["supervised"]) == ("reported", 1, True)
    steps = [
        (Role.INSPECTOR, Verb.CONFIRM),
        (Role.INSPECTOR, Verb.RECTIFY),
        (Role.GRID_CHIEF, Verb.SUBMIT),
    ]
    for role, verb in steps:
        hazard = transition(
            conn, world.scopes[role], world.actors[role], hid, _move(verb, hazard["version"])
        )
    with pytest.raises(Forbidden, match="行业部门"):
        transition(conn, world.scopes[admin], world.actors[admin], hid, _move(Verb.REVIEW, 4))
    hazard = transition(conn, world.scopes[dept], world.actors[dept], hid, _move(Verb.REVIEW, 4))
    hazard = transition(
        conn, world.scopes[admin], world.actors[admin], hid, _move(Verb.SIGN_OFF, 5)
    )
    assert hazard["status"] == "awaiting_countersign"
    assert hazard["first_signer"] == world.actors[admin].username
    with pytest.raises(TransitionRefused, match="另一人"):
        transition(conn, world.scopes[admin], world.actors[admin], hid, _move(Verb.SIGN_OFF, 6))
    other_scope, other_actor = world.second(admin)
    hazard = transition(conn, other_scope, other_actor, hid, _move(Verb.SIGN_OFF, 6))
    assert (hazard["status"], hazard["closed_on"], hazard["version"]) == ("closed", TODAY, 7)
    chain = _history(conn, hid)
    assert [h["verb"] for h in chain] == [
        "report",
        "confirm",
        "rectify",
        "submit",
        "review",
        "sign-off",
        "sign-off",
    ]
    assert {h["actor"] for h in chain[-2:]} == {
        world.actors[admin].username,
        other_actor.username,
    }
    assert hazard_ledger.verify(conn) == []


def test_fix_on_spot_is_for_general_hazards_only(world: HazardWorld) -> None:
    conn, chief = world.conn, Role.GRID_CHIEF
    hid = world.hazard()
    hazard = transition(
        conn, world.scopes[chief], world.actors[chief], hid, _move(Verb.FIX_ON_SPOT)
    )
    assert hazard["status"] == "closed"
    assert hazard["deadline"] == hazard["rectified_on"] == hazard["closed_on"] == TODAY
    major = world.hazard(level=HazardLevel.MAJOR)
    with pytest.raises(TransitionRefused, match="重大"):
        transition(conn, world.scopes[chief], world.actors[chief], major, _move(Verb.FIX_ON_SPOT))


def test_stale_and_missing_versions_are_refused(world: HazardWorld) -> None:
    conn, admin = world.conn, Role.TOWN_ADMIN
    scope, actor = world.scopes[admin], world.actors[admin]
    hid = world.hazard(version=3)
    with pytest.raises(StaleVersion) as stale:
        transition(conn, scope, actor, hid, _move(Verb.CONFIRM, 2))
    assert stale.value.current["version"] == 3 and stale.value.current["status"] == "reported"
    with pytest.raises(PreconditionFailed):
        transition(conn, scope, actor, hid, _move(Verb.CONFIRM, 2, if_match=True))
    with pytest.raises(PreconditionRequired):
        transition(conn, scope, actor, hid, Move(Verb.CONFIRM, None))
    with pytest.raises(InvalidInput, match="deadline"):
        transition(conn, scope, actor, hid, Move(Verb.RECTIFY, 3))
    assert transition(conn, scope, actor, hid, _move(Verb.CONFIRM, 3))["version"] == 4


def test_out_of_scope_hazard_is_not_found(world: HazardWorld, db_conn: Connection) -> None:
    from gis.errors import NotFound

    other_village = db_conn.execute(
        text("SELECT code FROM villages WHERE code <> :v ORDER BY code LIMIT 1"),
        {"v": world.village},
    ).scalar_one()
    hid = world.hazard()
    db_conn.execute(
        text("UPDATE hazards SET village_code = :v WHERE id = :id"), {"v": other_village, "id": hid}
    )
    chief = Role.GRID_CHIEF
    with pytest.raises(NotFound):
        transition(db_conn, world.scopes[chief], world.actors[chief], hid, _move(Verb.FIX_ON_SPOT))


# --- two sign-offs at once ----------------------------------------------------------------------


@pytest.fixture
def committed_hazard(db_engine: Engine) -> Any:
    """A reviewed general hazard committed to the database (two connections must see it);
    removed afterwards with the append-only trigger disabled inside the cleanup transaction."""
    with db_engine.begin() as conn:
        world = make_world(conn)
        hazard_id = world.hazard(HazardStatus.REVIEWED)
        second = world.second(Role.DEPARTMENT)
        accounts = [a["id"] for a in world.accounts.values()]
        seconds = conn.execute(
            text("SELECT id FROM accounts WHERE username = :u"), {"u": second[1].username}
        ).scalar_one()
    yield world, hazard_id, second
    with db_engine.begin() as conn:
        conn.execute(text("ALTER TABLE hazard_history DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM hazard_history WHERE hazard_id = :h"), {"h": hazard_id})
        conn.execute(
            text("DELETE FROM audit_log WHERE table_name = 'hazards' AND row_key = :h"),
            {"h": str(hazard_id)},
        )
        conn.execute(text("DELETE FROM hazards WHERE id = :h"), {"h": hazard_id})
        conn.execute(
            text("DELETE FROM responsibilities WHERE id = :r"), {"r": world.responsibility_id}
        )
        conn.execute(
            text("DELETE FROM accounts WHERE id = ANY(:ids)"), {"ids": [*accounts, seconds]}
        )
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE hazard_history ENABLE TRIGGER USER"))


def test_two_concurrent_sign_offs_exactly_one_wins(
    db_engine: Engine, committed_hazard: Any
) -> None:
    world, hazard_id, (dept2_scope, dept2_actor) = committed_hazard
    signers = [
        (world.scopes[Role.TOWN_ADMIN], world.actors[Role.TOWN_ADMIN]),
        (dept2_scope, dept2_actor),
    ]
    barrier = threading.Barrier(2)
    outcomes: list[Any] = [None, None]

    def sign(i: int) -> None:
        scope, actor = signers[i]
        try:
            with db_engine.begin() as conn:
                barrier.wait(timeout=10)
                result = transition(conn, scope, actor, hazard_id, Move(Verb.SIGN_OFF, 0))
                # Hold the row lock a moment so the other transaction is surely waiting on it.
                conn.execute(text("SELECT pg_sleep(0.3)"))
                outcomes[i] = result["status"]
        except Exception as exc:  # noqa: BLE001 - the loser's refusal is the point
            outcomes[i] = exc

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    wins = [o for o in outcomes if o == "closed"]
    losses = [o for o in outcomes if isinstance(o, StaleVersion)]
    assert len(wins) == 1 and len(losses) == 1, outcomes
    assert losses[0].current["status"] == "closed" and losses[0].current["version"] == 1
    with db_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT seq, verb FROM hazard_history WHERE hazard_id = :h"), {"h": hazard_id}
        ).all()
        assert rows == [(1, "sign-off")]
        assert conn.execute(
            text("SELECT status, version FROM hazards WHERE id = :h"), {"h": hazard_id}
        ).one() == ("closed", 1)


# --- the chain ----------------------------------------------------------------------------------


def _three_rows(world: HazardWorld) -> tuple[int, list[Any]]:
    conn, insp = world.conn, Role.INSPECTOR
    new = NewHazard(category=HazardCategory.FIRE, description="灭火器过期", unit_id=world.unit_id)
    hazard = report_hazard(conn, world.scopes[insp], world.actors[insp], new)
    hazard = transition(
        conn, world.scopes[insp], world.actors[insp], hazard["id"], _move(Verb.CONFIRM, 1)
    )
    hazard = transition(
        conn, world.scopes[insp], world.actors[insp], hazard["id"], _move(Verb.RECTIFY, 2)
    )
    assert hazard_ledger.verify(conn) == []
    return hazard["id"], _history(conn, hazard["id"])


def _untrigger(conn: Connection) -> None:
    # What someone with the table owner's rights could do; rolled back with the test.
    conn.execute(text("ALTER TABLE hazard_history DISABLE TRIGGER USER"))


def test_history_is_append_only(world: HazardWorld) -> None:
    hid, rows = _three_rows(world)
    with pytest.raises(Exception, match="append-only"), world.conn.begin_nested():
        world.conn.execute(text("DELETE FROM hazard_history WHERE id = :i"), {"i": rows[0]["id"]})


def test_a_tampered_row_is_named(world: HazardWorld) -> None:
    hid, rows = _three_rows(world)
    _untrigger(world.conn)
    world.conn.execute(
        text("UPDATE hazard_history SET actor = 'someone' WHERE id = :i"), {"i": rows[1]["id"]}
    )
    problems = [p for p in hazard_ledger.verify(world.conn) if p.hazard_id == hid]
    assert len(problems) == 1
    assert (problems[0].seq, problems[0].history_id) == (2, rows[1]["id"])
    assert "content changed" in problems[0].reason


def test_a_deleted_middle_row_is_named(world: HazardWorld) -> None:
    hid, rows = _three_rows(world)
    _untrigger(world.conn)
    world.conn.execute(text("DELETE FROM hazard_history WHERE id = :i"), {"i": rows[1]["id"]})
    (problem,) = hazard_ledger.verify(world.conn)
    assert (problem.hazard_id, problem.seq, problem.history_id) == (hid, 2, None)
    assert "missing" in problem.reason


def test_a_deleted_last_row_is_named(world: HazardWorld) -> None:
    hid, rows = _three_rows(world)
    _untrigger(world.conn)
    world.conn.execute(text("DELETE FROM hazard_history WHERE id = :i"), {"i": rows[2]["id"]})
    (problem,) = hazard_ledger.verify(world.conn)
    assert (problem.hazard_id, problem.seq) == (hid, 3)
    assert "version 3" in problem.reason


def test_a_status_edited_behind_the_history_is_named(world: HazardWorld) -> None:
    hid, rows = _three_rows(world)
    world.conn.execute(
        text("UPDATE hazards SET status = 'closed', closed_on = found_on WHERE id = :h"), {"h": hid}
    )
    (problem,) = hazard_ledger.verify(world.conn)
    assert (problem.hazard_id, problem.history_id) == (hid, rows[2]["id"])


def test_actor_is_hashed(world: HazardWorld) -> None:
    """The witness: recompute row 1's hash by hand from its stored content."""
    import hashlib
    import json

    hid, rows = _three_rows(world)
    first = rows[0]
    content = {k: first[k] for k in hazard_ledger.HASHED}
    content["at"] = first["at"].astimezone(dt.UTC).isoformat(timespec="microseconds")
    text_ = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert hashlib.sha256(text_.encode()).hexdigest() == first["hash"]
    assert rows[1]["prev_hash"] == first["hash"] and first["prev_hash"] == "0" * 64
    assert isinstance(Actor, type)

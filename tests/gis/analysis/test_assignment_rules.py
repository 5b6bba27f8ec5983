"""Slot and eligibility rules on hand-built towns."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.analysis import assignment_rules as rules
from gis.domain import ResponsibilityRole as R

TOWN = "411003101000"
V1, V2 = "411003101001", "411003101002"


def villages() -> pd.DataFrame:
    return pd.DataFrame({"code": [V1, V2], "town_code": [TOWN, TOWN]})


def units(**overrides: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "id": [1, 2, 3],
        "town_code": [TOWN] * 3,
        "village_code": [V1, V1, V2],
        "department_code": ["AJB", "SCJG", "SCJG"],
        "status": ["operating", "closed", "seasonal"],
        "fire_key_level": ["county", "town", "none"],
    }
    base.update(overrides)
    return pd.DataFrame(base)


def staff(**overrides: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "id": [10, 11, 12, 13, 14, 15, 16, 17],
        "town_code": [TOWN] * 8,
        "department_code": ["AJB", "SCJG", "LD", "CUN", "CUN", "XF", "ZJZ", "AJB"],
        "role": [
            "inspector",
            "inspector",
            "leader",
            "village_staff",
            "village_staff",
            "firefighter",
            "professional",
            "town_cadre",
        ],
        "home_village_code": [None, None, None, V1, V1, None, None, None],
        "capacity_units": [10, 10, 20, 30, 30, 10, 0, 20],
        "capacity_teams": [5, 5, 5, 4, 0, 5, 5, 5],
        "active": [True] * 8,
    }
    base.update(overrides)
    return pd.DataFrame(base)


def test_required_slots_per_village_unit_and_key_unit() -> None:
    slots = rules.required_slots(villages(), units(), staff())
    counts = slots.groupby("role").size().to_dict()
    # V1 has two village staff → two 网格员 seats; V2 has none → still one seat.
    assert counts[R.GRID_CHIEF.value] == 2 and counts[R.GRID_MEMBER.value] == 3
    # Unit 2 is closed: no inspector, no team although it is a key unit.
    assert counts[R.UNIT_INSPECTOR.value] == 2
    for role in rules.TEAM_ROLES:
        assert counts[role.value] == 1
    team = slots[slots["role"].isin([r.value for r in rules.TEAM_ROLES])]
    assert set(team["team"]) == {"unit:1"} and set(team["pool"]) == {int(rules.Pool.TEAMS)}


def test_candidate_pairs_follow_department_village_and_role() -> None:
    slots = rules.required_slots(villages(), units(), staff())
    pairs = rules.candidate_pairs(slots, staff()).merge(
        slots[["role", "unit_id", "village_code"]], left_on="slot", right_index=True
    )

    def who(role: R, **where: object) -> set[int]:
        sel = pairs["role"] == role.value
        for k, v in where.items():
            sel &= pairs[k] == v
        return set(pairs.loc[sel, "staff_id"])

    assert who(R.UNIT_INSPECTOR, unit_id=1) == {10, 17}  # AJB staff for an AJB unit
    assert who(R.UNIT_INSPECTOR, unit_id=3) == {11}  # SCJG for SCJG
    assert who(R.TEAM_REGULATOR, unit_id=1) == {10, 17}
    assert who(R.TEAM_TOWN_CADRE, unit_id=1) == {12, 17}
    assert who(R.TEAM_VILLAGE_STAFF, unit_id=1) == {13}  # 14 has no team capacity
    assert who(R.TEAM_FIRE_POLICE) == {15}
    assert who(R.TEAM_PROFESSIONAL) == {16}
    assert who(R.GRID_CHIEF, village_code=V1) == {12, 17}
    assert who(R.GRID_MEMBER, village_code=V1) == {13, 14}
    assert who(R.GRID_MEMBER, village_code=V2) == set()


def test_inactive_staff_are_never_candidates() -> None:
    s = staff(active=[False] + [True] * 7)
    slots = rules.required_slots(villages(), units(), s)
    assert 10 not in set(rules.candidate_pairs(slots, s)["staff_id"])


def test_is_eligible_agrees_with_candidate_pairs() -> None:
    s = staff()
    u = units()
    slots = rules.required_slots(villages(), u, s)
    pairs = set(
        map(
            tuple,
            rules.candidate_pairs(slots, s.assign(capacity_units=1, capacity_teams=1))[
                ["slot", "staff_id"]
            ].to_numpy(),
        )
    )
    for slot, row in slots.iterrows():
        target = {
            "town_code": row["town_code"],
            "village_code": row["village_code"],
            "department_code": row["department_code"],
        }
        for person in s.to_dict("records"):
            assert rules.is_eligible(row["role"], person, target) == ((slot, person["id"]) in pairs)


def test_missing_slots_name_the_missing_team_roles() -> None:
    s = staff()
    slots = rules.required_slots(villages(), units(), s)
    holders = pd.DataFrame(
        {
            "staff_id": [10, 12, 13, 99],
            "village_code": [None, None, None, None],
            "role": [
                "team_regulator",
                "team_town_cadre",
                "team_village_staff",
                "team_professional",
            ],
            "unit_id": [1, 1, 1, 1],
        }
    )
    missing = rules.missing_slots(slots, holders, s)
    team_missing = set(missing.loc[missing["unit_id"] == 1, "role"]) - {R.UNIT_INSPECTOR.value}
    # 99 is nobody on the staff list: the professional seat counts as missing.
    assert team_missing == {R.TEAM_FIRE_POLICE.value, R.TEAM_PROFESSIONAL.value}
    assert (missing["who"].str.len() > 0).all()


def test_required_slots_checks_its_columns() -> None:
    with pytest.raises(ValueError, match="units lacks"):
        rules.required_slots(villages(), units().drop(columns="status"), staff())


def test_a_stale_record_does_not_hide_a_valid_holder() -> None:
    # Unit 3 (SCJG, seasonal) has two inspector records: 10 (AJB, wrong department, lower id)
    # and 11 (SCJG, valid). The single seat goes to the valid one, so the unit is covered.
    s = staff()
    slots = rules.required_slots(villages(), units(), s)
    holders = pd.DataFrame(
        {
            "staff_id": [10, 11],
            "role": ["unit_inspector"] * 2,
            "village_code": [None, None],
            "unit_id": [3, 3],
        }
    )
    missing = rules.missing_slots(slots, holders, s)
    assert not ((missing["unit_id"] == 3) & (missing["role"] == R.UNIT_INSPECTOR.value)).any()
    # Alone, the wrong-department record leaves the seat vacant.
    alone = rules.missing_slots(slots, holders.iloc[:1], s)
    assert ((alone["unit_id"] == 3) & (alone["role"] == R.UNIT_INSPECTOR.value)).any()
    # Without validity flags the lower id takes the seat (the workflow's stable order).
    assert rules.seat_holders(slots, holders)["staff_id"].tolist() == [10]

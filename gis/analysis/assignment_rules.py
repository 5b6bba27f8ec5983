"""Who must be assigned where, and who may fill each slot: the one home of 定人定岗定责 rules.

The assignment engine (``gis.analysis.assignment``) and the coverage-gap report both read these
rules, so "a key unit's 五包一 team is incomplete" means the same thing in both places.

Slots
-----
* per village (grid): one 网格长 (``grid_chief``) and its 网格员 (``grid_member``, one seat per
  active village staff member living there, at least one);
* per operating unit (status operating or seasonal): one 责任监管人员 (``unit_inspector``);
* per fire-safety key unit (``fire_key_level != none``, operating or seasonal): the five 五包一
  roles ``team_regulator``, ``team_town_cadre``, ``team_village_staff``, ``team_fire_police``,
  ``team_professional``.

Eligibility (all: active, same town, capacity > 0 in the pool the slot consumes)
-------------------------------------------------------------------------------
* 网格长: a town-level cadre who 包村 — 包片领导, 乡镇干部 or 安委办主任. The village 支书 is not a
  staff record (data/README), and making the chief a town cadre gives each grid an accountable
  person distinct from its 网格员. Consumes one ``capacity_teams``.
* 网格员: village staff whose home village is the grid; consumes no capacity (it is their post).
* 责任监管人员 and 行业监管部门干部: staff of the unit's own department (三管三必须) in a
  supervising role (inspector, office head, town cadre, police, firefighter).
  ``unit_inspector`` consumes ``capacity_units``; every team role consumes ``capacity_teams``.
* 乡镇干部: town cadre, leader or office head. 村（社区）工作人员: village staff of the unit's
  village. 消防或派出所人员: firefighter or police. 专业人员: professional (expert pool).
* Nobody holds two roles of the same team (the grid's chief and members count as one team).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import pandas as pd

from gis.domain import OPERATING_STATUSES, FireKeyLevel, ResponsibilityRole, StaffRole

R = ResponsibilityRole
S = StaffRole


class Pool(IntEnum):
    """The capacity a slot consumes: ``Staff.capacity_units``, ``capacity_teams`` or none."""

    NONE = -1
    UNITS = 0
    TEAMS = 1


_SUPERVISORS = frozenset({S.INSPECTOR, S.OFFICE_HEAD, S.TOWN_CADRE, S.POLICE, S.FIREFIGHTER})
_TOWN_CADRES = frozenset({S.LEADER, S.TOWN_CADRE, S.OFFICE_HEAD})


@dataclass(frozen=True)
class SlotRule:
    """Who may hold one kind of slot."""

    role: ResponsibilityRole
    staff_roles: frozenset[StaffRole]
    #: the person's department must equal the unit's (三管三必须)
    same_department: bool
    #: the person's home village must equal the grid's / unit's village
    same_village: bool
    pool: Pool
    #: who is eligible, in a planner's words
    who: str


RULES: dict[ResponsibilityRole, SlotRule] = {
    R.GRID_CHIEF: SlotRule(
        R.GRID_CHIEF,
        _TOWN_CADRES,
        False,
        False,
        Pool.TEAMS,
        "包村干部（包片领导、乡镇干部或安委办主任）",
    ),
    R.GRID_MEMBER: SlotRule(
        R.GRID_MEMBER,
        frozenset({S.VILLAGE_STAFF}),
        False,
        True,
        Pool.NONE,
        "本村（社区）村级网格员",
    ),
    R.UNIT_INSPECTOR: SlotRule(
        R.UNIT_INSPECTOR, _SUPERVISORS, True, False, Pool.UNITS, "行业监管部门人员"
    ),
    R.TEAM_REGULATOR: SlotRule(
        R.TEAM_REGULATOR, _SUPERVISORS, True, False, Pool.TEAMS, "行业监管部门干部"
    ),
    R.TEAM_TOWN_CADRE: SlotRule(
        R.TEAM_TOWN_CADRE, _TOWN_CADRES, False, False, Pool.TEAMS, "乡镇干部"
    ),
    R.TEAM_VILLAGE_STAFF: SlotRule(
        R.TEAM_VILLAGE_STAFF,
        frozenset({S.VILLAGE_STAFF}),
        False,
        True,
        Pool.TEAMS,
        "本村（社区）工作人员",
    ),
    R.TEAM_FIRE_POLICE: SlotRule(
        R.TEAM_FIRE_POLICE,
        frozenset({S.FIREFIGHTER, S.POLICE}),
        False,
        False,
        Pool.TEAMS,
        "消防人员或派出所民警",
    ),
    R.TEAM_PROFESSIONAL: SlotRule(
        R.TEAM_PROFESSIONAL, frozenset({S.PROFESSIONAL}), False, False, Pool.TEAMS, "专业人员"
    ),
}

#: The five 五包一 roles, in the order of the 责任公示表.
TEAM_ROLES: tuple[ResponsibilityRole, ...] = (
    R.TEAM_REGULATOR,
    R.TEAM_TOWN_CADRE,
    R.TEAM_VILLAGE_STAFF,
    R.TEAM_FIRE_POLICE,
    R.TEAM_PROFESSIONAL,
)
GRID_ROLES: tuple[ResponsibilityRole, ...] = (R.GRID_CHIEF, R.GRID_MEMBER)

#: Columns of the slot table returned by :func:`required_slots`.
SLOT_COLUMNS = (
    "role",
    "town_code",
    "village_code",
    "unit_id",
    "department_code",
    "seat",
    "team",
    "pool",
)


def needs_inspector(units: pd.DataFrame) -> pd.Series:
    """Units that must have a responsible inspector: operating or seasonal."""
    return units["status"].astype(str).isin(OPERATING_STATUSES)


def needs_team(units: pd.DataFrame) -> pd.Series:
    """Units that must have a 五包一 team: fire-safety key units that operate."""
    key = units["fire_key_level"].astype(str) != FireKeyLevel.NONE.value
    return needs_inspector(units) & key


def grid_member_seats(villages: pd.DataFrame, staff: pd.DataFrame) -> pd.Series:
    """网格员 seats per village: its active village staff, and at least one."""
    vs = staff[active_staff(staff) & (staff["role"].astype(str) == S.VILLAGE_STAFF.value)]
    counts = vs.groupby("home_village_code").size()
    return villages["code"].map(counts).fillna(0).astype(int).clip(lower=1)


def active_staff(staff: pd.DataFrame) -> pd.Series:
    return staff["active"].astype(bool)


def required_slots(
    villages: pd.DataFrame, units: pd.DataFrame, staff: pd.DataFrame
) -> pd.DataFrame:
    """Every slot that must be filled, one row each.

    Parameters
    ----------
    villages
        Columns ``code``, ``town_code``.
    units
        Columns ``id``, ``town_code``, ``village_code``, ``department_code``, ``status``,
        ``fire_key_level``.
    staff
        Columns ``role``, ``home_village_code``, ``active`` (for the 网格员 seat count).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SLOT_COLUMNS`; ``team`` groups slots whose holders must differ
        (``"grid:<village>"``, ``"unit:<id>"`` or ``""``), ``seat`` numbers the slots of one
        role in one place (0 except for several 网格员), ``pool`` is a :class:`Pool` value.

    Examples
    --------
    >>> v = pd.DataFrame({"code": ["411003101001"], "town_code": ["411003101000"]})
    >>> u = pd.DataFrame({"id": [7], "town_code": ["411003101000"],
    ...     "village_code": ["411003101001"], "department_code": ["AJB"],
    ...     "status": ["operating"], "fire_key_level": ["town"]})
    >>> s = pd.DataFrame({"role": [], "home_village_code": [], "active": []})
    >>> required_slots(v, u, s)["role"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['grid_chief', 'grid_member', 'unit_inspector', 'team_regulator', 'team_town_cadre',
     'team_village_staff', 'team_fire_police', 'team_professional']
    """
    for name, frame, cols in (
        ("villages", villages, ("code", "town_code")),
        (
            "units",
            units,
            ("id", "town_code", "village_code", "department_code", "status", "fire_key_level"),
        ),
        ("staff", staff, ("role", "home_village_code", "active")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}")
    parts: list[pd.DataFrame] = []
    vil = villages[["code", "town_code"]].rename(columns={"code": "village_code"})
    grid_team = "grid:" + vil["village_code"].astype(str)
    parts.append(
        vil.assign(
            role=R.GRID_CHIEF.value, unit_id=pd.NA, department_code=None, seat=0, team=grid_team
        )
    )
    seats = grid_member_seats(villages, staff).to_numpy()
    members = vil.loc[vil.index.repeat(seats)].copy()
    members["seat"] = np.concatenate([np.arange(n) for n in seats]) if len(seats) else []
    parts.append(
        members.assign(
            role=R.GRID_MEMBER.value,
            unit_id=pd.NA,
            department_code=None,
            team="grid:" + members["village_code"].astype(str),
        )
    )
    ucols = ["id", "town_code", "village_code", "department_code"]
    insp = units.loc[needs_inspector(units), ucols].rename(columns={"id": "unit_id"})
    parts.append(insp.assign(role=R.UNIT_INSPECTOR.value, seat=0, team=""))
    keyed = units.loc[needs_team(units), ucols].rename(columns={"id": "unit_id"})
    for role in TEAM_ROLES:
        parts.append(
            keyed.assign(role=role.value, seat=0, team="unit:" + keyed["unit_id"].astype(str))
        )
    slots = pd.concat([p for p in parts if len(p)], ignore_index=True)
    slots["pool"] = slots["role"].map({r.value: int(rule.pool) for r, rule in RULES.items()})
    slots["unit_id"] = slots["unit_id"].astype("Int64")
    return slots[list(SLOT_COLUMNS)]


def candidate_pairs(slots: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """Every (slot, person) pair the rules allow.

    Parameters
    ----------
    slots
        The output of :func:`required_slots` (its index is the slot number).
    staff
        Columns ``id``, ``town_code``, ``department_code``, ``role``, ``home_village_code``,
        ``capacity_units``, ``capacity_teams``, ``active``.

    Returns
    -------
    pandas.DataFrame
        Columns ``slot`` (index label of ``slots``) and ``staff_id``, sorted.
    """
    people = staff[active_staff(staff)]
    out: list[pd.DataFrame] = []
    left = slots.reset_index(names="slot")
    for role, rule in RULES.items():
        s = left[left["role"] == role.value]
        if s.empty:
            continue
        p = people[people["role"].astype(str).isin({r.value for r in rule.staff_roles})]
        if rule.pool is Pool.UNITS:
            p = p[p["capacity_units"] > 0]
        elif rule.pool is Pool.TEAMS:
            p = p[p["capacity_teams"] > 0]
        keys_l, keys_r = ["town_code"], ["town_code"]
        if rule.same_department:
            keys_l.append("department_code")
            keys_r.append("department_code")
        if rule.same_village:
            keys_l.append("village_code")
            keys_r.append("home_village_code")
        merged = s[["slot", *keys_l]].merge(
            p[["id", *keys_r]], left_on=keys_l, right_on=keys_r, how="inner"
        )
        out.append(merged[["slot", "id"]].rename(columns={"id": "staff_id"}))
    if not out:
        return pd.DataFrame({"slot": pd.Series(dtype=int), "staff_id": pd.Series(dtype=int)})
    pairs = pd.concat(out, ignore_index=True)
    return pairs.sort_values(["slot", "staff_id"], ignore_index=True)


def is_eligible(
    role: ResponsibilityRole | str, person: Mapping[str, object], target: Mapping[str, object]
) -> bool:
    """Whether ``person`` may hold ``role`` for ``target`` (a village or unit), capacity aside.

    ``person`` needs ``role``, ``town_code``, ``department_code``, ``home_village_code``,
    ``active``; ``target`` needs ``town_code``, ``village_code`` and, for unit roles,
    ``department_code``.
    """
    rule = RULES[ResponsibilityRole(role)]
    if not person.get("active", True) or person["town_code"] != target["town_code"]:
        return False
    if StaffRole(str(person["role"])) not in rule.staff_roles:
        return False
    if rule.same_department and person["department_code"] != target["department_code"]:
        return False
    return not (rule.same_village and person["home_village_code"] != target["village_code"])


def missing_slots(slots: pd.DataFrame, holders: pd.DataFrame, staff: pd.DataFrame) -> pd.DataFrame:
    """Slots without a valid holder: the coverage gaps "no chief", "no inspector", "team missing X".

    Parameters
    ----------
    slots
        From :func:`required_slots`.
    holders
        Current responsibilities: columns ``staff_id``, ``role``, ``village_code``, ``unit_id``.
    staff
        As for :func:`candidate_pairs`; a holder who is inactive or no longer eligible does not
        count (capacity is not checked here: over-capacity is its own gap).

    Returns
    -------
    pandas.DataFrame
        The rows of ``slots`` left unfilled, plus ``who`` (the eligible group, in words).
    """
    eligible = candidate_pairs(slots, staff.assign(capacity_units=1, capacity_teams=1))
    # Seat valid holders first: a stale or ineligible record must not take the seat of a valid
    # one (seats of one role in one place are interchangeable, so validity is per place).
    where = slots.reset_index(names="slot")[["slot", "role", "village_code", "unit_id"]]
    where = where.assign(place=place_key(where))[["slot", "role", "place"]]
    valid_keys = eligible.merge(where, on="slot")[["role", "place", "staff_id"]].drop_duplicates()
    keys = holders[["staff_id", "role", "village_code", "unit_id"]].assign(
        role=holders["role"].astype(str)
    )
    keys = keys.assign(place=place_key(keys))
    valid = (
        keys.merge(valid_keys.assign(_ok=True), on=["role", "place", "staff_id"], how="left")["_ok"]
        .fillna(False)
        .astype(bool)
        .to_numpy()
    )
    seated = seat_holders(slots, holders, valid_first=valid)
    ok = seated.merge(eligible, on=["slot", "staff_id"], how="inner")["slot"]
    out = slots.loc[~slots.index.isin(ok)].copy()
    out["who"] = out["role"].map({r.value: rule.who for r, rule in RULES.items()})
    return out


def seat_holders(
    slots: pd.DataFrame, holders: pd.DataFrame, valid_first: np.ndarray | None = None
) -> pd.DataFrame:
    """Match current holders to slots: columns ``slot`` and ``staff_id``.

    A slot is identified by (role, village or unit, seat); several holders of one role in one
    place take its seats in staff-id order — those flagged in ``valid_first`` (one flag per
    holder row) before the others — and holders beyond the seats are left out.
    """
    if holders.empty:
        return pd.DataFrame({"slot": pd.Series(dtype=int), "staff_id": pd.Series(dtype=int)})
    h = holders[["staff_id", "role", "village_code", "unit_id"]].copy()
    h["role"] = h["role"].astype(str)
    h["place"] = place_key(h)
    h["_later"] = False if valid_first is None else ~np.asarray(valid_first, dtype=bool)
    h = h.sort_values(["role", "place", "_later", "staff_id"])
    h["seat"] = h.groupby(["role", "place"]).cumcount()
    s = slots.reset_index(names="slot")[["slot", "role", "village_code", "unit_id", "seat"]]
    s = s.assign(place=place_key(s))
    m = s.merge(h[["role", "place", "seat", "staff_id"]], on=["role", "place", "seat"])
    return m[["slot", "staff_id"]].astype({"slot": int, "staff_id": int})


def place_key(frame: pd.DataFrame) -> pd.Series:
    """``u<unit id>`` for unit roles, ``v<village code>`` for grid roles."""
    unit = frame["unit_id"].astype("Int64")
    is_grid = frame["role"].isin([r.value for r in GRID_ROLES])
    return pd.Series(
        np.where(is_grid, "v" + frame["village_code"].astype(str), "u" + unit.astype(str)),
        index=frame.index,
    )

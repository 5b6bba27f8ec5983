"""Run the assignment for a town: read in scope, solve, diff against the records, write atomically.

Also the read side the 责任公示表 and the teams endpoint share: the 五包一 teams and the grids as
they stand on a date, with the roles still missing.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, insert, select, text

from gis.access import Role, Scope
from gis.analysis import assignment as core
from gis.analysis import assignment_rules as rules
from gis.analysis import road_graph
from gis.audit import Actor, record
from gis.db.assignment_models import AssignmentRun
from gis.db.models import Responsibility, Town
from gis.domain import FireKeyLevel, ResponsibilityRole
from gis.errors import Forbidden, InvalidInput, NotFound
from gis.queries import assignments as q
from gis.queries import responsibilities as rq

#: Who may run an assignment for a whole town (a department or village account sees only part).
RUNNERS = frozenset({Role.TOWN_ADMIN, Role.COUNTY_OFFICE})


@dataclass
class SlotCount:
    role: str
    label: str
    required: int
    filled: int


@dataclass
class Infeasibility:
    """Why some slots stay empty, in a planner's words."""

    code: str
    role: str
    place: str
    unfilled: int
    demand: int
    capacity: int | None
    message: str


@dataclass
class Change:
    """One slot whose holder changes: ``before`` loses it, ``after`` gains it."""

    role: str
    role_label: str
    village_code: str | None
    unit_id: int | None
    place_name: str
    before_staff_id: int | None
    before_name: str | None
    after_staff_id: int | None
    after_name: str | None
    reason: str


@dataclass
class RunReport:
    town_code: str
    as_of: dt.date
    dry_run: bool
    written: bool
    required: int
    filled: int
    kept: int
    #: travel of the plan (after balancing), the stage-2 optimum found and its proven bound
    travel_s: int
    travel_best_s: int
    travel_bound_s: float
    gap: float
    optimal: bool
    max_load_permille: int
    slots: list[SlotCount]
    infeasibilities: list[Infeasibility]
    changes: list[Change]
    seconds: dict[str, float] = field(default_factory=dict)
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Inputs:
    """Everything one run reads, as DataFrames."""

    villages: pd.DataFrame
    units: pd.DataFrame
    staff: pd.DataFrame
    edges: pd.DataFrame
    holders: pd.DataFrame
    departments: dict[str, str]


def check_may_run(scope: Scope, town: str, dry_run: bool) -> None:
    """Refuse a run the scope may not make: it must cover the whole town; writing needs rights."""
    if (
        scope.role not in RUNNERS
        or not scope.allows_town(town)
        or (scope.village_codes is not None or scope.department_codes is not None)
    ):
        raise Forbidden(f"分配需要覆盖全镇 {town} 的镇或区安委办账号")
    if not dry_run and scope.read_only:
        raise Forbidden("只读账号只能预览（dry run），不能写入分配结果")


def read_inputs(conn: Connection, town: str, as_of: dt.date, scope: Scope) -> Inputs:
    if conn.execute(select(Town.code).where(Town.code == town)).first() is None:
        raise NotFound(f"镇 {town} 不存在")
    held = q.frame(conn, rq.responsibilities_on(town, as_of, scope))
    return Inputs(
        villages=q.frame(conn, q.villages_in_town(town, scope)),
        units=q.frame(conn, q.units_in_town(town, scope)),
        staff=q.frame(conn, q.staff_in_town(town, scope)),
        edges=q.edges_frame(conn, town),
        holders=held,
        departments={r.code: r.short_name for r in conn.execute(q.department_names())},
    )


def pair_costs(inputs: Inputs, slots: pd.DataFrame, pairs: pd.DataFrame) -> np.ndarray:
    """Network seconds from each candidate's base to the slot's place (unit or village)."""
    if pairs.empty:
        return np.zeros(0, np.int64)
    staff = inputs.staff
    lon = staff["lon"].astype(float)
    lat = staff["lat"].astype(float)
    # A person without a base point starts where their colleagues do (the town seat).
    lon, lat = lon.fillna(lon.median()), lat.fillna(lat.median())
    origin_xy = q.metric_xy(lon, lat)
    places = pd.concat(
        [
            inputs.units.assign(place="u" + inputs.units["id"].astype(str))[
                ["place", "lon", "lat"]
            ],
            inputs.villages.assign(place="v" + inputs.villages["code"])[["place", "lon", "lat"]],
        ],
        ignore_index=True,
    )
    dest_xy = q.metric_xy(places["lon"], places["lat"])
    place_of_slot = rules.place_key(slots)
    place_index = pd.Series(np.arange(len(places)), index=places["place"])
    person_index = pd.Series(np.arange(len(staff)), index=staff["id"].to_numpy())
    pair_dest = place_index[place_of_slot[pairs["slot"]].to_numpy()].to_numpy()
    pair_origin = person_index[pairs["staff_id"]].to_numpy()
    if inputs.edges.empty:
        straight: np.ndarray = np.hypot(*(origin_xy[pair_origin] - dest_xy[pair_dest]).T)
        return np.rint(straight / road_graph.ACCESS_SPEED_MPS).astype(np.int64)
    graph = road_graph.graph_from_edges(inputs.edges)
    return road_graph.pair_travel_seconds(graph, origin_xy, dest_xy, pair_origin, pair_dest)


def plan(
    inputs: Inputs, *, travel_tolerance: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame, core.Solution, dict[str, float]]:
    """Slots, current seats, the solution and timings — no database."""
    t0 = time.perf_counter()
    slots = rules.required_slots(inputs.villages, inputs.units, inputs.staff)
    pairs = rules.candidate_pairs(slots, inputs.staff)
    current = rules.seat_holders(slots, inputs.holders)
    t1 = time.perf_counter()
    pairs = pairs.assign(cost=pair_costs(inputs, slots, pairs))
    t2 = time.perf_counter()
    problem = core.from_frames(slots, inputs.staff, pairs, current)
    solution = core.solve(problem, travel_tolerance=travel_tolerance)
    t3 = time.perf_counter()
    assigned = core.to_frame(slots, inputs.staff, solution)
    assigned = assigned.assign(
        before=assigned.index.map(current.set_index("slot")["staff_id"]).astype("Int64")
    )
    return assigned, pairs, solution, {"rules": t1 - t0, "travel": t2 - t1, "solve": t3 - t2}


def run_assignment(
    conn: Connection,
    town: str,
    as_of: dt.date,
    scope: Scope,
    *,
    actor: Actor,
    dry_run: bool = True,
) -> RunReport:
    """Assign every slot of ``town`` as of ``as_of``; unless ``dry_run``, write the changes.

    Changed records are closed (``valid_to = as_of``) and new ones opened (``valid_from =
    as_of``) in one transaction (a savepoint when ``conn`` is already in one), after taking a
    per-town advisory lock so two runs cannot interleave. The audit entry (``assign`` on
    ``responsibilities``, by ``actor``) is written in that same transaction, so a run is audited
    whichever door it came through (API, ``gridsafe assign``, ``gridsafe demo``); a dry run
    writes nothing and is not audited.
    """
    check_may_run(scope, town, dry_run)
    t0 = time.perf_counter()
    if not dry_run:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"assign:{town}"})
    latest = conn.execute(
        select(func.max(Responsibility.valid_from)).where(
            Responsibility.town_code == town, Responsibility.valid_to.is_(None)
        )
    ).scalar()
    if latest is not None and as_of < latest:
        raise InvalidInput(f"as_of {as_of} 早于现行责任记录的生效日期 {latest}")
    inputs = read_inputs(conn, town, as_of, scope)
    assigned, pairs, solution, seconds = plan(inputs)
    seconds["read"] = time.perf_counter() - t0 - sum(seconds.values())
    names = _place_names(inputs)
    changes, close_ids, opens = diff(assigned, pairs, inputs, names, town, as_of)
    report = RunReport(
        town_code=town,
        as_of=as_of,
        dry_run=dry_run,
        written=False,
        required=len(assigned),
        filled=solution.filled,
        kept=solution.kept,
        travel_s=solution.travel,
        travel_best_s=solution.travel_best,
        travel_bound_s=solution.travel_bound,
        gap=solution.gap,
        optimal=solution.optimal,
        max_load_permille=solution.max_load_permille,
        slots=slot_counts(assigned),
        infeasibilities=explain(assigned, pairs, inputs, names),
        changes=changes,
        seconds=seconds,
    )
    if not dry_run:
        t_w = time.perf_counter()
        with conn.begin_nested() if conn.in_transaction() else conn.begin():
            rq.close(conn, close_ids, as_of)
            rq.open_records(conn, opens)
            summary = {
                "slots": [asdict(s) for s in report.slots],
                "infeasibilities": [i.message for i in report.infeasibilities],
            }
            report.run_id = conn.execute(
                insert(AssignmentRun)
                .values(
                    town_code=town,
                    as_of=as_of,
                    author=actor.username,
                    required=report.required,
                    filled=report.filled,
                    changes=len(changes),
                    travel_s=report.travel_s,
                    travel_bound_s=report.travel_bound_s,
                    gap=report.gap,
                    seconds={k: round(v, 4) for k, v in seconds.items()},
                    summary=summary,
                )
                .returning(AssignmentRun.id)
            ).scalar_one()
            record(
                conn,
                actor,
                "assign",
                "responsibilities",
                report.run_id,
                None,
                {
                    "as_of": as_of,
                    "filled": report.filled,
                    "required": report.required,
                    "changes": [asdict(c) for c in changes],
                },
                town_code=town,
            )
        report.written = True
        report.seconds["write"] = time.perf_counter() - t_w
    return report


def slot_counts(assigned: pd.DataFrame) -> list[SlotCount]:
    out = []
    for role in ResponsibilityRole:
        rows = assigned[assigned["role"] == role.value]
        if len(rows):
            out.append(
                SlotCount(role.value, role.label, len(rows), int(rows["staff_id"].notna().sum()))
            )
    return out


def _place_names(inputs: Inputs) -> dict[str, str]:
    names = {
        "v" + c: n for c, n in zip(inputs.villages["code"], inputs.villages["name"], strict=True)
    }
    names.update(
        {"u" + str(i): n for i, n in zip(inputs.units["id"], inputs.units["name"], strict=True)}
    )
    return names


def diff(
    assigned: pd.DataFrame,
    pairs: pd.DataFrame,
    inputs: Inputs,
    names: dict[str, str],
    town: str,
    as_of: dt.date,
) -> tuple[list[Change], list[int], list[dict[str, Any]]]:
    """Who gains and loses what, with reasons; the record ids to close and the rows to open."""
    staff = inputs.staff.set_index("id")
    staff_name = staff["name"].to_dict()
    eligible = set(zip(pairs["slot"], pairs["staff_id"], strict=True))
    place = rules.place_key(assigned)
    holders = inputs.holders
    record_of: dict[tuple[str, str, int], int] = {}
    if len(holders):
        hp = rules.place_key(holders.assign(role=holders["role"].astype(str)))
        record_of = {
            (r, p, int(s)): int(i)
            for r, p, s, i in zip(
                holders["role"].astype(str), hp, holders["staff_id"], holders["id"], strict=True
            )
        }
    changes: list[Change] = []
    close_ids: list[int] = []
    opens: list[dict[str, Any]] = []
    seated: set[int] = set()
    for slot, row in assigned.iterrows():
        before = None if pd.isna(row["before"]) else int(row["before"])
        after = None if pd.isna(row["staff_id"]) else int(row["staff_id"])
        key_place = place[slot]
        if before is not None:
            seated.add(record_of[(row["role"], key_place, before)])
        if before == after:
            continue
        role = ResponsibilityRole(row["role"])
        reason = _reason(before, after, slot, staff, eligible)
        changes.append(
            Change(
                role=role.value,
                role_label=role.label,
                village_code=row["village_code"] if role in rules.GRID_ROLES else None,
                unit_id=None if pd.isna(row["unit_id"]) else int(row["unit_id"]),
                place_name=names.get(key_place, key_place),
                before_staff_id=before,
                before_name=staff_name.get(before) if before else None,
                after_staff_id=after,
                after_name=staff_name.get(after) if after else None,
                reason=reason,
            )
        )
        if before is not None:
            close_ids.append(record_of[(row["role"], key_place, before)])
        if after is not None:
            grid = role in rules.GRID_ROLES
            opens.append(
                {
                    "town_code": town,
                    "staff_id": after,
                    "role": role.value,
                    "village_code": row["village_code"] if grid else None,
                    "unit_id": None if grid else int(row["unit_id"]),
                    "valid_from": as_of,
                    "reason": reason,
                }
            )
    # Records for slots that no longer exist (unit closed, seat withdrawn) are closed too.
    if len(holders):
        for rec in holders.itertuples():
            if int(rec.id) in seated:
                continue
            role = ResponsibilityRole(str(rec.role))
            unit_id = None if pd.isna(rec.unit_id) else int(rec.unit_id)
            pkey = f"v{rec.village_code}" if role in rules.GRID_ROLES else f"u{unit_id}"
            reason = "岗位已不再需要（单位停业、关闭或不再是重点单位，或网格员席位减少）"
            changes.append(
                Change(
                    role=role.value,
                    role_label=role.label,
                    village_code=rec.village_code if role in rules.GRID_ROLES else None,
                    unit_id=unit_id,
                    place_name=names.get(pkey, pkey),
                    before_staff_id=int(rec.staff_id),
                    before_name=staff_name.get(int(rec.staff_id)),
                    after_staff_id=None,
                    after_name=None,
                    reason=reason,
                )
            )
            close_ids.append(int(rec.id))
    return changes, close_ids, opens


def _reason(
    before: int | None,
    after: int | None,
    slot: int,
    staff: pd.DataFrame,
    eligible: set[tuple[int, int]],
) -> str:
    if before is None:
        return "补充空缺岗位" if after is not None else ""
    who = staff["name"].get(before, f"#{before}")
    if before not in staff.index or not bool(staff.at[before, "active"]):
        why = f"原责任人{who}已不在岗"
    elif (slot, before) not in eligible:
        why = f"原责任人{who}不再符合该岗位条件（部门、角色或所在村变化）"
    else:
        why = f"原责任人{who}超出承担能力或需腾出以填满其他岗位"
    if after is None:
        return why + "，且无符合条件的人员可以接替"
    return why + f"，由{staff['name'].get(after, after)}接替"


def explain(
    assigned: pd.DataFrame, pairs: pd.DataFrame, inputs: Inputs, names: dict[str, str]
) -> list[Infeasibility]:
    """Group the empty slots by who could have filled them and say why nobody did."""
    empty = assigned[assigned["staff_id"].isna()]
    if empty.empty:
        return []
    staff = inputs.staff.set_index("id")
    out: list[Infeasibility] = []
    for role_value, rows in empty.groupby("role", sort=False):
        role = ResponsibilityRole(role_value)
        rule = rules.RULES[role]
        if rule.same_department:
            keys = rows["department_code"]
            all_keys = assigned.loc[assigned["role"] == role_value, "department_code"]
        elif rule.same_village:
            keys = rows["village_code"]
            all_keys = assigned.loc[assigned["role"] == role_value, "village_code"]
        else:
            keys = pd.Series("", index=rows.index)
            all_keys = pd.Series("", index=assigned.index[assigned["role"] == role_value])
        for key, group in rows.groupby(keys, sort=True):
            demand_slots = all_keys.index[all_keys == key]
            cand = pairs.loc[pairs["slot"].isin(demand_slots), "staff_id"].unique()
            if rule.same_department:
                where = inputs.departments.get(str(key), str(key))
            elif rule.same_village:
                where = names.get(f"v{key}", str(key))
            else:
                where = "全镇"
            n, demand = len(group), len(demand_slots)
            if len(cand) == 0:
                if role in (ResponsibilityRole.GRID_MEMBER, ResponsibilityRole.TEAM_VILLAGE_STAFF):
                    msg = f"{where}没有在岗的村级网格员（{n} 个{role.label}岗位空缺）"
                elif rule.same_department:
                    msg = f"{where}没有在岗且有承担能力的监管人员（{n} 个{role.label}岗位空缺）"
                else:
                    msg = f"{where}没有在岗且有承担能力的{rule.who}（{n} 个{role.label}岗位空缺）"
                out.append(Infeasibility("no_candidate", role.value, where, n, demand, 0, msg))
                continue
            column = "capacity_units" if rule.pool is rules.Pool.UNITS else "capacity_teams"
            cap = int(staff.loc[cand, column].sum())
            unit_word = "个单位" if rule.pool is rules.Pool.UNITS else f"个{role.label}岗位"
            if cap < demand:
                msg = f"{where} {rule.who} {column} {cap} < {demand} {unit_word}（{n} 个未分配）"
                code = "capacity_short"
            else:
                msg = (
                    f"{where} {rule.who} 的 {column} 共 {cap}，但已被其他岗位占用或受"
                    f"同组不得重复限制，{n} 个{role.label}岗位未分配"
                )
                code = "capacity_shared"
            out.append(Infeasibility(code, role.value, where, n, demand, cap, msg))
    return out


# --- read side: teams and grids on a date -----------------------------------------------------


@dataclass
class Member:
    role: str
    role_label: str
    staff_id: int
    staff_code: str
    name: str
    phone: str | None
    department_code: str
    department: str


@dataclass
class TeamView:
    """A fire-safety key unit's 五包一 team on a date."""

    unit_id: int
    unit_code: str
    unit_name: str
    address: str | None
    village_code: str | None
    village_name: str | None
    fire_key_level: str
    fire_key_label: str
    lon: float
    lat: float
    members: list[Member]
    missing_roles: list[str]
    missing_labels: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing_roles


@dataclass
class GridView:
    """A village grid on a date: chief, members and the units' inspectors count."""

    village_code: str
    village_name: str
    chief: list[Member]
    members: list[Member]
    missing_roles: list[str]
    units: int


def _members(rows: pd.DataFrame, departments: dict[str, str]) -> list[Member]:
    return [
        Member(
            role=str(r.role),
            role_label=ResponsibilityRole(str(r.role)).label,
            staff_id=int(r.staff_id),
            staff_code=str(r.staff_code),
            name=str(r.staff_name),
            phone=None if pd.isna(r.phone) else str(r.phone),
            department_code=str(r.department_code),
            department=departments.get(str(r.department_code), str(r.department_code)),
        )
        for r in rows.itertuples()
    ]


def _all_holders(conn: Connection, town: str, on: dt.date, scope: Scope) -> pd.DataFrame:
    """Holders of the slots ``scope`` sees, whoever they are: to tell filled from missing only
    (names and phones shown come from ``Inputs.holders``, limited to staff in scope)."""
    return q.frame(conn, rq.responsibilities_on(town, on, scope, people_in_scope=False))


def filled_staff(conn: Connection, town: str, holders: pd.DataFrame) -> pd.DataFrame:
    """The staff rows of ``holders`` (eligibility check of a missing-slot test), unscoped."""
    staff = q.frame(conn, q.staff_in_town(town, Scope.unrestricted()))
    return staff[staff["id"].isin(holders["staff_id"])] if len(holders) else staff.iloc[0:0]


def _on_date(conn: Connection, town: str, on: dt.date, scope: Scope) -> Inputs:
    if scope.role is Role.PUBLIC:
        raise Forbidden("公众账号不能查看责任人员")
    if not scope.allows_town(town):
        raise Forbidden(f"无权查看镇 {town}")
    return read_inputs(conn, town, on, scope)


def teams_on(
    conn: Connection,
    town: str,
    on: dt.date,
    scope: Scope,
    *,
    village: str | None = None,
    incomplete_only: bool = False,
) -> list[TeamView]:
    """The 五包一 teams of the key units ``scope`` can see, as on ``on``."""
    inputs = _on_date(conn, town, on, scope)
    filled = _all_holders(conn, town, on, scope)
    units = inputs.units[rules.needs_team(inputs.units)] if len(inputs.units) else inputs.units
    if village is not None:
        units = units[units["village_code"] == village]
    if units.empty:
        return []
    slots = rules.required_slots(inputs.villages.iloc[0:0], units, inputs.staff)
    team_values = [r.value for r in rules.TEAM_ROLES]
    missing = rules.missing_slots(slots, filled, filled_staff(conn, town, filled))
    missing = missing[missing["role"].isin(team_values)]
    held = inputs.holders[inputs.holders["role"].isin(team_values)]
    vnames = dict(zip(inputs.villages["code"], inputs.villages["name"], strict=True))
    order = {r.value: i for i, r in enumerate(rules.TEAM_ROLES)}
    out = []
    for u in units.itertuples():
        mine = held[held["unit_id"] == u.id]
        mine = mine.assign(o=mine["role"].map(order)).sort_values(["o", "staff_id"])
        miss = missing.loc[missing["unit_id"] == u.id, "role"].tolist()
        level = FireKeyLevel(str(u.fire_key_level))
        view = TeamView(
            unit_id=int(u.id),
            unit_code=str(u.code),
            unit_name=str(u.name),
            address=None if pd.isna(u.address) else str(u.address),
            village_code=u.village_code,
            village_name=vnames.get(u.village_code),
            fire_key_level=level.value,
            fire_key_label=level.label,
            lon=float(u.lon),
            lat=float(u.lat),
            members=_members(mine, inputs.departments),
            missing_roles=miss,
            missing_labels=[ResponsibilityRole(m).label for m in miss],
        )
        if not incomplete_only or miss:
            out.append(view)
    return out


def grids_on(conn: Connection, town: str, on: dt.date, scope: Scope) -> list[GridView]:
    """The village grids ``scope`` can see, with chief and members as on ``on``."""
    inputs = _on_date(conn, town, on, scope)
    filled = _all_holders(conn, town, on, scope)
    slots = rules.required_slots(inputs.villages, inputs.units.iloc[0:0], inputs.staff)
    missing = rules.missing_slots(slots, filled, filled_staff(conn, town, filled))
    h = inputs.holders
    per_village = (
        inputs.units[rules.needs_inspector(inputs.units)].groupby("village_code").size()
        if len(inputs.units)
        else pd.Series(dtype=int)
    )
    out = []
    for v in inputs.villages.itertuples():
        mine = h[h["village_code"] == v.code]
        out.append(
            GridView(
                village_code=v.code,
                village_name=v.name,
                chief=_members(
                    mine[mine["role"] == ResponsibilityRole.GRID_CHIEF.value], inputs.departments
                ),
                members=_members(
                    mine[mine["role"] == ResponsibilityRole.GRID_MEMBER.value], inputs.departments
                ),
                missing_roles=sorted(set(missing.loc[missing["village_code"] == v.code, "role"])),
                units=int(per_village.get(v.code, 0)),
            )
        )
    return out


def responsible_for_unit(
    conn: Connection, unit_id: int, on: dt.date, scope: Scope
) -> dict[str, Any]:
    """Who was responsible for unit ``unit_id`` on ``on`` (inspector, team, grid)."""
    unit = conn.execute(rq.unit_in_scope(unit_id, scope)).first()
    if unit is None:
        raise NotFound(f"单位 {unit_id} 不存在或不在权限范围内")
    rows = q.frame(conn, rq.responsible_for_unit(unit_id, on, scope))
    people = [
        {
            "role": str(r.role),
            "role_label": ResponsibilityRole(str(r.role)).label,
            "staff_id": int(r.staff_id),
            "staff_code": r.staff_code,
            "name": r.staff_name,
            "phone": None if pd.isna(r.phone) else r.phone,
            "department_code": r.department_code,
            "village_code": None if pd.isna(r.village_code) else r.village_code,
            "unit_id": None if pd.isna(r.unit_id) else int(r.unit_id),
            "valid_from": r.valid_from,
            "valid_to": None if pd.isna(r.valid_to) else r.valid_to,
            "reason": None if pd.isna(r.reason) else r.reason,
        }
        for r in rows.itertuples()
    ]
    return {"unit_id": unit_id, "unit_name": unit.name, "on": on, "people": people}


def town_name(conn: Connection, town: str, scope: Scope | None = None) -> str:
    if scope is not None and (scope.role is Role.PUBLIC or not scope.allows_town(town)):
        raise Forbidden(f"无权查看镇 {town}")
    name = conn.execute(select(Town.name).where(Town.code == town)).scalar()
    if name is None:
        raise NotFound(f"镇 {town} 不存在")
    return str(name)

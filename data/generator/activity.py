"""One year of inspections and hazards (§5.8): schedules, zero-inflated finds, closure loop."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from data.generator.names import person_name
from data.generator.people import Person
from data.generator.units import Placer, Unit
from gis.domain import (
    FatalFactor,
    FireKeyLevel,
    GasUse,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    InspectionKind,
    OperatingStatus,
    RiskColor,
    StaffRole,
)

MONTH_WEIGHTS = (1.4, 0.7, 1.1, 1.0, 1.0, 1.4, 1.0, 0.9, 1.1, 0.9, 1.2, 1.2)
CATEGORY_MIX = {
    HazardCategory.FIRE: 0.40,
    HazardCategory.ELECTRICAL: 0.12,
    HazardCategory.GAS: 0.10,
    HazardCategory.MANAGEMENT: 0.15,
    HazardCategory.SPECIAL_EQUIPMENT: 0.05,
    HazardCategory.CONFINED_SPACE: 0.03,
    HazardCategory.DUST: 0.03,
    HazardCategory.HAZCHEM: 0.03,
    HazardCategory.CONSTRUCTION: 0.07,
    HazardCategory.TRAFFIC: 0.02,
}
FATAL_MIX = {
    FatalFactor.FIRE_EQUIPMENT: 0.25,
    FatalFactor.EXITS: 0.20,
    FatalFactor.POWER_GAS: 0.20,
    FatalFactor.E_BIKE: 0.10,
    FatalFactor.FLAMMABLES: 0.08,
    FatalFactor.MULTI_USE: 0.06,
    FatalFactor.SANDWICH_PANEL: 0.05,
    FatalFactor.HOT_WORK: 0.03,
    FatalFactor.DRILLS: 0.02,
    FatalFactor.OPEN_FLAME: 0.01,
}
#: Kinds where a category can occur at all (categories not listed occur everywhere).
CATEGORY_KINDS = {
    HazardCategory.CONFINED_SPACE: {
        "farm",
        "coop",
        "livestock",
        "grain",
        "food",
        "cold_store",
        "storage",
        "manufacturing",
        "hair",
    },
    HazardCategory.DUST: {"grain", "food", "manufacturing", "building_materials"},
    HazardCategory.HAZCHEM: {
        "fuel",
        "lpg",
        "hazchem_store",
        "agri_hardware",
        "fireworks",
        "manufacturing",
        "village_clinic",
        "health_centre",
    },
    HazardCategory.CONSTRUCTION: {"construction"},
    HazardCategory.TRAFFIC: {
        "logistics",
        "construction",
        "fuel",
        "building_materials",
        "grain",
        "storage",
    },
    HazardCategory.SPECIAL_EQUIPMENT: {
        "food",
        "manufacturing",
        "building_materials",
        "logistics",
        "storage",
        "cold_store",
        "construction",
        "hotel",
        "supermarket",
        "lpg",
        "fuel",
        "grain",
        "hair",
    },
}
LAMBDA = {
    "construction": 1.5,
    "manufacturing": 1.5,
    "food": 1.5,
    "hair": 1.5,
    "building_materials": 1.5,
    "restaurant": 1.0,
    "supermarket": 1.0,
    "storage": 1.0,
    "cold_store": 1.0,
    "logistics": 1.0,
    "middle_school": 0.4,
    "primary_central": 0.4,
    "primary_village": 0.4,
    "kindergarten": 0.4,
    "health_centre": 0.4,
    "clinic": 0.4,
    "village_clinic": 0.4,
    "elderly": 0.4,
    "fuel": 0.5,
    "lpg": 0.5,
    "farm": 0.8,
    "coop": 0.8,
    "livestock": 0.8,
    "grain": 0.8,
}
DESCRIPTIONS = {
    FatalFactor.EXITS: ("安全出口上锁，疏散通道堆放杂物", "疏散通道被货物占用，宽度不足"),
    FatalFactor.HOT_WORK: ("电气焊作业未办理动火审批，现场无监护人", "电焊工无特种作业操作证"),
    FatalFactor.FLAMMABLES: ("易燃物品与可燃物混存，未分类存放", "店内违规存放汽油等易燃液体"),
    FatalFactor.FIRE_EQUIPMENT: (
        "灭火器压力不足或过期",
        "应急照明、疏散指示标志损坏",
        "室内消火栓无水",
    ),
    FatalFactor.POWER_GAS: ("电气线路私拉乱接，未穿管保护", "使用大功率电器，插座超负荷"),
    FatalFactor.DRILLS: ("未组织员工开展疏散逃生演练", "员工不会使用灭火器"),
    FatalFactor.SANDWICH_PANEL: ("使用可燃夹芯彩钢板搭建库房", "保温材料燃烧性能不达标"),
    FatalFactor.MULTI_USE: (
        "生产、储存、住宿设在同一建筑内（“多合一”）",
        "员工宿舍与车间未有效分隔",
    ),
    FatalFactor.E_BIKE: ("电动自行车在楼道内停放充电", "电动自行车入户充电"),
    FatalFactor.OPEN_FLAME: ("在可燃物附近焚烧纸钱", "在禁放区域燃放烟花爆竹"),
    HazardCategory.ELECTRICAL: (
        "配电箱未上锁，无漏电保护",
        "电缆破损，绝缘层老化",
        "临时用电未按规定架设",
    ),
    HazardCategory.GAS: ("液化气钢瓶与灶具间距不足", "未安装可燃气体报警装置", "燃气软管老化"),
    HazardCategory.MANAGEMENT: (
        "安全生产责任制未落实到岗位",
        "未建立隐患排查治理台账",
        "未制定应急预案",
        "从业人员未经安全培训",
    ),
    HazardCategory.SPECIAL_EQUIPMENT: (
        "叉车未定期检验",
        "压力容器安全阀超期未校验",
        "电梯维保记录缺失",
    ),
    HazardCategory.CONFINED_SPACE: (
        "有限空间未设置警示标识",
        "有限空间作业未执行先通风、再检测、后作业",
    ),
    HazardCategory.DUST: ("除尘系统未定期清理积尘", "粉尘作业区电气设备不防爆"),
    HazardCategory.HAZCHEM: ("危险化学品未分类分区储存", "农药与食品混放"),
    HazardCategory.CONSTRUCTION: ("脚手架连墙件缺失", "临边洞口防护不到位", "起重机械无安全监控"),
    HazardCategory.TRAFFIC: ("货车超载运输", "车辆未按规定安装卫星定位装置"),
}
MAJOR_BASIS = {
    HazardCategory.DUST: "《工贸企业重大事故隐患判定标准》（应急管理部令第10号）粉尘涉爆",
    HazardCategory.CONFINED_SPACE: (
        "《工贸企业重大事故隐患判定标准》（应急管理部令第10号）有限空间作业"
    ),
    HazardCategory.GAS: "《城镇燃气经营安全重大隐患判定标准》",
    HazardCategory.FIRE: "GB 35181-2017《重大火灾隐患判定方法》",
    HazardCategory.CONSTRUCTION: "《房屋市政工程生产安全重大事故隐患判定标准（2022版）》",
    HazardCategory.HAZCHEM: "《化工和危险化学品生产经营单位重大生产安全事故隐患判定标准（试行）》",
}
LOCATIONS = ("厨房", "仓库", "车间", "配电室", "楼道", "前厅", "宿舍", "院内", "二楼", "门口")


@dataclass
class Inspection:
    code: str
    unit_code: str | None
    village_code: str
    inspected_on: dt.date
    kind: InspectionKind
    inspector_codes: list[str]
    hazard_count: int = 0
    result: str = ""


@dataclass
class Hazard:
    code: str
    unit_code: str | None
    village_code: str
    inspection: Inspection | None
    source: HazardSource
    category: HazardCategory
    fatal_factor: FatalFactor | None
    level: HazardLevel
    description: str
    location_desc: str
    found_on: dt.date
    deadline: dt.date | None
    rectified_on: dt.date | None
    reviewed_on: dt.date | None
    closed_on: dt.date | None
    status: HazardStatus
    supervised: bool
    reporter_name: str | None
    reporter_phone: str | None
    xy: np.ndarray


class Calendar:
    """Working-day weights of one year: month weights, Mon–Fri, Saturdays rare, no Sundays."""

    def __init__(self, year: int) -> None:
        self.start = dt.date(year, 1, 1)
        self.days = [
            self.start + dt.timedelta(d) for d in range((dt.date(year + 1, 1, 1) - self.start).days)
        ]
        self.w = np.array(
            [
                MONTH_WEIGHTS[d.month - 1]
                * (1.0 if d.weekday() < 5 else 0.03 if d.weekday() == 5 else 0.0)
                for d in self.days
            ]
        )

    def draw(self, rng: np.random.Generator, lo: dt.date, hi: dt.date) -> dt.date:
        a, b = (lo - self.start).days, (hi - self.start).days
        w = self.w[a : b + 1]
        return self.days[a + int(rng.choice(len(w), p=w / w.sum()))]


def _add_workdays(d: dt.date, n: int) -> dt.date:
    while n > 0:
        d += dt.timedelta(1)
        if d.weekday() < 5:
            n -= 1
    return d


def _interval_months(u: Unit) -> int:
    """Inspection interval by data/reference/inspection_frequency.csv (plus §5.8 九小/蓝: 6)."""
    if u.high_risk or u.risk_color in (RiskColor.RED, RiskColor.ORANGE):
        return 1
    if u.status is OperatingStatus.SUSPENDED:
        return 6
    if u.fire_key_level is not FireKeyLevel.NONE:
        return 3
    if u.nine_small_category is not None or u.risk_color is RiskColor.BLUE:
        return 6
    return 3


def _windows(year: int, months: int) -> list[tuple[dt.date, dt.date]]:
    out = []
    for m in range(1, 13, months):
        end_m = m + months
        end = dt.date(year + (end_m > 12), (end_m - 1) % 12 + 1, 1) - dt.timedelta(1)
        out.append((dt.date(year, m, 1), end))
    return out


def build_activity(
    units: list[Unit],
    staff: list[Person],
    placer: Placer,
    rng: np.random.Generator,
    year: int = 2024,
) -> tuple[list[Inspection], list[Hazard]]:
    """Schedule a year of department checks and grid patrols and the hazards they find.

    Statuses are as of 31 December: dates after it are left empty, so every status agrees
    with its dates (closed ⇒ closed_on; awaiting_review ⇒ rectified_on, no closed_on; …).
    """
    cal = Calendar(year)
    as_of = dt.date(year, 12, 31)
    by_dept: dict[str, list[str]] = {}
    for p in staff:
        if (
            p.role
            in (StaffRole.INSPECTOR, StaffRole.OFFICE_HEAD, StaffRole.POLICE, StaffRole.FIREFIGHTER)
            and p.active
        ):
            by_dept.setdefault(p.department_code, []).append(p.code)
    fire = by_dept.get("XF", []) + by_dept.get("PCS", [])
    grid_staff = {
        p.home_village_code: p.code
        for p in staff
        if p.role is StaffRole.VILLAGE_STAFF and p.home_village_code
    }
    village_units: dict[str, list[Unit]] = {}
    for u in units:
        if u.status is not OperatingStatus.CLOSED:
            village_units.setdefault(u.village_code, []).append(u)

    def inspectors(u: Unit) -> list[str]:
        pool = by_dept.get(u.department_code) or by_dept["AJB"]
        chosen = [str(c) for c in rng.choice(pool, size=min(2, len(pool)), replace=False)]
        if u.fire_key_level is not FireKeyLevel.NONE and fire and rng.random() < 0.5:
            chosen.append(str(rng.choice(fire)))
        return sorted(set(chosen))

    visits: list[tuple[Inspection, Unit | None, bool]] = []
    for u in units:
        if u.status is OperatingStatus.CLOSED:
            continue
        first = True
        for lo, hi in _windows(year, _interval_months(u)):
            if u.status is OperatingStatus.SEASONAL:
                # Fireworks retail is open 15 Dec – 15 Feb only.
                if lo.month not in (1, 2, 12):
                    continue
                lo = max(lo, dt.date(year, 12, 15)) if lo.month == 12 else lo
                hi = min(hi, dt.date(year, 2, 15)) if lo.month <= 2 else hi
                if hi < lo:
                    continue
            day = cal.draw(rng, lo, hi)
            visits.append(
                (
                    Inspection(
                        "", u.code, u.village_code, day, InspectionKind.DEPARTMENT, inspectors(u)
                    ),
                    u,
                    first,
                )
            )
            first = False
    operating = [u for u in units if u.status is OperatingStatus.OPERATING]
    for lo, hi in _windows(year, 3):
        for i in sorted(
            rng.choice(len(operating), size=round(0.12 * len(operating)), replace=False)
        ):
            u = operating[int(i)]
            kind = InspectionKind.SUPERVISION if rng.random() < 0.15 else InspectionKind.RANDOM
            visits.append(
                (
                    Inspection(
                        "", u.code, u.village_code, cal.draw(rng, lo, hi), kind, inspectors(u)
                    ),
                    u,
                    False,
                )
            )

    open_units = [u for u in units if u.status is not OperatingStatus.CLOSED]
    boost = {}
    for c in CATEGORY_MIX:
        share = np.mean([_allows(u, c) for u in open_units])
        # A category possible at few units gets a higher weight there, capped so it never
        # dominates those units' findings.
        boost[c] = float(min(8.0, 1.0 / share)) if share > 0 else 1.0
    hazards: list[Hazard] = []
    for insp, u, first in visits:
        assert u is not None
        lam = (
            LAMBDA.get(u.kind.key, 0.8)
            * (1.5 if first else 1.0)
            * (0.7 if u.risk_color is RiskColor.BLUE else 1.0)
        )
        n = 0 if rng.random() < 0.45 else 1 + int(rng.poisson(lam))
        source = (
            HazardSource.SUPERVISION
            if insp.kind is InspectionKind.SUPERVISION
            else HazardSource.DEPARTMENT
        )
        for _ in range(n):
            hazards.append(_hazard(rng, cal, u, u.village_code, insp, source, u.xy, boost=boost))
        insp.hazard_count = n
        insp.result = "未发现问题" if n == 0 else f"发现隐患{n}处，已责令整改"

    # Grid patrols: each 网格员 logs two patrols a week on working days.
    for vcode in sorted(grid_staff):
        staff_code = grid_staff[vcode]
        pool = village_units.get(vcode, [])
        vi = next(i for i, v in enumerate(placer.villages) if v.code == vcode)
        week = cal.start - dt.timedelta(cal.start.weekday())
        while week.year <= year:
            picks = sorted(rng.choice(6, size=2, replace=False))
            days = [week + dt.timedelta(int(d)) for d in picks]
            for day in days:
                if day.year != year:
                    continue
                u = pool[int(rng.integers(len(pool)))] if pool and rng.random() < 0.85 else None
                insp = Inspection(
                    "", u.code if u else None, vcode, day, InspectionKind.GRID_PATROL, [staff_code]
                )
                r = rng.random()
                n = 0 if r < 0.92 else 1 if r < 0.985 else 2
                xy = u.xy if u else None
                for _ in range(n):
                    if xy is None:
                        xy = placer.place("settlement", vi)[0]
                    hazards.append(
                        _hazard(rng, cal, u, vcode, insp, HazardSource.GRID_PATROL, xy, boost=boost)
                    )
                insp.hazard_count = n
                insp.result = (
                    "未发现问题"
                    if n == 0 and r < 0.85
                    else "现场提醒劝导"
                    if n == 0
                    else f"发现隐患{n}处，已上报"
                )
                visits.append((insp, u, False))
            week += dt.timedelta(7)

    # Hazards reported outside inspections: 企业自查 and 群众举报 (≈5 % each of the total).
    n_extra = round(0.05 * len(hazards))
    reporters: set[str] = set()
    for source in (HazardSource.SELF_REPORT, HazardSource.PUBLIC_REPORT):
        for k in range(n_extra):
            u = operating[int(rng.integers(len(operating)))]
            day = cal.draw(rng, cal.start, as_of)
            h = _hazard(rng, cal, u, u.village_code, None, source, u.xy, day, boost)
            if source is HazardSource.PUBLIC_REPORT:
                h.reporter_name = person_name(rng, reporters)
                h.reporter_phone = f"1380000{9000 + k:04d}"
            hazards.append(h)

    _majors(hazards, rng)
    for h in hazards:
        _close_loop(h, rng, as_of)

    inspections = [v[0] for v in visits]
    inspections.sort(
        key=lambda i: (
            i.inspected_on,
            i.kind.value,
            i.unit_code or "",
            i.village_code,
            i.inspector_codes,
        )
    )
    for n, insp in enumerate(inspections, 1):
        insp.code = f"JC{year}{n:06d}"
    hazards.sort(
        key=lambda h: (
            h.found_on,
            h.inspection.code if h.inspection else "",
            h.source.value,
            h.unit_code or "",
            h.village_code,
        )
    )
    for n, h in enumerate(hazards, 1):
        h.code = f"YH{year}{n:05d}"
    return inspections, hazards


def _allows(u: Unit, c: HazardCategory) -> bool:
    """Whether a hazard of category ``c`` can occur at unit ``u`` (no gas hazard without gas)."""
    if c is HazardCategory.GAS:
        return u.gas_use is not GasUse.NONE or u.kind.key == "lpg"
    return u.kind.key in CATEGORY_KINDS.get(c, {u.kind.key})


def _weighted(rng: np.random.Generator, mix: dict, allowed: list) -> object:
    keys = [k for k in mix if k in allowed]
    w = np.array([mix[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def _hazard(
    rng: np.random.Generator,
    cal: Calendar,
    u: Unit | None,
    village_code: str,
    insp: Inspection | None,
    source: HazardSource,
    xy: np.ndarray,
    day: dt.date | None = None,
    boost: dict[HazardCategory, float] | None = None,
) -> Hazard:
    found = day or (insp.inspected_on if insp else cal.start)
    mix = {c: w * (boost or {}).get(c, 1.0) for c, w in CATEGORY_MIX.items()}
    if found.month in (11, 12, 1, 2, 3):
        mix[HazardCategory.ELECTRICAL] *= 1.3
    if 6 <= found.month <= 9:
        mix[HazardCategory.CONSTRUCTION] *= 1.5
    if u is None:
        allowed = [HazardCategory.FIRE, HazardCategory.ELECTRICAL, HazardCategory.GAS]
    else:
        allowed = [c for c in mix if _allows(u, c)]
    cat = _weighted(rng, mix, allowed)
    assert isinstance(cat, HazardCategory)
    factor = None
    if cat is HazardCategory.FIRE:
        fmix = dict(FATAL_MIX)
        if found.month in (11, 12, 1, 2, 3):
            fmix[FatalFactor.E_BIKE] *= 1.5
        f = _weighted(rng, fmix, list(fmix))
        assert isinstance(f, FatalFactor)
        factor = f
    texts = DESCRIPTIONS[factor if factor else cat]
    return Hazard(
        code="",
        unit_code=u.code if u else None,
        village_code=village_code,
        inspection=insp,
        source=source,
        category=cat,
        fatal_factor=factor,
        level=HazardLevel.GENERAL,
        description=texts[int(rng.integers(len(texts)))],
        location_desc=LOCATIONS[int(rng.integers(len(LOCATIONS)))],
        found_on=found,
        deadline=None,
        rectified_on=None,
        reviewed_on=None,
        closed_on=None,
        status=HazardStatus.REPORTED,
        supervised=False,
        reporter_name=None,
        reporter_phone=None,
        xy=np.asarray(xy, dtype=float),
    )


def _majors(hazards: list[Hazard], rng: np.random.Generator) -> None:
    """Make 0.5 % of hazards major, from the categories and kinds where the standards bite."""
    risky_fire = {FatalFactor.MULTI_USE, FatalFactor.SANDWICH_PANEL}
    candidates = [
        i
        for i, h in enumerate(hazards)
        if h.unit_code is not None
        and (
            h.category
            in (
                HazardCategory.DUST,
                HazardCategory.CONFINED_SPACE,
                HazardCategory.CONSTRUCTION,
                HazardCategory.HAZCHEM,
                HazardCategory.GAS,
            )
            or h.fatal_factor in risky_fire
        )
    ]
    n = min(len(candidates), max(1, round(0.005 * len(hazards))))
    for i in sorted(rng.choice(candidates, size=n, replace=False)):
        h = hazards[int(i)]
        h.level = HazardLevel.MAJOR
        h.supervised = True
        h.description = f"{h.description}（重大事故隐患，判定依据：{MAJOR_BASIS[h.category]}）"


def _close_loop(h: Hazard, rng: np.random.Generator, as_of: dt.date) -> None:
    """Deadline, rectification, review and sign-off dates (§5.8), then status as of ``as_of``."""
    f = h.found_on
    reviewed: dt.date | None
    if h.level is HazardLevel.MAJOR:
        h.deadline = f + dt.timedelta(int(rng.integers(30, 91)))
        total = int(np.clip(np.exp(rng.normal(np.log(60), 0.85)), 20, 400))
        reviewed = f + dt.timedelta(total)
        rectified: dt.date | None = reviewed - dt.timedelta(int(rng.integers(5, 15)))
    elif rng.random() < 0.40:
        h.deadline = f
        rectified = reviewed = f
    else:
        days = int(rng.choice([3, 7, 15, 30], p=[0.15, 0.40, 0.30, 0.15]))
        h.deadline = f + dt.timedelta(days)
        r = rng.random()
        if r < 0.85:
            rectified = f + dt.timedelta(int(np.ceil(days * rng.uniform(0.4, 1.0))))
        elif r < 0.95:
            late = int(np.clip(round(np.exp(rng.normal(np.log(7), 0.8))), 1, 30))
            rectified = h.deadline + dt.timedelta(late)
        else:
            rectified = None
        reviewed = _add_workdays(rectified, int(rng.integers(3, 11))) if rectified else None
    if rectified is not None and rectified > as_of:
        rectified = reviewed = None
    if reviewed is not None and reviewed > as_of:
        reviewed = None
    h.rectified_on, h.reviewed_on = rectified, reviewed
    h.closed_on = reviewed
    if h.closed_on is not None:
        h.status = HazardStatus.CLOSED
    elif h.rectified_on is not None:
        h.status = HazardStatus.AWAITING_REVIEW
    elif (as_of - f).days <= 2:
        h.status = HazardStatus.REPORTED
    else:
        h.status = HazardStatus.RECTIFYING

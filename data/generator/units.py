"""Units (生产经营单位): the §5.5 industry mix, placed by kind, with codes, flags, colours."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import shapely
import shapely.ops
from shapely.geometry.base import BaseGeometry

from data import REFERENCE_DIR
from data.generator.codes import make_uscc
from data.generator.names import brand
from data.generator.projection import to_lonlat, to_metres
from data.generator.town import Town
from gis.domain import FireKeyLevel, GasUse, NineSmallCategory, OperatingStatus, RiskColor

#: Minimum clearance (m) from any village boundary, so a unit belongs to one village beyond doubt.
BOUNDARY_CLEARANCE_M = 5.0
#: Every unit gets a road access point within this distance (§5.3).
ROAD_ACCESS_M = 300.0


@dataclass(frozen=True)
class Kind:
    """One row of the §5.5 industry mix."""

    key: str
    count: int
    industries: tuple[tuple[str, str], ...]  # (GB/T 4754 code, name suffix)
    place: str
    uscc: tuple[tuple[str, float], ...]
    employees: tuple[int, int, int]  # median, min, max
    area: tuple[int, int]
    risk: float
    nine_small: NineSmallCategory | None = None
    canteen: bool = False


_IND, _BIZ, _COOP = (("91", 1.0),), (("92", 0.75), ("91", 0.25)), (("93", 1.0),)
CATALOGUE: tuple[Kind, ...] = (
    Kind(
        "farm",
        22,
        (("A0112", "家庭农场"), ("A0141", "蔬菜种植场")),
        "field",
        (("92", 0.5), ("91", 0.3), ("N2", 0.2)),
        (4, 1, 12),
        (100, 1500),
        1.5,
    ),
    Kind(
        "coop",
        8,
        (("A0112", "种植专业合作社"), ("A0313", "养殖专业合作社")),
        "field",
        _COOP,
        (8, 3, 30),
        (200, 2000),
        1.5,
    ),
    Kind(
        "livestock",
        6,
        (("A0313", "生猪养殖场"), ("A0321", "蛋鸡养殖场")),
        "field",
        (("91", 0.6), ("92", 0.4)),
        (8, 3, 30),
        (800, 5000),
        2.0,
    ),
    Kind(
        "grain",
        4,
        (("A0514", "粮食烘干中心"), ("A0514", "粮食收储点")),
        "road",
        (("91", 0.5), ("N2", 0.5)),
        (8, 3, 25),
        (600, 3000),
        2.5,
    ),
    Kind(
        "food",
        18,
        (("C1312", "面粉有限公司"), ("C1431", "挂面厂"), ("C1329", "饲料有限公司")),
        "road",
        _IND,
        (25, 8, 90),
        (800, 6000),
        3.0,
        NineSmallCategory.WORKSHOP,
    ),
    Kind(
        "hair",
        12,
        (("C1939", "发制品有限公司"), ("C1939", "假发加工厂")),
        "settlement",
        (("91", 0.7), ("92", 0.3)),
        (45, 15, 150),
        (400, 3000),
        2.5,
        NineSmallCategory.WORKSHOP,
    ),
    Kind(
        "manufacturing",
        45,
        (
            ("C2110", "家具厂"),
            ("C2021", "木材加工厂"),
            ("C3311", "钢结构有限公司"),
            ("C3670", "汽车配件厂"),
            ("C2929", "塑料制品厂"),
            ("C2231", "纸箱厂"),
            ("C1810", "服装厂"),
        ),
        "road",
        (("91", 0.7), ("92", 0.3)),
        (22, 5, 150),
        (300, 5000),
        3.0,
        NineSmallCategory.WORKSHOP,
    ),
    Kind(
        "building_materials",
        8,
        (("C3031", "砖厂"), ("C3021", "商品混凝土有限公司"), ("C3022", "预制构件厂")),
        "road",
        _IND,
        (30, 10, 80),
        (2000, 10000),
        3.0,
    ),
    Kind(
        "construction",
        15,
        (
            ("E4710", "安置小区建设项目工地"),
            ("E4812", "道路改建工程工地"),
            ("E4852", "供水管网工程工地"),
        ),
        "settlement",
        _IND,
        (40, 10, 120),
        (1000, 12000),
        3.5,
    ),
    Kind(
        "supermarket",
        114,
        (("F5212", "超市"), ("F5219", "便利店"), ("F5211", "百货商店")),
        "shop",
        (("92", 0.6), ("91", 0.4)),
        (3, 1, 20),
        (40, 280),
        1.0,
        NineSmallCategory.SHOP,
    ),
    Kind(
        "agri_hardware",
        40,
        (("F5139", "农资经营部"), ("F5241", "五金建材店")),
        "shop",
        _BIZ,
        (3, 1, 10),
        (60, 290),
        1.5,
        NineSmallCategory.SHOP,
    ),
    Kind("fuel", 5, (("F5265", "加油站"),), "fuel", _IND, (8, 5, 15), (300, 1200), 5.0),
    Kind("lpg", 3, (("D4512", "液化气供应站"),), "road", _IND, (5, 3, 10), (200, 800), 5.0),
    Kind(
        "fireworks",
        6,
        (("F5267", "烟花爆竹零售点"),),
        "settlement",
        (("92", 1.0),),
        (2, 1, 3),
        (20, 80),
        4.0,
        NineSmallCategory.SHOP,
    ),
    Kind("hazchem_store", 2, (("G5942", "农药仓库"),), "road", _IND, (4, 2, 8), (300, 1500), 5.0),
    Kind("cold_store", 4, (("G5951", "冷库"),), "road", _IND, (10, 4, 30), (800, 4000), 3.5),
    Kind("storage", 4, (("G5990", "仓储中心"),), "road", _IND, (8, 3, 20), (800, 5000), 2.5),
    Kind("logistics", 4, (("G5430", "物流有限公司"),), "road", _IND, (12, 4, 40), (500, 3000), 2.5),
    Kind(
        "restaurant",
        70,
        (("H6210", "饭店"), ("H6220", "快餐店"), ("H6210", "农家菜馆")),
        "shop",
        (("92", 0.7), ("91", 0.3)),
        (5, 1, 25),
        (50, 280),
        2.0,
        NineSmallCategory.RESTAURANT,
        canteen=True,
    ),
    Kind(
        "canteen",
        4,
        (("H6241", "单位食堂"),),
        "seat",
        _IND,
        (5, 3, 10),
        (100, 400),
        2.0,
        canteen=True,
    ),
    Kind(
        "hotel",
        6,
        (("H6121", "宾馆"), ("H6130", "民宿")),
        "seat",
        _BIZ,
        (5, 2, 15),
        (200, 1500),
        2.0,
        NineSmallCategory.HOTEL,
        canteen=True,
    ),
    Kind(
        "repair",
        20,
        (("O8111", "汽车修理厂"), ("O8129", "电动车维修部")),
        "shop",
        _BIZ,
        (3, 1, 12),
        (40, 600),
        2.0,
    ),
    Kind(
        "beauty_bath",
        18,
        (("O8010", "美发店"), ("O8051", "洗浴中心")),
        "shop",
        (("92", 1.0),),
        (3, 1, 15),
        (30, 400),
        1.5,
        NineSmallCategory.BEAUTY_BATH,
    ),
    Kind(
        "internet_cafe",
        4,
        (("R9013", "网吧"),),
        "seat",
        _BIZ,
        (3, 1, 8),
        (100, 400),
        2.0,
        NineSmallCategory.INTERNET_CAFE,
    ),
    Kind(
        "entertainment",
        7,
        (("R9011", "KTV"), ("R9019", "棋牌室")),
        "shop",
        _BIZ,
        (4, 1, 12),
        (60, 500),
        2.0,
        NineSmallCategory.ENTERTAINMENT,
    ),
    Kind(
        "middle_school",
        2,
        (("P8331", "初级中学"),),
        "school",
        (("12", 1.0),),
        (80, 60, 120),
        (8000, 15000),
        2.0,
        canteen=True,
    ),
    Kind(
        "primary_central",
        1,
        (("P8321", "中心小学"),),
        "seat",
        (("12", 1.0),),
        (60, 50, 80),
        (5000, 9000),
        2.0,
        canteen=True,
    ),
    Kind(
        "primary_village",
        10,
        (("P8321", "小学"),),
        "school",
        (("12", 1.0),),
        (15, 8, 30),
        (800, 3000),
        1.5,
        NineSmallCategory.SCHOOL,
    ),
    Kind(
        "kindergarten",
        12,
        (("P8310", "幼儿园"),),
        "school",
        (("12", 0.5), ("52", 0.5)),
        (8, 4, 20),
        (300, 1500),
        2.0,
        NineSmallCategory.SCHOOL,
    ),
    Kind(
        "health_centre",
        1,
        (("Q8423", "卫生院"),),
        "seat",
        (("12", 1.0),),
        (60, 40, 80),
        (3000, 6000),
        2.0,
        canteen=True,
    ),
    Kind(
        "clinic",
        6,
        (("Q8425", "诊所"),),
        "shop",
        (("92", 0.5), ("52", 0.5)),
        (3, 1, 8),
        (50, 300),
        1.5,
        NineSmallCategory.CLINIC,
    ),
    Kind(
        "pharmacy",
        8,
        (("F5251", "大药房"),),
        "shop",
        _BIZ,
        (3, 1, 8),
        (40, 200),
        1.0,
        NineSmallCategory.SHOP,
    ),
    Kind(
        "village_clinic",
        20,
        (("Q8424", "卫生室"),),
        "settlement",
        (("12", 1.0),),
        (2, 1, 4),
        (40, 150),
        1.0,
        NineSmallCategory.CLINIC,
    ),
    Kind(
        "elderly",
        2,
        (("Q8514", "敬老院"),),
        "settlement",
        (("12", 0.5), ("52", 0.5)),
        (12, 6, 20),
        (1500, 4000),
        2.5,
        canteen=True,
    ),
    Kind(
        "public",
        9,
        (
            ("S9221", "人民政府"),
            ("S9224", "派出所"),
            ("D4420", "供电所"),
            ("D4610", "自来水厂"),
            ("S9222", "财政所"),
            ("R8870", "综合文化站"),
            ("S9223", "司法所"),
            ("A0519", "农业技术推广站"),
            ("N7810", "环卫所"),
        ),
        "seat",
        (("11", 1.0),),
        (20, 8, 60),
        (500, 4000),
        1.0,
    ),
)


@dataclass
class Unit:
    """A generated unit; ``xy`` in EPSG:4547 metres."""

    code: str
    uscc: str
    name: str
    kind: Kind
    industry_code: str
    department_code: str
    high_risk: bool
    employees: int
    floor_area_m2: int
    xy: np.ndarray
    village_code: str = ""
    address: str = ""
    risk_color: RiskColor = RiskColor.BLUE
    fire_key_level: FireKeyLevel = FireKeyLevel.NONE
    nine_small_category: NineSmallCategory | None = None
    gas_use: GasUse = GasUse.NONE
    status: OperatingStatus = OperatingStatus.OPERATING
    extras: dict[str, float] = field(default_factory=dict)


@lru_cache(maxsize=1)
def industry_table() -> tuple[tuple[str, str, bool], ...]:
    """The 三管三必须 table (prefix, department, high_risk), longest prefix first."""
    with (REFERENCE_DIR / "industry_departments.csv").open(encoding="utf-8", newline="") as fh:
        rows = [
            (r["industry_prefix"], r["department_code"], r["high_risk"] == "true")
            for r in csv.DictReader(fh)
        ]
    return tuple(sorted(rows, key=lambda r: (-len(r[0]), r[0])))


def department_for(industry_code: str) -> tuple[str, bool]:
    """Department and high-risk flag of an industry code: the longest matching prefix wins."""
    for prefix, dept, high in industry_table():
        if industry_code.startswith(prefix):
            return dept, high
    raise KeyError(f"no department rule for industry {industry_code!r}")


class Placer:
    """Draws unit locations by placement mode and checks them against the village tiling."""

    def __init__(
        self,
        town: Town,
        rng: np.random.Generator,
        roads: BaseGeometry | None,
        trunk: BaseGeometry,
        pipes: BaseGeometry | None,
    ) -> None:
        self.town, self.rng, self.trunk, self.pipes = town, rng, trunk, pipes
        self.villages = town.villages
        self.geoms = np.array([v.geom_m for v in self.villages])
        self.tree = shapely.STRtree(self.geoms)
        self.bounds = shapely.boundary(self.geoms)
        self.roads = roads
        self.pops = np.array([v.population for v in self.villages], dtype=float)
        self.fuel_sites: list[np.ndarray] = []

    def candidate(self, mode: str, village: int | None) -> np.ndarray:
        rng, c = self.rng, self.town.centre
        if mode in ("shop", "seat") and (mode == "seat" or rng.random() < 0.6):
            radius = 600.0 if mode == "shop" else 800.0
            p = c + rng.normal(0, radius / 2, 2)
            q = shapely.ops.nearest_points(self.trunk, shapely.Point(p))[0]
            d = p - np.array([q.x, q.y])
            n = np.hypot(*d) or 1.0
            return np.array([q.x, q.y]) + d / n * rng.uniform(15, 60)
        if mode == "fuel":
            for _ in range(200):
                line = self.trunk
                q = line.interpolate(rng.uniform(0, line.length))
                xy = np.array([q.x, q.y])
                if all(np.hypot(*(xy - s)) >= 2000 for s in self.fuel_sites):
                    return xy + rng.normal(0, 20, 2)
            return xy + rng.normal(0, 20, 2)
        if mode == "pipe" and self.pipes is not None:
            q = self.pipes.interpolate(rng.uniform(0, self.pipes.length))
            ang = rng.uniform(0, 2 * np.pi)
            offset = rng.uniform(80, 180) * np.array([np.cos(ang), np.sin(ang)])
            return np.array([q.x, q.y]) + offset
        if village is None:
            village = int(rng.choice(len(self.villages), p=self.pops / self.pops.sum()))
        s = self.villages[village].settlement
        if mode == "road" and self.roads is not None:
            p = s + rng.normal(0, 700, 2)
            q = shapely.ops.nearest_points(self.roads, shapely.Point(p))[0]
            d = p - np.array([q.x, q.y])
            return np.array([q.x, q.y]) + d / (np.hypot(*d) or 1.0) * rng.uniform(30, 120)
        if mode == "field":
            ang = rng.uniform(0, 2 * np.pi)
            return s + rng.uniform(450, 1000) * np.array([np.cos(ang), np.sin(ang)])
        return s + rng.normal(0, 220, 2)

    def place(self, mode: str, village: int | None = None) -> tuple[np.ndarray, int]:
        """One location strictly inside one village (``village`` if given), near a road."""
        xy, vi = self.place_many([(mode, village)])
        return xy[0], int(vi[0])

    def place_many(self, requests: list[tuple[str, int | None]]) -> tuple[np.ndarray, np.ndarray]:
        """Locations for many (mode, village) requests, checked in vectorised batches.

        Candidates are rounded to 1e-7° and projected back before the checks, so what is
        checked is exactly what gets written.
        """
        n = len(requests)
        xy = np.zeros((n, 2))
        vi = np.full(n, -1)
        todo = np.arange(n)
        for attempt in range(400):
            if not len(todo):
                break
            cand = np.array(
                [
                    self.candidate(
                        requests[i][0] if attempt < 300 else "settlement", requests[i][1]
                    )
                    for i in todo
                ]
            )
            cand = to_metres(to_lonlat(cand))
            pts = shapely.points(cand)
            inp, tree_idx = self.tree.query(pts, predicate="within")
            hit = np.full(len(todo), -1)
            counts = np.bincount(inp, minlength=len(todo))
            single = counts[inp] == 1
            hit[inp[single]] = tree_idx[single]
            ok = hit >= 0
            ok[ok] = shapely.distance(self.bounds[hit[ok]], pts[ok]) >= BOUNDARY_CLEARANCE_M
            wanted = np.array([-1 if requests[i][1] is None else requests[i][1] for i in todo])
            ok &= (wanted < 0) | (hit == wanted)
            if self.roads is not None and ok.any():
                ok[ok] = shapely.distance(self.roads, pts[ok]) <= ROAD_ACCESS_M
            xy[todo[ok]] = cand[ok]
            vi[todo[ok]] = hit[ok]
            for i in todo[ok]:
                if requests[i][0] == "fuel":
                    self.fuel_sites.append(xy[i])
            todo = todo[~ok]
        if len(todo):
            raise RuntimeError(f"could not place {len(todo)} units")
        return xy, vi


def _lognormal_int(rng: np.random.Generator, median: int, lo: int, hi: int) -> int:
    return int(np.clip(round(median * np.exp(rng.normal(0, 0.5))), lo, hi))


def build_units(
    town: Town,
    rng: np.random.Generator,
    roads: BaseGeometry | None,
    trunk: BaseGeometry,
    pipes: BaseGeometry | None,
    medium: BaseGeometry | None,
    town_short: str,
    serial_base: int,
    scale_factor: float = 1.0,
) -> list[Unit]:
    """Generate the town's units per the §5.5 mix, with §5.6 key units and §3.4 九小 flags.

    Parameters
    ----------
    town
        The town (villages with settlements).
    rng
        The units layer generator.
    roads, trunk
        All roads (for the 300 m access rule; None skips it) and the 省道/县道 lines.
    pipes, medium
        All gas pipelines and the 中压 mains (None when the scale has no gas network).
    town_short
        Town name used in unit names and addresses (e.g. 五女店镇).
    serial_base
        Offset that keeps credit-code bodies unique across towns.
    scale_factor
        Multiplies every kind's count (1.0 = the §5.5 default of 520).
    """
    placer = Placer(town, rng, roads, trunk, pipes)
    county6 = town.spec.county_code[:6]
    legacy6 = "411023" if county6 == "411003" else county6
    regions = (county6, legacy6, county6[:4] + "00")
    by_pop = np.argsort([-v.population for v in town.villages], kind="stable")
    school_villages = [int(i) for i in by_pop if not town.villages[int(i)].seat][:10]
    units: list[Unit] = []
    for kind in CATALOGUE:
        n = max(1, round(kind.count * scale_factor)) if scale_factor != 1.0 else kind.count
        requests: list[tuple[str, int | None]] = []
        for k in range(n):
            if kind.place == "school":
                village = (
                    0
                    if kind.key == "kindergarten" and k < 2
                    else school_villages[k % len(school_villages)]
                )
                requests.append(("settlement", village))
            else:
                requests.append((kind.place, None))
        if kind.place == "fuel":
            # Fuel stations keep 2 km apart, so each placement depends on the previous ones.
            placed = [placer.place(*r) for r in requests]
            xys, vis = np.array([p[0] for p in placed]), np.array([p[1] for p in placed])
        else:
            xys, vis = placer.place_many(requests)
        cats, weights = zip(*kind.uscc, strict=True)
        p_cat = np.array(weights) / sum(weights)
        for k in range(n):
            code, suffix = kind.industries[k % len(kind.industries)]
            dept, high = department_for(code)
            category = str(cats[int(rng.choice(len(cats), p=p_cat))])
            region = regions[int(rng.choice(3, p=[0.70, 0.25, 0.05]))]
            emp = _lognormal_int(rng, *kind.employees)
            area = int(rng.integers(*kind.area))
            units.append(
                Unit(
                    code="",
                    uscc=make_uscc(category, region, serial_base + len(units)),
                    name=f"{suffix}",
                    kind=kind,
                    industry_code=code,
                    department_code=dept,
                    high_risk=high,
                    employees=emp,
                    floor_area_m2=area,
                    xy=xys[k],
                )
            )
            units[-1].extras["village_index"] = int(vis[k])
    _move_near_pipes(units, placer, rng)
    for i, u in enumerate(units):
        v = town.villages[int(u.extras["village_index"])]
        u.code = f"QY{i + 1:06d}"
        u.village_code = v.code
        where = town_short if v.seat else v.short_name
        if u.kind.key == "public":
            u.name = f"{town_short}{u.name}"
        elif u.kind.key in ("middle_school", "primary_central", "health_centre"):
            second = "第二" if u.kind.key == "middle_school" and i % 2 else ""
            u.name = f"{town_short}{second}{u.name}"
        elif u.kind.key in ("primary_village", "kindergarten", "village_clinic", "elderly"):
            u.name = f"{where}{u.name}"
        else:
            u.name = f"{where}{brand(rng)}{u.name}"
        u.address = (
            f"河南省许昌市建安区{town_short}{v.name}"
            f"{int(rng.integers(1, max(2, v.groups_count + 1)))}组"
            f"{int(rng.integers(1, 200))}号"
        )
    _dedupe_names(units)
    _flags(units, rng, medium)
    return units


def _move_near_pipes(units: list[Unit], placer: Placer, rng: np.random.Generator) -> None:
    """Put a few schools, clinics and crowded venues within 200 m of a pipeline (for the demo)."""
    if placer.pipes is None:
        return
    wanted = {
        "kindergarten": 2,
        "primary_village": 1,
        "clinic": 1,
        "village_clinic": 1,
        "entertainment": 1,
        "supermarket": 1,
    }
    for u in units:
        if wanted.get(u.kind.key, 0) > 0:
            wanted[u.kind.key] -= 1
            xy, vi = placer.place("pipe")
            u.xy = xy
            u.extras["village_index"] = vi


def _dedupe_names(units: list[Unit]) -> None:
    seen: dict[str, int] = {}
    for u in units:
        if u.name in seen:
            seen[u.name] += 1
            chain = u.kind.key in ("supermarket", "restaurant")
            u.name = f"{u.name}（{seen[u.name]}店）" if chain else f"{u.name}{seen[u.name]}号"
        else:
            seen[u.name] = 1


def _pick(units: list[Unit], key: str, n: int, by: str = "employees") -> list[Unit]:
    pool = [u for u in units if u.kind.key == key and u.fire_key_level is FireKeyLevel.NONE]
    pool.sort(key=lambda u: (-getattr(u, by), u.code))
    return pool[:n]


def _flags(units: list[Unit], rng: np.random.Generator, medium: BaseGeometry | None) -> None:
    """Key units (§5.6), 九小 (§3.4 thresholds), risk colours, status and gas use (§5.5)."""
    county = (
        _pick(units, "fuel", 5)
        + _pick(units, "lpg", 1)
        + _pick(units, "health_centre", 1)
        + _pick(units, "elderly", 1)
        + _pick(units, "middle_school", 2)
        + _pick(units, "hair", 1)
        + _pick(units, "hazchem_store", 1)
    )
    for u in county:
        u.fire_key_level = FireKeyLevel.COUNTY
    town = (
        _pick(units, "kindergarten", 12)
        + _pick(units, "primary_central", 1)
        + _pick(units, "primary_village", 3)
        + _pick(units, "supermarket", 4, "floor_area_m2")
        + _pick(units, "cold_store", 2, "floor_area_m2")
        + _pick(units, "logistics", 2)
        + _pick(units, "internet_cafe", 2)
        + _pick(units, "entertainment", 3, "floor_area_m2")
        + _pick(units, "hotel", 3, "floor_area_m2")
        + _pick(units, "construction", 3)
        + _pick(units, "hair", 5)
        + _pick(units, "agri_hardware", 3, "floor_area_m2")
    )
    for u in town:
        u.fire_key_level = FireKeyLevel.TOWN
    # The four big supermarkets exceed the 300 m² 九小 shop threshold.
    for u in _pick_keyed(units, "supermarket"):
        u.floor_area_m2 = int(rng.integers(400, 1500))
    for u in units:
        u.nine_small_category = _nine_small(u)
        if u.kind.key == "fireworks":
            u.status = OperatingStatus.SEASONAL
        elif u.fire_key_level is FireKeyLevel.NONE and u.kind.key != "public":
            r = rng.random()
            u.status = (
                OperatingStatus.OPERATING
                if r < 0.92
                else OperatingStatus.SUSPENDED
                if r < 0.97
                else OperatingStatus.CLOSED
            )
    score = np.array(
        [
            u.kind.risk
            + (1.0 if u.fire_key_level is not FireKeyLevel.NONE else 0.0)
            + (1.0 if u.high_risk else 0.0)
            + rng.normal(0, 0.8)
            for u in units
        ]
    )
    order = np.argsort(-score, kind="stable")
    n = len(units)
    cuts = np.round(np.cumsum([0.02, 0.10, 0.30]) * n).astype(int)
    for rank, i in enumerate(order):
        units[i].risk_color = (
            RiskColor.RED
            if rank < cuts[0]
            else RiskColor.ORANGE
            if rank < cuts[1]
            else RiskColor.YELLOW
            if rank < cuts[2]
            else RiskColor.BLUE
        )
    _gas_use(units, rng, medium)


def _pick_keyed(units: list[Unit], key: str) -> list[Unit]:
    return [u for u in units if u.kind.key == key and u.fire_key_level is not FireKeyLevel.NONE]


def _nine_small(u: Unit) -> NineSmallCategory | None:
    """The §3.4 threshold rules, from floor area, employees and derived seats/beds/pupils."""
    cat = u.kind.nine_small
    if cat is None:
        return None
    a, e = u.floor_area_m2, u.employees
    limits = {
        NineSmallCategory.SHOP: a <= 300,
        NineSmallCategory.RESTAURANT: a / 1.8 <= 100,  # seats ≈ 1.8 m² each
        NineSmallCategory.HOTEL: a / 20 <= 50,  # beds ≈ 20 m² each
        NineSmallCategory.ENTERTAINMENT: a <= 200,
        NineSmallCategory.INTERNET_CAFE: a <= 200,
        NineSmallCategory.BEAUTY_BATH: a <= 200,
        NineSmallCategory.CLINIC: a / 25 <= 30,  # beds ≈ 25 m² each
        NineSmallCategory.SCHOOL: e * 15 <= (100 if u.kind.key == "kindergarten" else 500),
        NineSmallCategory.WORKSHOP: e <= 50,
    }
    return cat if limits[cat] else None


def _gas_use(units: list[Unit], rng: np.random.Generator, medium: BaseGeometry | None) -> None:
    """~40 % bottled: all far from a 中压 main, plus some right beside one (瓶改管 candidates)."""
    users = [u for u in units if u.kind.canteen]
    if not users:
        return
    if medium is None or medium.is_empty:
        for u in users:
            u.gas_use = GasUse.BOTTLED if rng.random() < 0.4 else GasUse.PIPED
        return
    dist = shapely.distance(medium, shapely.points(np.array([u.xy for u in users])))
    target = round(0.4 * len(users))
    bottled = set(np.flatnonzero(dist > 150).tolist())
    near = [i for i in np.argsort(dist, kind="stable").tolist() if dist[i] <= 50]
    quota = max(3, min(len(near) // 3, 12))
    bottled.update(near[:: max(1, len(near) // quota)][:quota])
    rest = [i for i in rng.permutation(len(users)).tolist() if i not in bottled and dist[i] <= 150]
    while len(bottled) < target and rest:
        bottled.add(rest.pop())
    far_sorted = sorted(bottled, key=lambda i: -dist[i])
    while len(bottled) > target + 3 and far_sorted:
        i = far_sorted.pop()
        if dist[i] > 50:
            bottled.discard(i)
    for i, u in enumerate(users):
        u.gas_use = GasUse.BOTTLED if i in bottled else GasUse.PIPED

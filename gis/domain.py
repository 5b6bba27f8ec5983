"""Domain vocabulary shared by every layer: enumerations with their Chinese labels."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class LabelledEnum(StrEnum):
    """A string enum whose members carry the Chinese label the UI and ledgers show."""

    label: str

    # Only member definitions (``RED = "red", "红"``) reach this __new__; a lookup by value
    # (``RiskColor("red")``) goes to Enum.__new__ at runtime, but mypy checks it against this
    # signature (python/mypy#10573), hence the default: a label is still required here.
    def __new__(cls, value: str, label: str | None = None) -> Self:
        if label is None:
            raise TypeError(f"{cls.__name__} member {value!r} needs a label")
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def from_label(cls, text: str) -> Self:
        """Resolve a member from its value or its Chinese label (as found in ledgers)."""
        text = text.strip()
        for member in cls:
            if text in (member.value, member.label):
                return member
        raise ValueError(f"{text!r} is not one of {[m.label for m in cls]}")


class VillageKind(LabelledEnum):
    VILLAGE = "village", "村"
    COMMUNITY = "community", "社区"


class RiskColor(LabelledEnum):
    """Risk level of the dual-prevention mechanism (双重预防机制)."""

    RED = "red", "红"
    ORANGE = "orange", "橙"
    YELLOW = "yellow", "黄"
    BLUE = "blue", "蓝"


class FireKeyLevel(LabelledEnum):
    """Fire-safety key unit (消防安全重点单位) designation."""

    NONE = "none", "否"
    COUNTY = "county", "县级消防安全重点单位"
    TOWN = "town", "镇级重点监管单位"


class NineSmallCategory(LabelledEnum):
    """The 九小场所 categories (threshold definition, conventions §3.4)."""

    SHOP = "shop", "小商店"
    RESTAURANT = "restaurant", "小餐饮场所"
    HOTEL = "hotel", "小旅馆"
    ENTERTAINMENT = "entertainment", "小歌舞娱乐场所"
    INTERNET_CAFE = "internet_cafe", "小网吧"
    BEAUTY_BATH = "beauty_bath", "小美容洗浴场所"
    CLINIC = "clinic", "小医院"
    SCHOOL = "school", "小学校或幼儿园"
    WORKSHOP = "workshop", "小生产加工企业"


class GasUse(LabelledEnum):
    NONE = "none", "无"
    BOTTLED = "bottled", "瓶装液化气"
    PIPED = "piped", "管道天然气"


class OperatingStatus(LabelledEnum):
    OPERATING = "operating", "在营"
    SUSPENDED = "suspended", "停产"
    CLOSED = "closed", "关闭"
    SEASONAL = "seasonal", "季节性"


class StaffRole(LabelledEnum):
    """What a person can be assigned as; drives eligibility for grid and 五包一 slots."""

    OFFICE_HEAD = "office_head", "安委办主任"
    LEADER = "leader", "包片领导"
    INSPECTOR = "inspector", "部门监管人员"
    TOWN_CADRE = "town_cadre", "乡镇干部"
    FIREFIGHTER = "firefighter", "消防人员"
    POLICE = "police", "派出所民警"
    VILLAGE_STAFF = "village_staff", "村级网格员"
    PROFESSIONAL = "professional", "专业人员"


class RoadClass(LabelledEnum):
    """Administrative road classes of GB/T 917-2017."""

    G = "G", "国道"
    S = "S", "省道"
    X = "X", "县道"
    Y = "Y", "乡道"
    C = "C", "村道"
    EXPRESSWAY = "E", "高速公路"


class PressureClass(LabelledEnum):
    HIGH = "high", "高压"
    SUB_HIGH = "sub_high", "次高压"
    MEDIUM = "medium", "中压"
    LOW = "low", "低压"


class GasFacilityKind(LabelledEnum):
    REGULATOR_STATION = "regulator_station", "调压站"
    REGULATOR_BOX = "regulator_box", "调压柜"
    VALVE = "valve", "阀门井"


class FireStationKind(LabelledEnum):
    FIRE_STATION = "fire_station", "专职消防队"
    MICRO_STATION = "micro_station", "微型消防站"
    EMERGENCY_TEAM = "emergency_team", "应急救援队"


class InspectionKind(LabelledEnum):
    DEPARTMENT = "department", "部门检查"
    RANDOM = "random", "双随机抽查"
    GRID_PATROL = "grid_patrol", "网格巡查"
    SUPERVISION = "supervision", "上级督查"


class HazardSource(LabelledEnum):
    DEPARTMENT = "department", "部门检查"
    GRID_PATROL = "grid_patrol", "网格巡查"
    SELF_REPORT = "self_report", "企业自查"
    PUBLIC_REPORT = "public_report", "群众举报"
    SUPERVISION = "supervision", "上级督查"


class HazardCategory(LabelledEnum):
    FIRE = "fire", "消防"
    ELECTRICAL = "electrical", "用电"
    GAS = "gas", "燃气"
    MANAGEMENT = "management", "管理"
    SPECIAL_EQUIPMENT = "special_equipment", "特种设备"
    CONFINED_SPACE = "confined_space", "有限空间"
    DUST = "dust", "粉尘"
    HAZCHEM = "hazchem", "危化品"
    CONSTRUCTION = "construction", "建筑施工"
    TRAFFIC = "traffic", "交通"


class FatalFactor(LabelledEnum):
    """The ten fatal fire-risk factors (十大致命风险因素) of the town plan, item 4."""

    EXITS = "exits", "安全出口、疏散通道"
    HOT_WORK = "hot_work", "电气焊作业"
    FLAMMABLES = "flammables", "易燃易爆物品"
    FIRE_EQUIPMENT = "fire_equipment", "消防设施设备"
    POWER_GAS = "power_gas", "用电用气安全"
    DRILLS = "drills", "疏散逃生演练"
    SANDWICH_PANEL = "sandwich_panel", "易燃可燃彩钢板和保温材料"
    MULTI_USE = "multi_use", "生产储存住宿“多合一”"
    E_BIKE = "e_bike", "电动自行车停放充电"
    OPEN_FLAME = "open_flame", "明火烧纸焚香和燃放烟花爆竹"


class HazardLevel(LabelledEnum):
    GENERAL = "general", "一般"
    MAJOR = "major", "重大"


class HazardStatus(LabelledEnum):
    """The closed loop: report → confirm → rectify → submit → review → sign-off (销号).

    The transitions between these states are data: ``gis.workflows.hazards.TRANSITIONS``.
    ``awaiting_review`` is "rectification submitted"; ``awaiting_countersign`` is a major hazard
    signed once and waiting for its second, different signer.
    """

    REPORTED = "reported", "待确认"
    CONFIRMED = "confirmed", "已确认"
    REJECTED = "rejected", "不予认定"
    RECTIFYING = "rectifying", "整改中"
    AWAITING_REVIEW = "awaiting_review", "待复查"
    REVIEWED = "reviewed", "复查合格"
    AWAITING_COUNTERSIGN = "awaiting_countersign", "待复核签字"
    CLOSED = "closed", "已销号"


class EscalationLevel(LabelledEnum):
    """Who supervises an overdue hazard (逾期督办), climbing with the days overdue."""

    VILLAGE = "village", "村级督办"
    TOWN = "town", "镇级督办"
    COUNTY = "county", "区级督办"


class PhotoKind(LabelledEnum):
    BEFORE = "before", "整改前"
    AFTER = "after", "整改后"


class ItemResult(LabelledEnum):
    """The result of one checklist item in an inspection."""

    OK = "ok", "合格"
    HAZARD = "hazard", "存在隐患"
    NOT_APPLICABLE = "na", "不适用"


class ResponsibilityRole(LabelledEnum):
    """Slots filled by assignment; the five TEAM_* roles form a 五包一 team."""

    GRID_CHIEF = "grid_chief", "网格长"
    GRID_MEMBER = "grid_member", "网格员"
    UNIT_INSPECTOR = "unit_inspector", "责任监管人员"
    TEAM_REGULATOR = "team_regulator", "行业监管部门干部"
    TEAM_TOWN_CADRE = "team_town_cadre", "乡镇干部"
    TEAM_VILLAGE_STAFF = "team_village_staff", "村（社区）工作人员"
    TEAM_FIRE_POLICE = "team_fire_police", "消防人员或派出所人员"
    TEAM_PROFESSIONAL = "team_professional", "专业人员"

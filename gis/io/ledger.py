"""Ledger columns: Chinese header ⇄ accepted variants ⇄ field ⇄ short DBF name; one cell parsed."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from gis.domain import (
    FireKeyLevel,
    GasUse,
    LabelledEnum,
    NineSmallCategory,
    OperatingStatus,
    RiskColor,
    VillageKind,
)
from gis.io.cells import (
    FALSE_WORDS,
    INT_MAX,
    NOTE_WORDS,
    TRUE_WORDS,
    CellError,
    enum_value,
    free_text,
    is_blank,
    is_note_row,
    parse_bool,
    parse_date,
    parse_degrees,
    parse_division,
    parse_industry,
    parse_lonlat,
    parse_village,
    text_of,
)
from gis.io.readers import normalise_header
from gis.validation import normalise_uscc

__all__ = [
    "FALSE_WORDS",
    "NOTE_WORDS",
    "TRUE_WORDS",
    "UNIT_LEDGER",
    "VILLAGE_LEDGER",
    "CellError",
    "Column",
    "Ledger",
    "is_blank",
    "is_note_row",
    "parse_cell",
    "parse_date",
]

Kind = Literal[
    "text",
    "code",
    "uscc",
    "int",
    "float",
    "bool",
    "enum",
    "date",
    "lon",
    "lat",
    "lonlat",
    "industry",
    "village",
    "division",
]


@dataclass(frozen=True)
class Column:
    """One ledger column.

    ``header`` is the canonical Chinese header (Excel, CSV, GeoPackage, KML); ``short`` the
    ≤10-byte DBF field name used in shapefiles; ``field`` the model attribute (None for
    display-only columns such as 序号). ``aliases`` are other headers accepted on import.
    """

    header: str
    field: str | None
    short: str
    kind: Kind = "text"
    enum: type[LabelledEnum] | None = None
    required: bool = False
    aliases: tuple[str, ...] = ()
    width: int = 12
    note: str = ""
    #: Exported and written in the template (False for import-only columns such as 经纬度).
    exported: bool = True

    def names(self) -> Iterator[str]:
        """Every header under which this column is recognised on import (normalised)."""
        yield normalise_header(self.header)
        yield normalise_header(self.short)
        if self.field:
            yield normalise_header(self.field)
        for alias in self.aliases:
            yield normalise_header(alias)


@dataclass(frozen=True)
class Ledger:
    """The columns of one ledger (table) and its Excel title."""

    name: str
    columns: tuple[Column, ...]

    @property
    def header_keys(self) -> list[str]:
        """Headers used to find the header row under title rows (every accepted variant)."""
        # Latin aliases (lon, x, village_code) are left out: a notes sheet listing "经度 | lon"
        # would otherwise look like a header row.
        chinese = [a for c in self.columns for a in c.aliases if not a.isascii()]
        return [c.header for c in self.columns] + chinese

    @property
    def exported_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.exported)

    def by_field(self, field: str) -> Column:
        return next(c for c in self.columns if c.field == field)

    def resolve(self, headers: list[str]) -> dict[str, str]:
        """Map each field to the header the file uses for it (first match wins)."""
        present = {normalise_header(h): h for h in headers}
        mapping: dict[str, str] = {}
        for column in self.columns:
            key = column.field or column.header
            for name in column.names():
                if name in present:
                    mapping[key] = present[name]
                    break
        return mapping


UNIT_LEDGER = Ledger(
    name="生产经营单位台账",
    columns=(
        Column("序号", None, "xh", "int", width=6),
        Column(
            "单位编号",
            "code",
            "code",
            "code",
            aliases=("编号", "企业编号", "单位序号编码"),
            width=10,
        ),
        Column(
            "单位名称",
            "name",
            "name",
            required=True,
            aliases=(
                "企业名称",
                "名称",
                "单位全称",
                "企业全称",
                "企业(单位)名称",
                "单位(企业)名称",
                "生产经营单位名称",
                "场所名称",
            ),
            width=28,
        ),
        Column(
            "统一社会信用代码",
            "uscc",
            "uscc",
            "uscc",
            required=True,
            aliases=(
                "信用代码",
                "社会信用代码",
                "统一信用代码",
                "统一代码",
                "统一社会信用代码(注册号)",
                "组织机构代码/统一社会信用代码",
            ),
            width=22,
        ),
        Column(
            "所属村(社区)",
            "village",
            "village",
            "village",
            aliases=(
                "所属村",
                "所属村(社区)/网格",
                "村(社区)",
                "所属网格",
                "村/社区",
                "所在村",
                "所在村(社区)",
                "行政村",
                "村居",
                "村(居)",
                "所属村居",
                "所属村(居)",
                "village_code",
            ),
            width=14,
            note="村（社区）名称或12位代码（可带名称：411003101201 五女店村）；空则按坐标判定",
        ),
        Column(
            "详细地址",
            "address",
            "address",
            aliases=("地址", "经营地址", "生产经营地址", "单位地址", "注册地址", "经营场所"),
            width=30,
        ),
        Column(
            "经度",
            "lon",
            "lon",
            "lon",
            required=True,
            aliases=("东经", "lng", "lon", "longitude", "x", "经度(东经)", "经度坐标"),
            width=13,
            note="CGCS2000 经度：小数度（113.99、113.99°）或度分秒（113°59′30.5″、113 59 30.5）",
        ),
        Column(
            "纬度",
            "lat",
            "lat",
            "lat",
            required=True,
            aliases=("北纬", "lat", "latitude", "y", "纬度(北纬)", "纬度坐标"),
            width=12,
            note="CGCS2000 纬度：写法同经度",
        ),
        Column(
            "经纬度",
            "lonlat",
            "lonlat",
            "lonlat",
            aliases=("坐标", "经纬度坐标", "地理坐标", "GPS坐标", "位置坐标", "坐标(经度,纬度)"),
            width=22,
            note="经度和纬度写在一格（如 34.05,113.99），不分先后；无经度、纬度列时使用",
            exported=False,
        ),
        Column(
            "行业代码",
            "industry_code",
            "ind_code",
            "industry",
            required=True,
            aliases=(
                "行业类别",
                "国民经济行业代码",
                "行业分类代码",
                "行业分类",
                "所属行业",
                "国民经济行业分类",
                "行业类别代码",
                "行业",
            ),
            width=10,
            note="GB/T 4754-2017 代码，可带名称（C2511 原油加工、2511-原油加工）",
        ),
        Column(
            "行业监管部门",
            "department",
            "dept",
            aliases=(
                "监管部门",
                "主管部门",
                "行业主管部门",
                "负有监管职责的部门",
                "department_code",
            ),
            width=14,
            note="空则按三管三必须对照表确定",
        ),
        Column(
            "高危行业",
            "high_risk",
            "high_risk",
            "bool",
            aliases=("是否高危行业", "是否高危"),
            width=9,
            note="是/否（有/无、√/×、Y/N）；空则按三管三必须对照表确定",
        ),
        Column(
            "风险等级",
            "risk_color",
            "risk",
            "enum",
            RiskColor,
            required=True,
            aliases=("风险等级(红/橙/黄/蓝)", "风险级别", "安全风险等级", "风险分级", "风险颜色"),
            width=9,
            note="红/橙/黄/蓝",
        ),
        Column(
            "消防安全重点单位",
            "fire_key_level",
            "fire_key",
            "enum",
            FireKeyLevel,
            aliases=("是否消防安全重点单位", "消防重点单位", "是否消防重点单位"),
            width=20,
        ),
        Column(
            "九小场所",
            "nine_small_category",
            "nine_small",
            "enum",
            NineSmallCategory,
            aliases=("是否九小场所", "九小场所类别", "九小场所类型"),
            width=14,
        ),
        Column(
            "燃气使用",
            "gas_use",
            "gas_use",
            "enum",
            GasUse,
            aliases=("燃气用户", "是否使用燃气", "用气类型", "燃气类型"),
            width=12,
        ),
        Column(
            "经营状态",
            "status",
            "status",
            "enum",
            OperatingStatus,
            aliases=("状态", "生产经营状态", "营业状态"),
            width=9,
        ),
        Column(
            "从业人员数",
            "employees",
            "employees",
            "int",
            aliases=("从业人数", "从业人员", "职工人数", "员工人数", "从业人员(人)"),
            width=10,
        ),
        Column(
            "建筑面积(m²)",
            "floor_area_m2",
            "floor_area",
            "float",
            aliases=("建筑面积", "建筑面积(平方米)", "建筑面积(㎡)"),
            width=12,
        ),
    ),
)

VILLAGE_LEDGER = Ledger(
    name="村（社区）网格台账",
    columns=(
        Column("序号", None, "xh", "int", width=6),
        Column(
            "村(社区)代码",
            "code",
            "code",
            "division",
            required=True,
            aliases=(
                "村代码",
                "社区代码",
                "村(居)代码",
                "代码",
                "区划代码",
                "统计用区划代码",
                "行政区划代码",
            ),
            width=15,
            note="12位统计用区划代码",
        ),
        Column(
            "名称",
            "name",
            "name",
            required=True,
            aliases=("村(社区)名称", "村名", "村名称", "社区名称", "村(居)名称", "Name"),
            width=16,
        ),
        Column(
            "类型",
            "kind",
            "kind",
            "enum",
            VillageKind,
            required=True,
            aliases=("村/社区", "类别"),
            width=8,
            note="村/社区",
        ),
        Column("城乡分类代码", "urban_rural_code", "ur_code", "code", width=12),
        Column(
            "人口",
            "population",
            "population",
            "int",
            aliases=("户籍人口", "人口数", "总人口"),
            width=10,
        ),
        Column("户数", "households", "households", "int", aliases=("总户数",), width=8),
        Column("村民小组数", "groups_count", "groups", "int", aliases=("小组数", "组数"), width=10),
    ),
)


def parse_cell(value: Any, column: Column) -> Any:
    """Convert one raw cell to the column's type; blank cells become None.

    Raises
    ------
    CellError
        With the Chinese reason, when the value does not fit the column.
    """
    if is_blank(value):
        return None
    kind = column.kind
    if kind == "text":
        return free_text(value)
    if kind == "code":
        return "".join(text_of(value).split()).upper()
    if kind == "industry":
        return parse_industry(value)
    if kind == "division":
        return parse_division(value)
    if kind == "village":
        return parse_village(value)
    if kind == "uscc":
        return normalise_uscc(text_of(value))
    if kind in ("lon", "lat"):
        return parse_degrees(value)
    if kind == "lonlat":
        return parse_lonlat(value)
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise CellError("应为数字")
        try:
            number = float(text_of(value).replace(",", ""))
        except ValueError:
            raise CellError("应为数字") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise CellError("应为数字")
        if number < 0:
            raise CellError("不能为负数")
        if kind == "int":
            if not number.is_integer():
                raise CellError("应为整数")
            if number > INT_MAX:
                raise CellError(f"数值过大（不能超过 {INT_MAX}）")
            return int(number)
        return number
    if kind == "bool":
        return parse_bool(value)
    if kind == "date":
        return parse_date(value)
    if kind == "enum":
        assert column.enum is not None
        return enum_value(value, column.enum)
    raise AssertionError(kind)


def export_value(value: Any, column: Column) -> Any:
    """A field value as written to a ledger: enum labels, 是/否, plain numbers."""
    if value is None:
        return None
    if column.kind == "enum" and isinstance(value, str) and column.enum is not None:
        return column.enum.from_label(value).label
    if column.kind == "bool":
        return "是" if value else "否"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def ascii_len(text: str, encoding: str = "gbk") -> int:
    """Bytes of ``text`` in ``encoding`` (DBF field names are limited to 10 bytes)."""
    return len(unicodedata.normalize("NFC", text).encode(encoding))

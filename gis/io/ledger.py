"""Ledger columns: Chinese header ⇄ field ⇄ short DBF name, and parsing of one cell."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
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
from gis.io.readers import normalise_header
from gis.validation import normalise_text, normalise_uscc

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

#: The words offices write for yes and no (after NFKC folding and lower-casing).
TRUE_WORDS = {"是", "有", "y", "yes", "true", "1", "√", "✓", "✔", "对"}
FALSE_WORDS = {"否", "无", "没有", "不是", "n", "no", "false", "0", "×", "✗", "✘", "", "/", "-"}
#: A row whose cell starts with one of these (and whose key cell is not a valid key) is a
#: summary, signature or note line under or inside the table, not data: it is skipped.
NOTE_WORDS = (
    "合计",
    "小计",
    "总计",
    "共计",
    "备注",
    "注:",
    "注：",
    "说明",
    "填表人",
    "填报人",
    "制表人",
    "审核人",
    "审核",
    "负责人",
    "联系人",
    "联系电话",
    "制表日期",
    "填表日期",
    "填报日期",
    "填报单位",
    "制表单位",
    "单位负责人",
    "签字",
    "(盖章)",
    "盖章",
)
#: Largest value a PostgreSQL ``integer`` column holds.
INT_MAX = 2**31 - 1


class CellError(ValueError):
    """A cell could not be parsed; the message is the Chinese reason."""


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
        return [c.header for c in self.columns] + [a for c in self.columns for a in c.aliases]

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


def is_blank(value: Any) -> bool:
    """True for None, NaN and text that is empty after folding full-width spaces."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not normalise_text(value)


def _text(value: Any) -> str:
    """Folded text for codes, numbers and labels (全角 digits and letters become ASCII)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # codes typed as numbers come back as floats
    return normalise_text(str(value))


def _free_text(value: Any) -> str:
    """Names and addresses: only surrounding (also 全角) spaces go; （） stay as written."""
    return str(value).strip()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = _text(value).lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError("应为“是”或“否”（也可写 有/无、√/×、Y/N）")


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
    re.compile(r"^(\d{4})[.\-/](\d{1,2})[.\-/](\d{1,2})$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value: Any) -> dt.date:
    """A date from a ledger cell: real Excel dates, 2024年3月5日, 2024.3.5, 2024-03-05, serials.

    Raises
    ------
    CellError
        When the value is not a recognisable date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        return EXCEL_EPOCH + dt.timedelta(days=int(value))
    text = "".join(_text(value).split())
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return dt.date(*(int(g) for g in match.groups()))
            except ValueError as exc:
                raise CellError(f"日期不存在：{text}") from exc
    raise CellError("日期格式无法识别（应如 2024年3月5日、2024.3.5 或 2024-03-05）")


#: Words offices use for enum members besides the stored value and the label.
ENUM_WORDS: dict[type[LabelledEnum], dict[str, str]] = {
    RiskColor: {
        "重大风险": "red",
        "重大": "red",
        "较大风险": "orange",
        "较大": "orange",
        "一般风险": "yellow",
        "一般": "yellow",
        "低风险": "blue",
        "低": "blue",
    },
    FireKeyLevel: {
        # 消防安全重点单位 are designated by the county fire brigade: a plain 是 means county.
        **{w: "county" for w in TRUE_WORDS},
        "县级": "county",
        "区级": "county",
        "县级重点": "county",
        "镇级": "town",
        "镇级重点": "town",
        "乡镇级": "town",
    },
    OperatingStatus: {
        "正常": "operating",
        "营业": "operating",
        "正常经营": "operating",
        "生产": "operating",
        "停业": "suspended",
        "停产停业": "suspended",
        "关停": "closed",
        "注销": "closed",
        "歇业": "closed",
    },
    GasUse: {"瓶装": "bottled", "液化气": "bottled", "管道": "piped", "天然气": "piped"},
}
#: Enums whose "none" member (or no value at all) is what a 否/无 means.
NO_MEANS: dict[type[LabelledEnum], str | None] = {
    FireKeyLevel: "none",
    GasUse: "none",
    NineSmallCategory: None,
}


def _enum(value: Any, enum: type[LabelledEnum]) -> LabelledEnum | None:
    text = _text(value)
    if enum in NO_MEANS and text.lower() in FALSE_WORDS:
        none = NO_MEANS[enum]
        return None if none is None else enum(none)
    # 风险等级 is often written 红色 / 重大风险(红); accept the colour word.
    if enum is RiskColor:
        text = re.sub(r"[()]", "", text).removesuffix("色")
        for member in RiskColor:
            if text.endswith(member.label) and len(text) > 1:
                text = member.label
    word = ENUM_WORDS.get(enum, {}).get(text.lower())
    if word is not None:
        return enum(word)
    try:
        return enum.from_label(text)
    except ValueError:
        labels = "、".join(m.label for m in enum)
        raise CellError(f"无法识别“{text}”，应为：{labels}") from None


# --- codes written with their names ------------------------------------------------------

#: GB/T 4754-2017 sections (门类) by two-digit division (大类): codes written without their
#: letter (2511 for C2511) get it back, since the 三管三必须 table is keyed with letters.
_SECTIONS = (
    ("A", 1, 5),
    ("B", 6, 12),
    ("C", 13, 43),
    ("D", 44, 46),
    ("E", 47, 50),
    ("F", 51, 52),
    ("G", 53, 60),
    ("H", 61, 62),
    ("I", 63, 65),
    ("J", 66, 69),
    ("K", 70, 70),
    ("L", 71, 72),
    ("M", 73, 75),
    ("N", 76, 79),
    ("O", 80, 82),
    ("P", 83, 83),
    ("Q", 84, 85),
    ("R", 86, 90),
    ("S", 91, 96),
    ("T", 97, 97),
)
_INDUSTRY = re.compile(r"^([A-Ta-t])?\s*(\d{2,4})(?!\d)")
_DIVISION = re.compile(r"^(\d{12})(?!\d)")


def section_of(division: int) -> str | None:
    """The GB/T 4754-2017 section letter of a two-digit division (25 → C), if any."""
    return next((letter for letter, lo, hi in _SECTIONS if lo <= division <= hi), None)


def parse_industry(value: Any) -> str:
    """An industry code from ``C2511``, ``C2511 原油加工``, ``2511-原油加工`` or ``c 25``.

    Raises
    ------
    CellError
        When the cell does not start with a code, or its division has no section.
    """
    text = _text(value)
    match = _INDUSTRY.match(text)
    if match is None:
        raise CellError("应为国民经济行业代码（如 C2511 或 2511，可带名称）")
    letter, digits = match.group(1), match.group(2)
    if letter is None:
        letter = section_of(int(digits[:2]))
        if letter is None:
            raise CellError(f"行业大类 {digits[:2]} 不存在（GB/T 4754-2017）")
    return f"{letter.upper()}{digits}"


def parse_division(value: Any) -> str:
    """A 12-digit 统计用区划代码, also when written with its name (``411003101201 五女店村``)."""
    text = _text(value)
    match = _DIVISION.match(text)
    if match is None:
        return "".join(text.split()).upper()  # checked (12 digits, town prefix) by the importer
    return match.group(1)


def parse_village(value: Any) -> str:
    """A village cell: its 12-digit code when it starts with one, otherwise the name as written."""
    text = _free_text(value)
    match = _DIVISION.match(_text(text))
    return match.group(1) if match else text


# --- coordinates -------------------------------------------------------------------------

_HEMISPHERE = re.compile(r"^(东经|北纬|东|北|[ENen])\s*|\s*(东经|北纬|[ENen])$")
_DMS = re.compile(
    r"^(\d+(?:\.\d+)?)\s*(?:°|度|:)\s*"
    r"(?:(\d+(?:\.\d+)?)\s*(?:′|'|’|分|:)\s*)?"
    r"(?:(\d+(?:\.\d+)?)\s*(?:″|\"|”|''|秒)?\s*)?$"
)
_SPACED = re.compile(r"^(\d+)\s+(\d+(?:\.\d+)?)(?:\s+(\d+(?:\.\d+)?))?$")
_PAIR_SPLIT = re.compile(r"\s*[,，;；/、|]\s*")


def parse_degrees(value: Any) -> float:
    """One coordinate: decimal (全角 digits, a trailing °, E/N or 东经/北纬 allowed), or
    degrees-minutes-seconds (``113°59′30.5″``, ``113度59分30.5秒``, ``113 59 30.5``,
    ``113°59.5′``). Projected metres (Gauss-Krüger) pass through as plain numbers.

    Raises
    ------
    CellError
        When the text is not a coordinate, or minutes/seconds are 60 or more.
    """
    if isinstance(value, bool):
        raise CellError("应为数字")
    if isinstance(value, int | float):
        number = float(value)
    else:
        # NFKC folds 全角 digits and turns ″ into ′′; put the seconds mark back.
        text = _HEMISPHERE.sub("", _text(value).replace("′′", "″")).strip()
        try:
            number = float(text.rstrip("°").replace(",", ""))
        except ValueError:
            match = _DMS.match(text) or _SPACED.match(text)
            if match is None:
                raise CellError(
                    "坐标格式无法识别（应如 113.99、113°59′30.5″ 或 113 59 30.5）"
                ) from None
            deg, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
            if minutes >= 60 or seconds >= 60:
                raise CellError("分、秒应小于 60") from None
            number = deg + minutes / 60 + seconds / 3600
    if number != number or number in (float("inf"), float("-inf")):
        raise CellError("应为数字")
    return number


def parse_lonlat(value: Any) -> tuple[float, float]:
    """Longitude and latitude written in one cell (``34.05,113.99`` or ``113.99 34.05``).

    Degrees are told apart by range (China's longitudes and latitudes do not overlap), so
    either order is accepted; projected metres are read as easting, northing.

    Raises
    ------
    CellError
        When the cell does not hold exactly two coordinates.
    """
    text = _text(value)
    parts = [p for p in _PAIR_SPLIT.split(text) if p]
    if len(parts) != 2:
        parts = text.split()
    if len(parts) != 2:
        raise CellError("应为一对坐标，如 113.99,34.05")
    a, b = parse_degrees(parts[0]), parse_degrees(parts[1])
    if 3 <= a <= 54 and 73 <= b <= 136:
        return b, a
    return a, b


def is_note_row(cells: Iterable[Any], key: Any, key_valid: Callable[[str], bool]) -> bool:
    """Whether a row is a summary or note line (合计, 备注, 填表人 …) rather than data.

    A row counts as a note when one of its cells starts with a note word and its key cell
    (credit code, village code) is not a valid key: a unit named 合计… with a real credit
    code is still data.
    """
    if not is_blank(key) and key_valid(_text(key)):
        return False
    for cell in cells:
        if isinstance(cell, str):
            text = "".join(normalise_text(cell).split())
            if text.startswith(NOTE_WORDS):
                return True
    return False


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
        return _free_text(value)
    if kind == "code":
        return "".join(_text(value).split()).upper()
    if kind == "industry":
        return parse_industry(value)
    if kind == "division":
        return parse_division(value)
    if kind == "village":
        return parse_village(value)
    if kind == "uscc":
        return normalise_uscc(_text(value))
    if kind in ("lon", "lat"):
        return parse_degrees(value)
    if kind == "lonlat":
        return parse_lonlat(value)
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise CellError("应为数字")
        try:
            number = float(_text(value).replace(",", ""))
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
        return _bool(value)
    if kind == "date":
        return parse_date(value)
    if kind == "enum":
        assert column.enum is not None
        return _enum(value, column.enum)
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

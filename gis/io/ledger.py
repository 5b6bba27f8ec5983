"""Ledger columns: Chinese header ⇄ field ⇄ short DBF name, and parsing of one cell."""

from __future__ import annotations

import datetime as dt
import re
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
from gis.io.readers import normalise_header
from gis.validation import normalise_text, normalise_uscc

Kind = Literal["text", "code", "uscc", "int", "float", "bool", "enum", "date", "lon", "lat"]

TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "✓"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "无", ""}


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
        """Headers used to find the header row under title rows."""
        return [c.header for c in self.columns]

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
        Column("单位编号", "code", "code", "code", aliases=("编号",), width=10),
        Column("单位名称", "name", "name", required=True, aliases=("企业名称", "名称"), width=28),
        Column(
            "统一社会信用代码",
            "uscc",
            "uscc",
            "uscc",
            required=True,
            aliases=("信用代码", "社会信用代码"),
            width=22,
        ),
        Column(
            "所属村(社区)",
            "village",
            "village",
            aliases=("所属村", "所属村(社区)/网格", "村(社区)", "所属网格"),
            width=14,
            note="村（社区）名称或12位代码；空则按坐标落点判定",
        ),
        Column("详细地址", "address", "address", aliases=("地址",), width=30),
        Column(
            "经度",
            "lon",
            "lon",
            "lon",
            required=True,
            aliases=("lng", "longitude", "x"),
            width=13,
            note="CGCS2000 经度（度）",
        ),
        Column(
            "纬度",
            "lat",
            "lat",
            "lat",
            required=True,
            aliases=("latitude", "y"),
            width=12,
            note="CGCS2000 纬度（度）",
        ),
        Column(
            "行业代码",
            "industry_code",
            "ind_code",
            "code",
            required=True,
            aliases=("国民经济行业代码", "行业分类代码"),
            width=10,
            note="GB/T 4754-2017",
        ),
        Column(
            "行业监管部门",
            "department",
            "dept",
            aliases=("监管部门",),
            width=14,
            note="空则按三管三必须对照表确定",
        ),
        Column(
            "高危行业",
            "high_risk",
            "high_risk",
            "bool",
            width=9,
            note="是/否；空则按三管三必须对照表确定",
        ),
        Column(
            "风险等级",
            "risk_color",
            "risk",
            "enum",
            RiskColor,
            required=True,
            aliases=("风险等级(红/橙/黄/蓝)",),
            width=9,
            note="红/橙/黄/蓝",
        ),
        Column(
            "消防安全重点单位",
            "fire_key_level",
            "fire_key",
            "enum",
            FireKeyLevel,
            aliases=("是否消防安全重点单位",),
            width=20,
        ),
        Column(
            "九小场所",
            "nine_small_category",
            "nine_small",
            "enum",
            NineSmallCategory,
            aliases=("是否九小场所", "九小场所类别"),
            width=14,
        ),
        Column("燃气使用", "gas_use", "gas_use", "enum", GasUse, aliases=("燃气用户",), width=12),
        Column("经营状态", "status", "status", "enum", OperatingStatus, width=9),
        Column("从业人员数", "employees", "employees", "int", aliases=("从业人数",), width=10),
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
            "code",
            required=True,
            aliases=("代码", "区划代码", "统计用区划代码"),
            width=15,
            note="12位统计用区划代码",
        ),
        Column(
            "名称",
            "name",
            "name",
            required=True,
            aliases=("村(社区)名称", "村名", "Name"),
            width=16,
        ),
        Column("类型", "kind", "kind", "enum", VillageKind, required=True, width=8, note="村/社区"),
        Column("城乡分类代码", "urban_rural_code", "ur_code", "code", width=12),
        Column("人口", "population", "population", "int", aliases=("户籍人口", "人口数"), width=10),
        Column("户数", "households", "households", "int", width=8),
        Column("村民小组数", "groups_count", "groups", "int", aliases=("小组数",), width=10),
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
    raise CellError("应为“是”或“否”")


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


def _enum(value: Any, enum: type[LabelledEnum]) -> LabelledEnum | None:
    text = _text(value)
    if enum is NineSmallCategory and text in FALSE_WORDS:
        return None
    # 风险等级 is often written 红色 / 重大风险-红; accept the colour word.
    if enum is RiskColor:
        text = text.removesuffix("色")
    try:
        return enum.from_label(text)
    except ValueError:
        labels = "、".join(m.label for m in enum)
        raise CellError(f"无法识别“{text}”，应为：{labels}") from None


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
    if kind == "uscc":
        return normalise_uscc(_text(value))
    if kind in ("int", "float", "lon", "lat"):
        if isinstance(value, bool):
            raise CellError("应为数字")
        try:
            number = float(_text(value).replace(",", "").rstrip("°"))
        except ValueError:
            raise CellError("应为数字") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise CellError("应为数字")
        if kind == "int":
            if not number.is_integer():
                raise CellError("应为整数")
            if number < 0:
                raise CellError("不能为负数")
            return int(number)
        if kind == "float" and number < 0:
            raise CellError("不能为负数")
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

"""Parsing of single ledger cells as offices fill them: yes/no words, enum synonyms, dates,
industry and village codes written with their names, and coordinates in every usual notation."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from gis.domain import (
    FireKeyLevel,
    GasUse,
    LabelledEnum,
    NineSmallCategory,
    OperatingStatus,
    RiskColor,
)
from gis.validation import normalise_text

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


def is_blank(value: Any) -> bool:
    """True for None, NaN and text that is empty after folding full-width spaces."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not normalise_text(value)


def text_of(value: Any) -> str:
    """Folded text for codes, numbers and labels (全角 digits and letters become ASCII)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # codes typed as numbers come back as floats
    return normalise_text(str(value))


def free_text(value: Any) -> str:
    """Names and addresses: only surrounding (also 全角) spaces go; （） stay as written."""
    return str(value).strip()


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = text_of(value).lower()
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
    text = "".join(text_of(value).split())
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


def enum_value(value: Any, enum: type[LabelledEnum]) -> LabelledEnum | None:
    text = text_of(value)
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
_INDUSTRY = re.compile(r"^([A-Za-z])?\s*(\d{2,4})(?!\d)")
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
    text = text_of(value)
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
    text = text_of(value)
    match = _DIVISION.match(text)
    if match is None:
        return "".join(text.split()).upper()  # checked (12 digits, town prefix) by the importer
    return match.group(1)


def parse_village(value: Any) -> str:
    """A village cell: its 12-digit code when it starts with one, otherwise the name as written."""
    text = free_text(value)
    match = _DIVISION.match(text_of(text))
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
        text = _HEMISPHERE.sub("", text_of(value).replace("′′", "″")).strip()
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
    text = text_of(value)
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
    for cell in cells:
        # Most cells start with no note word's first character: skip the folding for them.
        if isinstance(cell, str) and cell.lstrip()[:1] in _NOTE_FIRST:
            text = "".join(normalise_text(cell).split())
            if text.startswith(NOTE_WORDS):
                return is_blank(key) or not key_valid(text_of(key))
    return False


#: First characters of the note words, as written or full-width (注： / 注:).
_NOTE_FIRST = {w[0] for w in NOTE_WORDS} | {"（", "注"}

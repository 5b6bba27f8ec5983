"""Hazard statistics (执法统计) for a period, grouped along one axis, as scoped GROUP BY selects.

The figures of 月调度, 季通报 and 年总结 all come from here (the workbooks in
``gis/io/periodic_reports.py`` and ``GET /api/v1/hazards/stats`` read the same rows), so an
office never sees two different totals for one month.

Definitions (the cohort is the hazards *found* in the period; a hazard the town office rejected as
不予认定 is not a hazard and is left out everywhere):

found
    hazards with ``found_on`` in the period;
rectified
    of those, signed off (销号) by the cut-off: ``closed_on <= cut``;
rectification_rate
    rectified / found (None when nothing was found);
avg_days_to_close
    mean of ``closed_on - found_on`` over the rectified ones, in days;
overdue
    of those, still open at the cut-off with their deadline before it (逾期未整改);
major_found, major_cleared
    the same two counts for 重大事故隐患 (listed, and signed off);
inspections, hazards_per_inspection
    inspections held in the period and the hazards they recorded per inspection. Inspections have
    no category, level or source, so along those axes they appear in the total only.

The cut-off is the period's last day, or ``today`` if the period has not ended yet.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Label,
    SQLColumnExpression,
    String,
    and_,
    cast,
    func,
    select,
)

from gis.access import Scope, scope_clause
from gis.db.models import Department, Hazard, Inspection, Unit, Village
from gis.domain import HazardCategory, HazardLevel, HazardSource, HazardStatus
from gis.errors import InvalidInput

#: GB/T 4754-2017 sections (门类), the grouping offices use for industry figures.
INDUSTRY_SECTIONS = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}


class Dimension(StrEnum):
    """The axis a statistics table is grouped along."""

    INDUSTRY = "industry"
    VILLAGE = "village"
    CATEGORY = "category"
    LEVEL = "level"
    SOURCE = "source"
    DEPARTMENT = "department"
    MONTH = "month"


#: The label of the group whose key is empty: tied to no unit (e.g. public reports) or village.
NO_KEY = {Dimension.VILLAGE: "未划入村（社区）"}
NO_UNIT = "未关联单位"


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Period:
    """A calendar month, quarter or year; ``end`` is its last day (inclusive)."""

    kind: PeriodKind
    start: dt.date
    end: dt.date
    label: str

    def cut(self, today: dt.date) -> dt.date:
        """The day the figures are counted to: the period's end, or today if it is running."""
        return min(self.end, max(today, self.start))


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


def parse_period(text: str) -> Period:
    """``2024-06`` (month), ``2024-Q2`` (quarter) or ``2024`` (year) as a :class:`Period`.

    Examples
    --------
    >>> parse_period("2024-Q2").end
    datetime.date(2024, 6, 30)
    """
    m = _PERIOD.match(text.strip())
    if not m:
        raise InvalidInput(
            f"period: {text!r} is not a month, quarter or year "
            "(统计期应为 2024-06、2024-Q2 或 2024)"
        )
    year = int(m[1])
    if m[2]:
        month = int(m[2])
        start, last = dt.date(year, month, 1), month
        kind, label = PeriodKind.MONTH, f"{year}年{month}月"
    elif m[3]:
        quarter = int(m[3])
        start, last = dt.date(year, 3 * quarter - 2, 1), 3 * quarter
        kind, label = PeriodKind.QUARTER, f"{year}年第{quarter}季度"
    else:
        start, last = dt.date(year, 1, 1), 12
        kind, label = PeriodKind.YEAR, f"{year}年"
    end = dt.date(year, last, calendar.monthrange(year, last)[1])
    return Period(kind, start, end, label)


@dataclass
class StatsRow:
    """One group's figures (``key`` None is the total row)."""

    key: str | None
    label: str
    found: int = 0
    rectified: int = 0
    overdue: int = 0
    major_found: int = 0
    major_cleared: int = 0
    days_to_close_sum: int = 0
    inspections: int = 0
    inspection_hazards: int = 0

    @property
    def rectification_rate(self) -> float | None:
        return round(self.rectified / self.found, 4) if self.found else None

    @property
    def avg_days_to_close(self) -> float | None:
        return round(self.days_to_close_sum / self.rectified, 2) if self.rectified else None

    @property
    def hazards_per_inspection(self) -> float | None:
        return round(self.inspection_hazards / self.inspections, 3) if self.inspections else None

    def add(self, other: StatsRow) -> None:
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, Any]:
        counts = {f.name: getattr(self, f.name) for f in fields(self)}
        del counts["days_to_close_sum"], counts["inspection_hazards"]
        return counts | {
            "rectification_rate": self.rectification_rate,
            "avg_days_to_close": self.avg_days_to_close,
            "hazards_per_inspection": self.hazards_per_inspection,
        }


@dataclass(frozen=True)
class StatsTable:
    period: Period
    by: Dimension
    cut: dt.date
    rows: list[StatsRow]
    total: StatsRow


def _hazard_key(by: Dimension) -> SQLColumnExpression[Any]:
    match by:
        case Dimension.INDUSTRY:
            return func.left(Unit.industry_code, 1)
        case Dimension.VILLAGE:
            return Hazard.village_code
        case Dimension.DEPARTMENT:
            return Unit.department_code
        case Dimension.MONTH:
            return func.to_char(Hazard.found_on, "YYYY-MM")
        case _:
            return cast(getattr(Hazard, by.value), String)


def _inspection_key(by: Dimension) -> SQLColumnExpression[Any] | None:
    match by:
        case Dimension.INDUSTRY:
            return func.left(Unit.industry_code, 1)
        case Dimension.VILLAGE:
            return Inspection.village_code
        case Dimension.DEPARTMENT:
            return Unit.department_code
        case Dimension.MONTH:
            return func.to_char(Inspection.inspected_on, "YYYY-MM")
        case _:
            return None


def _labels(conn: Connection, by: Dimension, keys: set[str]) -> dict[str, str]:
    match by:
        case Dimension.INDUSTRY:
            return {k: f"{k} {INDUSTRY_SECTIONS.get(k, '')}".strip() for k in keys}
        case Dimension.VILLAGE:
            rows = conn.execute(select(Village.code, Village.name).where(Village.code.in_(keys)))
            return {code: name for code, name in rows}
        case Dimension.DEPARTMENT:
            rows = conn.execute(
                select(Department.code, Department.short_name).where(Department.code.in_(keys))
            )
            return {code: name for code, name in rows}
        case Dimension.CATEGORY:
            return {k: HazardCategory(k).label for k in keys}
        case Dimension.LEVEL:
            return {k: HazardLevel(k).label for k in keys}
        case Dimension.SOURCE:
            return {k: HazardSource(k).label for k in keys}
        case Dimension.MONTH:
            return {k: f"{int(k[:4])}年{int(k[5:])}月" for k in keys}


def hazard_stats(
    conn: Connection,
    scope: Scope,
    period: Period,
    by: Dimension,
    *,
    today: dt.date | None = None,
) -> StatsTable:
    """The figures of ``period`` grouped by ``by``, over what ``scope`` may see.

    Two GROUP BY queries (hazards, inspections) joined on the group key in Python; the total row
    adds the groups' counts, so it always equals the sum of its column.
    """
    cut = period.cut(today or dt.date.today())
    closed = and_(Hazard.closed_on.is_not(None), Hazard.closed_on <= cut)
    major = Hazard.level == HazardLevel.MAJOR
    key: Label[Any] = _hazard_key(by).label("key")
    hazard_rows = conn.execute(
        select(
            key,
            func.count().label("found"),
            func.count().filter(closed).label("rectified"),
            func.count().filter(Hazard.deadline < cut, ~closed.self_group()).label("overdue"),
            func.count().filter(major).label("major_found"),
            func.count().filter(major, closed).label("major_cleared"),
            func.coalesce(
                func.sum(cast(Hazard.closed_on - Hazard.found_on, Integer)).filter(closed), 0
            ).label("days_to_close_sum"),
        )
        .select_from(Hazard)
        .outerjoin(Unit, Unit.id == Hazard.unit_id)
        .where(
            scope_clause(Hazard, scope),
            Hazard.found_on.between(period.start, cut),
            Hazard.status != HazardStatus.REJECTED,
        )
        .group_by(key)
    ).mappings()
    groups: dict[str | None, StatsRow] = {}
    for r in hazard_rows:
        groups[r["key"]] = StatsRow(
            key=r["key"], label="", **{k: int(v) for k, v in r.items() if k != "key"}
        )
    ikey_expr = _inspection_key(by)
    ikey = (ikey_expr if ikey_expr is not None else cast(None, String)).label("key")
    inspection_rows = conn.execute(
        select(
            ikey,
            func.count().label("inspections"),
            func.coalesce(func.sum(Inspection.hazard_count), 0).label("inspection_hazards"),
        )
        .select_from(Inspection)
        .outerjoin(Unit, Unit.id == Inspection.unit_id)
        .where(scope_clause(Inspection, scope), Inspection.inspected_on.between(period.start, cut))
        .group_by(ikey)
    ).mappings()
    loose = StatsRow(key=None, label="")  # inspections along an axis they do not have
    for r in inspection_rows:
        row = (
            groups.setdefault(r["key"], StatsRow(key=r["key"], label=""))
            if ikey_expr is not None
            else loose
        )
        row.inspections += int(r["inspections"])
        row.inspection_hazards += int(r["inspection_hazards"])
    labels = _labels(conn, by, {k for k in groups if k is not None})
    rows = sorted(groups.values(), key=lambda g: (g.key is None, g.key or ""))
    total = StatsRow(key=None, label="合计")
    for row in rows:
        row.label = labels.get(row.key, row.key) if row.key is not None else NO_KEY.get(by, NO_UNIT)
        total.add(row)
    total.add(loose)
    return StatsTable(period=period, by=by, cut=cut, rows=rows, total=total)

"""The periodic reports 月调度, 季通报 and 年总结 as Excel workbooks in the layout offices use.

Each sheet is one statistics table of ``gis.queries.hazard_stats`` (by village, industry,
department, …): a merged title row, a merged line with the period and cut-off, two header rows
with merged group headers (检查情况 / 隐患排查整改 / 重大事故隐患), one row per group and a 合计
row. The sheets are a registry (``SECTIONS``), so a new breakdown is one entry. Every text cell
goes through ``inert_cell``: a village or department named ``=…`` stays text.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, Side
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import Connection, select

from gis.access import Scope, scope_clause
from gis.db.models import Town
from gis.errors import InvalidInput
from gis.io.formulas import inert_cell
from gis.queries.hazard_stats import (
    Dimension,
    Period,
    PeriodKind,
    StatsRow,
    StatsTable,
    hazard_stats,
)


class ReportKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


#: What each report is called, and the period it covers.
REPORT_TITLES = {
    ReportKind.MONTHLY: ("安全生产隐患排查整治月调度表", PeriodKind.MONTH),
    ReportKind.QUARTERLY: ("安全生产隐患排查整治季度通报", PeriodKind.QUARTER),
    ReportKind.YEARLY: ("安全生产隐患排查整治年度总结统计表", PeriodKind.YEAR),
}


@dataclass(frozen=True)
class Section:
    """One sheet: the axis, the sheet name, the first column's header, which reports have it."""

    by: Dimension
    sheet: str
    header: str
    kinds: frozenset[ReportKind] = frozenset(ReportKind)


SECTIONS = (
    Section(Dimension.VILLAGE, "按村（社区）", "村（社区）"),
    Section(Dimension.INDUSTRY, "按行业", "行业门类（GB/T 4754）"),
    Section(Dimension.DEPARTMENT, "按监管部门", "监管部门"),
    Section(Dimension.CATEGORY, "按隐患类别", "隐患类别"),
    Section(Dimension.LEVEL, "按隐患等级", "隐患等级"),
    Section(Dimension.SOURCE, "按发现途径", "发现途径"),
    Section(Dimension.MONTH, "按月", "月份", frozenset({ReportKind.QUARTERLY, ReportKind.YEARLY})),
)

#: (group header, [(column header, StatsRow attribute, number format)]).
COLUMN_GROUPS: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "检查情况",
        (("检查次数", "inspections", "0"), ("次均发现隐患", "hazards_per_inspection", "0.00")),
    ),
    (
        "隐患排查整改",
        (
            ("发现隐患（项）", "found", "0"),
            ("已整改销号（项）", "rectified", "0"),
            ("整改率", "rectification_rate", "0.0%"),
            ("平均整改天数", "avg_days_to_close", "0.0"),
            ("逾期未整改（项）", "overdue", "0"),
        ),
    ),
    (
        "重大事故隐患",
        (("挂牌（项）", "major_found", "0"), ("销号（项）", "major_cleared", "0")),
    ),
)
COLUMNS = [c for _, cols in COLUMN_GROUPS for c in cols]
FIRST_DATA_ROW = 5
_THIN = Side(style="thin")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _style_name(bold: bool, number_format: str) -> str:
    return f"gs-{'b' if bold else 'n'}-{number_format}"


def _add_named_styles(wb: Workbook) -> None:
    """One named style per (bold, number format) used by the table cells.

    Assigning a named style is one lookup; setting border, alignment, font and format one by
    one re-hashes the style objects each time, which made a county's 3,500-row sheet take
    seconds (cProfile: 80 % of the write in openpyxl's style hashing).
    """
    for bold in (False, True):
        for number_format in {"General", *(f for _, _, f in COLUMNS)}:
            wb.add_named_style(
                NamedStyle(
                    name=_style_name(bold, number_format),
                    font=Font(bold=bold),
                    border=_BORDER,
                    alignment=_CENTER,
                    number_format=number_format,
                )
            )


def report_tables(
    conn: Connection, scope: Scope, kind: ReportKind, period: Period, today: dt.date | None = None
) -> list[tuple[Section, StatsTable]]:
    """The statistics tables of ``kind`` for ``period``, one per section, within ``scope``."""
    return [
        (s, hazard_stats(conn, scope, period, s.by, today=today))
        for s in SECTIONS
        if kind in s.kinds
    ]


def area_name(conn: Connection, scope: Scope) -> str:
    """The name the title carries: the town, or how many towns the scope spans."""
    names = conn.execute(
        select(Town.name).where(scope_clause(Town, scope)).order_by(Town.code)
    ).scalars()
    found = list(names)
    return found[0] if len(found) == 1 else f"{len(found)}个乡镇（街道）"


def _write_sheet(ws: Worksheet, title: str, section: Section, table: StatsTable) -> None:
    width = 2 + len(COLUMNS)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(1, 1, inert_cell(title)).font = Font(size=16, bold=True)
    ws.cell(1, 1).alignment = _CENTER
    ws.row_dimensions[1].height = 30
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws.cell(
        2,
        1,
        f"统计时段：{table.period.start.isoformat()} 至 {table.period.end.isoformat()}"
        f"　　数据截至：{table.cut.isoformat()}　　（一般隐患与重大隐患合计；不予认定的不计）",
    )
    head = _style_name(True, "General")
    for col, text in ((1, "序号"), (2, section.header)):
        ws.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
        ws.cell(3, col, text)
    col = 3
    for group, cols in COLUMN_GROUPS:
        ws.merge_cells(start_row=3, start_column=col, end_row=3, end_column=col + len(cols) - 1)
        ws.cell(3, col, group)
        for offset, (header, _, _) in enumerate(cols):
            ws.cell(4, col + offset, header)
        col += len(cols)
    for line in ws.iter_rows(min_row=3, max_row=4, max_col=width):
        for cell in line:
            cell.style = head
    rows: Sequence[tuple[int | None, StatsRow]] = [
        *enumerate(table.rows, start=1),
        (None, table.total),
    ]
    for n, (index, row) in enumerate(rows):
        r = FIRST_DATA_ROW + n
        bold = index is None
        if index is None:  # the totals row: 合计 across the first two columns
            ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=2)
            ws.cell(r, 1, "合计").style = head
            ws.cell(r, 2).style = head
        else:
            ws.cell(r, 1, index).style = _style_name(False, "General")
            ws.cell(r, 2, inert_cell(row.label)).style = _style_name(False, "General")
        for offset, (_, attr, number_format) in enumerate(COLUMNS):
            ws.cell(r, 3 + offset, getattr(row, attr)).style = _style_name(bold, number_format)
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 24
    for offset in range(len(COLUMNS)):
        ws.column_dimensions[ws.cell(4, 3 + offset).column_letter].width = 12
    ws.freeze_panes = ws.cell(FIRST_DATA_ROW, 3)


def write_periodic_report(
    kind: ReportKind, area: str, tables: Sequence[tuple[Section, StatsTable]]
) -> bytes:
    """The workbook of ``kind`` (one sheet per section, village first) as .xlsx bytes."""
    name, _ = REPORT_TITLES[kind]
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    _add_named_styles(wb)
    for section, table in tables:
        ws = wb.create_sheet(section.sheet)
        _write_sheet(ws, f"{area}{table.period.label}{name}（{section.sheet}）", section, table)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def periodic_report(
    conn: Connection, scope: Scope, kind: ReportKind, period: Period, today: dt.date | None = None
) -> bytes:
    """Query and write the report of ``kind`` for ``period`` within ``scope``."""
    _, period_kind = REPORT_TITLES[kind]
    if period.kind is not period_kind:
        raise InvalidInput(
            f"period: a {kind.value} report needs a {period_kind.value} period, got {period.label} "
            "(月调度用 2024-06，季通报用 2024-Q2，年总结用 2024)"
        )
    return write_periodic_report(
        kind, area_name(conn, scope), report_tables(conn, scope, kind, period, today)
    )

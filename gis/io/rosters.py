"""责任公示表: the 五包一 roster and the grid roster as the Excel a township office posts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gis.analysis.assignment_rules import TEAM_ROLES
from gis.io.formulas import inert_cell
from gis.workflows.assignments import GridView, Member, TeamView

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(horizontal="center", vertical="center", wrap_text=True)

TEAM_HEADERS = [
    "序号",
    "单位名称",
    "所属村（社区）",
    "地址",
    "重点单位类别",
    *[r.label for r in TEAM_ROLES],
    "缺岗",
    "备注",
]
GRID_HEADERS = [
    "序号",
    "网格（村/社区）",
    "网格长",
    "网格长电话",
    "网格员",
    "网格员电话",
    "在册单位数",
    "缺岗",
    "备注",
]


def _person(members: Sequence[Member]) -> str:
    return "、".join(f"{m.name}（{m.department}）\n{m.phone or ''}".strip() for m in members)


def _sheet(
    ws: Worksheet,
    title: str,
    subtitle: str,
    headers: list[str],
    rows: list[list[object]],
    widths: list[int],
) -> None:
    n = len(headers)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    ws.cell(1, 1, inert_cell(title)).font = Font(name="宋体", size=18, bold=True)
    ws.cell(1, 1).alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 36
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=n)
    ws.cell(2, 1, subtitle).alignment = Alignment(horizontal="right")
    for j, h in enumerate(headers, start=1):
        c = ws.cell(3, j, h)
        c.font = Font(name="黑体", bold=True)
        c.alignment, c.border = _WRAP, _BOX
    for i, row in enumerate(rows, start=4):
        for j, value in enumerate(row, start=1):
            c = ws.cell(i, j, inert_cell(value))
            c.alignment, c.border = _WRAP, _BOX
            c.number_format = "@"  # phones and codes stay text
    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = w
    ws.print_title_rows = "3:3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.freeze_panes = "A4"
    last = len(rows) + 5
    ws.cell(last, 1, "监督电话：").alignment = Alignment(horizontal="left")
    ws.cell(last, n - 1, "（盖章）").alignment = Alignment(horizontal="right")


def team_roster(
    teams: Sequence[TeamView], town_name: str, on: dt.date, out: Path | IO[bytes]
) -> None:
    """Write the 消防安全重点单位“五包一”责任公示表."""
    rows: list[list[object]] = []
    for i, t in enumerate(teams, start=1):
        by_role = {r.value: [m for m in t.members if m.role == r.value] for r in TEAM_ROLES}
        rows.append(
            [
                i,
                t.unit_name,
                t.village_name or "",
                t.address or "",
                t.fire_key_label,
                *[_person(by_role[r.value]) for r in TEAM_ROLES],
                "、".join(t.missing_labels),
                "",
            ]
        )
    wb = Workbook()
    ws = wb.active
    ws.title = "五包一责任公示表"
    _sheet(
        ws,
        f"{town_name}消防安全重点单位“五包一”责任公示表",
        f"截至 {on.year}年{on.month}月{on.day}日",
        TEAM_HEADERS,
        rows,
        [6, 28, 12, 30, 14, 18, 18, 18, 18, 18, 12, 10],
    )
    wb.save(out)


def grid_roster(
    grids: Sequence[GridView], town_name: str, on: dt.date, out: Path | IO[bytes]
) -> None:
    """Write the 安全生产网格化管理责任公示表 (one row per village grid)."""
    rows: list[list[object]] = []
    labels = {"grid_chief": "网格长", "grid_member": "网格员"}
    for i, g in enumerate(grids, start=1):
        rows.append(
            [
                i,
                g.village_name,
                "、".join(m.name for m in g.chief),
                "、".join(m.phone or "" for m in g.chief),
                "、".join(m.name for m in g.members),
                "、".join(m.phone or "" for m in g.members),
                g.units,
                "、".join(labels.get(r, r) for r in g.missing_roles),
                "",
            ]
        )
    wb = Workbook()
    ws = wb.active
    ws.title = "网格责任公示表"
    _sheet(
        ws,
        f"{town_name}安全生产网格化管理责任公示表",
        f"截至 {on.year}年{on.month}月{on.day}日",
        GRID_HEADERS,
        rows,
        [6, 16, 12, 14, 16, 14, 10, 12, 12],
    )
    wb.save(out)

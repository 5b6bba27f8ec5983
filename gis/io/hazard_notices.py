"""The overdue-hazard notice list (逾期隐患督办清单) as the Excel a township office sends out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from gis.domain import EscalationLevel, HazardCategory, HazardLevel
from gis.io.formulas import inert_cell

HEADERS = [
    "序号",
    "隐患编号",
    "单位名称",
    "所属村（社区）",
    "类别",
    "等级",
    "隐患描述",
    "发现日期",
    "整改期限",
    "逾期天数",
    "督办层级",
    "挂牌督办候选",
]
WIDTHS = [6, 20, 28, 14, 10, 8, 40, 12, 12, 10, 12, 12]


def write_notice_list(rows: Sequence[dict[str, Any]], as_of: dt.date, path: Path) -> Path:
    """Write the notice list: a merged title row, Chinese headers, one row per hazard."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "逾期隐患督办清单"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.cell(1, 1, f"逾期隐患督办清单（截至 {as_of.isoformat()}）").font = Font(size=16, bold=True)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    for col, (header, width) in enumerate(zip(HEADERS, WIDTHS, strict=True), start=1):
        ws.cell(2, col, header).font = Font(bold=True)
        ws.column_dimensions[ws.cell(2, col).column_letter].width = width
    for i, r in enumerate(rows, start=1):
        escalation = r["escalation"]
        # Descriptions and names may come from the public or a ledger: never a live formula.
        ws.append(
            [
                i,
                inert_cell(r["code"]),
                inert_cell(r["unit_name"] or ""),
                inert_cell(r["village_name"] or ""),
                HazardCategory(r["category"]).label,
                HazardLevel(r["level"]).label,
                inert_cell(r["description"]),
                r["found_on"],
                r["deadline"],
                int(r["days_overdue"]),
                EscalationLevel(escalation).label if escalation else "",
                "是" if r["listing_candidate"] else "",
            ]
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path

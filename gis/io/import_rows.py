"""Reading import rows: every problem of a row collected, cells parsed by ledger column, note
lines dropped, spreadsheet positions placed from their parsed coordinate cells."""

from __future__ import annotations

import re
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import String

from gis.errors import FieldIssue, RowProblem
from gis.io.ledger import CellError, Ledger, is_note_row, parse_cell
from gis.io.readers import Coords, SourceRow, SourceTable, normalise_header, to_storage
from gis.validation import validate_uscc


class Problems:
    """Collects every problem of every row, so one round of fixes clears a row."""

    def __init__(self) -> None:
        self.by_row: dict[int, list[FieldIssue]] = {}

    def add(self, row: int, field_name: str, reason: str, value: Any = None) -> None:
        shown = None if value is None else str(value)
        issues = self.by_row.setdefault(row, [])
        if not any(i.field == field_name and i.reason == reason for i in issues):
            issues.append(FieldIssue(field_name, reason, shown))

    def has(self, row: int, *fields: str) -> bool:
        """Whether ``row`` has a problem (in one of ``fields``, when given)."""
        issues = self.by_row.get(row, [])
        return bool(issues) and (not fields or any(i.field.endswith(fields) for i in issues))

    def __bool__(self) -> bool:
        return bool(self.by_row)

    def sorted(self) -> list[RowProblem]:
        return [RowProblem.of(row, self.by_row[row]) for row in sorted(self.by_row)]


def label(row: SourceRow, header: str) -> str:
    return f"{row.sheet}·{header}" if row.sheet else header


def _lengths(model: Any) -> dict[str, int]:
    """Longest text each ledger field may hold: the model's String lengths (varchar(n))."""
    out: dict[str, int] = {}
    for column in model.__table__.columns:
        length = getattr(column.type, "length", None)
        if isinstance(column.type, String) and length:
            out[column.name] = int(length)
    return out


def is_tabular(table: SourceTable, keys: dict[str, str]) -> bool:
    """Spreadsheets carry their position in lon/lat cells (zipped ones too), GIS files in
    their geometry."""
    if table.fmt in ("xlsx", "csv"):
        return True
    has_cells = ("lon" in keys and "lat" in keys) or "lonlat" in keys
    return table.fmt == "zip" and has_cells and all(r.geometry is None for r in table.rows[:50])


def drop_note_rows(
    table: SourceTable, ledger: Ledger, key_field: str, keys: dict[str, str]
) -> None:
    """Remove summary and note lines (合计, 备注, 填表人 …) from a spreadsheet's rows."""
    if table.fmt not in ("xlsx", "csv", "zip"):
        return
    key_column = ledger.by_field(key_field)
    header = keys.get(key_field)

    def valid(text: str) -> bool:
        try:
            value = parse_cell(text, key_column)
        except CellError:
            return False
        if key_field == "uscc":
            return validate_uscc(value) is None
        return bool(re.fullmatch(r"\d{12}", str(value)))

    table.rows = [
        r
        for r in table.rows
        if not is_note_row(r.values.values(), r.values.get(header) if header else None, valid)
    ]


_MISSING = object()


def parse_rows(
    table: SourceTable, ledger: Ledger, model: Any, problems: Problems, coords: Coords
) -> tuple[list[dict[str, Any]], set[str], dict[str, str]]:
    """Typed values of every row (by field); problems for missing, unparsable or too long cells."""
    mapping = ledger.resolve(table.headers)
    keys = {k: normalise_header(h) for k, h in mapping.items()}
    tabular = is_tabular(table, keys)
    lengths = _lengths(model)
    for column in ledger.columns:
        # GIS formats carry the position in their geometry, not in lon/lat columns; one
        # 经纬度 column stands for both.
        if column.kind in ("lon", "lat") and (not tabular or "lonlat" in keys):
            continue
        if column.required and column.field not in keys:
            problems.add(1, column.header, "缺少必填列")
    for p in table.problems:
        problems.add(p.row, p.field, p.reason, p.value)
    parsed: list[dict[str, Any]] = []
    columns = [c for c in ledger.columns if c.field is not None and c.field in keys]
    # Ledgers repeat their values (risk colours, yes/no, industry and village codes): each
    # distinct cell of a column is parsed once.
    memo: dict[tuple[str, Any], Any] = {}
    for row in table.rows:
        values: dict[str, Any] = {}
        for column in columns:
            assert column.field is not None
            raw = row.values.get(keys[column.field])
            try:
                cache_key = (column.field, raw)
                value = memo.get(cache_key, _MISSING)
            except TypeError:  # an unhashable cell: parse it every time
                cache_key, value = None, _MISSING
            try:
                if value is _MISSING:
                    value = parse_cell(raw, column)
                    if cache_key is not None:
                        memo[cache_key] = value
                elif isinstance(value, CellError):
                    raise value
            except CellError as exc:
                if cache_key is not None:
                    memo[cache_key] = exc
                problems.add(row.number, label(row, column.header), str(exc), raw)
                continue
            if value is None and column.required and column.field not in ("lon", "lat"):
                problems.add(row.number, label(row, column.header), "必填项为空")
            limit = lengths.get(column.field)
            if isinstance(value, str) and limit is not None and len(value) > limit:
                reason = f"内容过长：最多 {limit} 个字，实际 {len(value)} 个字"
                problems.add(row.number, label(row, column.header), reason, value[:40] + "…")
                continue
            values[column.field] = value
        if "lonlat" in values:
            pair = values.pop("lonlat")
            if pair is not None and values.get("lon") is None and values.get("lat") is None:
                values["lon"], values["lat"] = pair
        parsed.append(values)
    if tabular:
        _place_points(table, parsed, coords)
    return parsed, set(keys), keys


def _place_points(table: SourceTable, parsed: list[dict[str, Any]], coords: Coords) -> None:
    """Points of a spreadsheet from its parsed coordinate cells (DMS, one-cell pairs …), in the
    datum the reader was told; the reader's own attempt only knows plain decimals."""
    raw: list[BaseGeometry | None] = [
        shapely.Point(v["lon"], v["lat"])
        if v.get("lon") is not None and v.get("lat") is not None
        else None
        for v in parsed
    ]
    converted, used = to_storage(raw, coords)
    for row, geom in zip(table.rows, converted, strict=True):
        row.geometry = geom
    table.input_crs = used

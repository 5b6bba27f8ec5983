"""Spreadsheet cells that cannot run: text a spreadsheet would evaluate is written as inert text.

A unit named ``=HYPERLINK("http://…","点击")`` or ``=cmd|' /C calc'!A0`` must reach the
township's Excel as that text, not as a live formula (CSV/formula injection). Following the
OWASP guidance, text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
a leading apostrophe: Excel and WPS show it as text, and openpyxl stores it as a string cell.
Real numbers stay numbers (they are not text), and text that is just a number, such as
``"-3.5"``, is left alone: a spreadsheet reads it as that number, which runs nothing.
"""

from __future__ import annotations

import re
from typing import TypeVar

#: First characters that make Excel, WPS or LibreOffice treat a cell as a formula or command.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

T = TypeVar("T")


def inert_cell(value: T) -> T | str:
    """``value`` as it may be written to an Excel or CSV cell without being evaluated.

    Examples
    --------
    >>> inert_cell("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> inert_cell(-3.5), inert_cell("-3.5"), inert_cell("五女店镇")
    (-3.5, '-3.5', '五女店镇')
    """
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_TRIGGERS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value

"""Every clause a reference row cites exists in the plan text it names, with the words it quotes.

The plans are the seed texts shipped in ``data/reference/plans/`` (the township plan, seed 000,
and the provincial plan, seed 003). A citation is ``<plan> <section> <words…>``, several joined by
"; ": the section (``三(二)3``: chapter, sub-chapter, item; or ``四(四)``) must exist in that plan
and every quoted word must occur inside that section, not merely somewhere in the plan.
"""

from __future__ import annotations

import csv
import re

import pytest

from data import REFERENCE_DIR

PLANS = REFERENCE_DIR / "plans"
NUMERALS = "一二三四五六七八九十"
CITATION = re.compile(
    r"^(?P<plan>\S+) (?P<chapter>[一二三四五六七八九十]+)"
    r"(?:\((?P<sub>[一二三四五六七八九十]+)\))?(?P<item>\d+)?(?: (?P<words>.+))?$"
)
MARKER = re.compile(
    r"(?P<chapter>[一二三四五六七八九十]{1,2})、"
    r"|[（(](?P<sub>[一二三四五六七八九十]{1,3})[)）]"
    r"|(?<![\d.])(?P<item>\d{1,2})[.．]"
)


def _number(text: str) -> int:
    """一 … 十九: the small Chinese numerals the plans use for their headings."""
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + NUMERALS.index(text[1]) + 1
    if len(text) == 2 and text.endswith("十"):
        return (NUMERALS.index(text[0]) + 1) * 10
    return NUMERALS.index(text) + 1


def sections(text: str) -> dict[tuple[int, int | None, int | None], str]:
    """The plan's text under every heading, keyed (chapter, sub-chapter, item).

    Headings are accepted only in sequence (chapter n+1 after n; a sub-chapter or item a step or
    two on, or restarting at 1), so a "一、" inside a sentence is not taken for a chapter.
    """
    spans: list[tuple[int, tuple[int, int | None, int | None]]] = []
    chapter, sub, item = 0, 0, 0
    for m in MARKER.finditer(text):
        if m["chapter"]:
            n = _number(m["chapter"])
            if n != chapter + 1:
                continue
            chapter, sub, item = n, 0, item
        elif m["sub"]:
            n = _number(m["sub"])
            if chapter == 0 or n not in (sub + 1, sub + 2):
                continue
            sub = n
        else:
            n = int(m["item"])
            if chapter == 0 or n not in (1, item + 1):
                continue
            item = n
            spans.append((m.start(), (chapter, sub, item)))
            continue
        spans.append((m.start(), (chapter, sub or None, None)))
    out: dict[tuple[int, int | None, int | None], str] = {}
    for (start, key), nxt in zip(spans, [*spans[1:], (len(text), None)], strict=True):
        body = text[start : nxt[0]]
        out[key] = out.get(key, "") + body
        # A sub-chapter's text holds its items too; a chapter's holds everything under it.
        if key[2] is not None:
            out[(key[0], key[1], None)] = out.get((key[0], key[1], None), "") + body
        if key[1] is not None:
            out[(key[0], None, None)] = out.get((key[0], None, None), "") + body
    return out


def _plans() -> dict[str, dict[tuple[int, int | None, int | None], str]]:
    return {p.stem: sections(p.read_text(encoding="utf-8")) for p in PLANS.glob("*.txt")}


def _citations() -> list[tuple[str, str]]:
    rows = []
    for name, key in (
        ("inspection_frequency.csv", "rule"),
        ("industry_departments.csv", "industry_prefix"),
    ):
        with (REFERENCE_DIR / name).open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for part in row["clause"].split(";"):
                    rows.append((f"{name}:{row[key]}", part.strip()))
    return rows


def check(
    citation: str, plans: dict[str, dict[tuple[int, int | None, int | None], str]]
) -> str | None:
    """Why ``citation`` does not hold, or None when it does."""
    m = CITATION.match(citation)
    if m is None:
        return "not of the form '<plan> <section> <words>'"
    if m["plan"] not in plans:
        return f"names no shipped plan ({sorted(plans)})"
    key = (
        _number(m["chapter"]),
        _number(m["sub"]) if m["sub"] else None,
        int(m["item"]) if m["item"] else None,
    )
    body = plans[m["plan"]].get(key)
    if body is None:
        return f"section {key} not in {m['plan']}"
    missing = [w for w in (m["words"] or "").split() if w not in body]
    return f"words {missing} not in section {key}" if missing else None


def test_parser_finds_the_town_plan_structure() -> None:
    town = _plans()["五女店镇实施方案"]
    assert "加大巡查排查频次" in town[(4, 4, None)]
    assert "加油站安全" in town[(3, 2, 3)] and "加油站安全" not in town[(3, 4, 7)]
    assert town[(3, 11, 29)].startswith("29.")


@pytest.mark.parametrize(("where", "citation"), _citations())
def test_clause_exists_in_the_plan_it_names(where: str, citation: str) -> None:
    assert check(citation, _plans()) is None, f"{where}: {citation!r}: {check(citation, _plans())}"


@pytest.mark.parametrize(
    "citation",
    [
        "省方案 加油站",  # the old 加油站 row: no section at all
        "五女店镇实施方案 三(九)20 高危行业",  # the old 采矿业 row: 三(九)20 is 三定两查
        "五女店镇实施方案 三(四)7 加油站",  # right plan, wrong item
        "DEVELOPERS.md 检查频次",  # not a plan
    ],
)
def test_a_wrong_citation_is_caught(citation: str) -> None:
    assert check(citation, _plans()) is not None

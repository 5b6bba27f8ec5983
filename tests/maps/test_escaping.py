"""Hostile names on every map stay inert: popups, tooltips, titles and layer names."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest

from maps.area_map import area_map
from maps.assets import render
from maps.escaping import escape_markup
from maps.gap_map import gap_map
from maps.hazard_map import hazard_map
from tests.inert import PAYLOADS, inert_problems, lex

NONCE = "test-nonce"


def _village(name: str, code: str) -> dict:
    ring = [[114.0, 34.0], [114.02, 34.0], [114.02, 34.02], [114.0, 34.02], [114.0, 34.0]]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": name, "code": code},
    }


def _point(**props: object) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [114.01, 34.01]},
        "properties": props,
    }


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_text_reads_back_as_the_payload_in_html_and_in_a_template_literal(
    payload: str,
) -> None:
    escaped = escape_markup(payload)
    # In a JS template literal: nothing the JS parser acts on.
    assert not {"`", "$", "\\", "<"} & set(escaped)
    lexed = lex(f"var x = $(`<b>{escaped}</b>`);")
    assert lexed.expressions == [] and len(lexed.templates) == 1
    # As HTML (text or quoted attribute): the browser shows exactly what the user typed.
    assert html.unescape(escaped) == payload
    seen: list[str] = []

    class Attr(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            seen.extend(v or "" for _, v in attrs)

    Attr().feed(f'<input value="{escaped}">')
    assert seen == [payload]


def test_area_map_with_hostile_names_is_inert() -> None:
    units = [
        _point(name=p, uscc=p, industry_code=p, risk_color="red", fire_key_level="none")
        for p in PAYLOADS
    ]
    layers = {
        "villages": [_village(PAYLOADS[3] + PAYLOADS[0], PAYLOADS[1])],
        "units": units,
        "key-units": units[:1],
        "fire-stations": [_point(name=PAYLOADS[2])],
        "hazards": [_point(code=PAYLOADS[1], level="major", deadline=PAYLOADS[2])],
        "roads": [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[114.0, 34.0], [114.1, 34.1]]},
                "properties": {"name": PAYLOADS[0], "road_class": "X"},
            }
        ],
    }
    page = render(area_map(layers, title=PAYLOADS[3] + "安全生产网格图"), nonce=NONCE)
    assert inert_problems(page, NONCE) == []
    # The names did reach the page, escaped (the popup, the title and the grid tooltip).
    for payload in PAYLOADS:
        assert escape_markup(payload) in page
    assert escape_markup(PAYLOADS[3] + PAYLOADS[0]) in page.replace("\\u0026", "&")


def test_hazard_map_with_hostile_village_and_title_is_inert() -> None:
    page = render(
        hazard_map(
            [_point(level="major", code=PAYLOADS[1])],
            [_village(PAYLOADS[0], PAYLOADS[2])],
            title=PAYLOADS[3],
        ),
        nonce=NONCE,
    )
    assert inert_problems(page, NONCE) == []
    assert escape_markup(PAYLOADS[3]) in page


def test_gap_map_popups_with_hostile_names_are_inert() -> None:
    gaps = [
        {
            **_point(
                gap_type="unit_without_inspector",
                label=PAYLOADS[0],
                detail=PAYLOADS[1],
                unit_name=PAYLOADS[2],
                responsible=[{"name": PAYLOADS[3], "role_label": PAYLOADS[1]}],
            )
        },
        {
            **_village("x", "y"),
            "properties": {
                "gap_type": "village_without_chief",
                "label": "无网格长",
                "detail": PAYLOADS[2],
                "village_code": PAYLOADS[1],
            },
        },
    ]
    sites = [_point(rank=PAYLOADS[2], covers=PAYLOADS[1])]
    page = render(
        gap_map(gaps, villages=[_village(PAYLOADS[1], "c")], sites=sites, title=PAYLOADS[0]),
        nonce=NONCE,
    )
    assert inert_problems(page, NONCE) == []
    for payload in PAYLOADS:
        assert escape_markup(payload) in page


def test_only_the_pages_own_scripts_carry_the_nonce() -> None:
    page = render(area_map({"fire-stations": [_point(name="甲")]}, title="t"), nonce=NONCE)
    inline = page.count("<script>") + page.count(f'<script nonce="{NONCE}">')
    assert page.count(f'<script nonce="{NONCE}">') == inline == 2
    assert 'nonce="' not in render(area_map({}, title="t"))

"""Ledger cells as offices write them, checked against hand-worked values."""

from __future__ import annotations

import pytest

from gis.domain import FireKeyLevel, GasUse, OperatingStatus, RiskColor
from gis.io.cells import (
    CellError,
    is_note_row,
    parse_degrees,
    parse_division,
    parse_industry,
    parse_lonlat,
    parse_village,
)
from gis.io.ledger import UNIT_LEDGER, VILLAGE_LEDGER, parse_cell
from gis.io.readers import normalise_header
from gis.validation import validate_uscc

# 113°59′30.5″ = 113 + 59/60 + 30.5/3600, worked by hand: 113.991805555…
DMS_113 = 113 + 59 / 60 + 30.5 / 3600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("113.99", 113.99),
        ("１１３．９９", 113.99),  # full-width digits and point
        ("113.99°", 113.99),
        ("E113.99", 113.99),
        ("东经113.99", 113.99),
        ("113°59′30.5″", DMS_113),
        ("113°59'30.5\"", DMS_113),
        ("113度59分30.5秒", DMS_113),
        ("113 59 30.5", DMS_113),
        ("113°59.5′", 113 + 59.5 / 60),
        ("34°3′0″N", 34.05),
        ("500123.45", 500123.45),  # Gauss-Krüger easting passes through
        (113.5, 113.5),
    ],
)
def test_coordinate_notations(text, expected):
    assert parse_degrees(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("text", ["113°60′0″", "abc", "113.9.9", "113°59′61″"])
def test_bad_coordinates_are_cell_errors(text):
    with pytest.raises(CellError):
        parse_degrees(text)


@pytest.mark.parametrize(
    "text", ["34.05,113.99", "113.99,34.05", "34.05，113.99", "113.99 34.05", "34.05;113.99"]
)
def test_one_cell_pair_in_either_order(text):
    assert parse_lonlat(text) == (113.99, 34.05)


def test_one_cell_pair_needs_two_numbers():
    with pytest.raises(CellError):
        parse_lonlat("113.99")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C2511", "C2511"),
        ("C2511 原油加工", "C2511"),
        ("2511-原油加工", "C2511"),  # division 25 is in section C (13–43)
        ("c 25", "C25"),
        ("5265 机动车燃油零售", "F5265"),  # 52 is in F (51–52)
        ("0112", "A0112"),
        ("Z9999", "Z9999"),  # unknown letters are left for the 三管三必须 check
    ],
)
def test_industry_codes_written_with_their_names(text, expected):
    assert parse_industry(text) == expected


def test_industry_without_a_code_is_refused():
    with pytest.raises(CellError, match="行业代码"):
        parse_industry("原油加工")


def test_village_codes_written_with_their_names():
    assert parse_division("411003101201 五女店村") == "411003101201"
    assert parse_division("411003101201") == "411003101201"
    assert parse_village("411003101201 五女店村") == "411003101201"
    assert parse_village("五女店村") == "五女店村"


@pytest.mark.parametrize("word", ["是", "有", "√", "Y", "y", "✔"])
def test_yes_words(word):
    assert parse_cell(word, UNIT_LEDGER.by_field("high_risk")) is True


@pytest.mark.parametrize("word", ["否", "无", "×", "N", "n"])
def test_no_words(word):
    assert parse_cell(word, UNIT_LEDGER.by_field("high_risk")) is False
    assert parse_cell(word, UNIT_LEDGER.by_field("fire_key_level")) is FireKeyLevel.NONE
    assert parse_cell(word, UNIT_LEDGER.by_field("gas_use")) is GasUse.NONE
    assert parse_cell(word, UNIT_LEDGER.by_field("nine_small_category")) is None


@pytest.mark.parametrize(
    ("field", "word", "expected"),
    [
        ("risk_color", "较大风险", RiskColor.ORANGE),
        ("risk_color", "重大风险(红)", RiskColor.RED),
        ("risk_color", "黄色", RiskColor.YELLOW),
        ("fire_key_level", "是", FireKeyLevel.COUNTY),
        ("fire_key_level", "镇级", FireKeyLevel.TOWN),
        ("status", "正常", OperatingStatus.OPERATING),
        ("status", "停业", OperatingStatus.SUSPENDED),
    ],
)
def test_enum_synonyms(field, word, expected):
    assert parse_cell(word, UNIT_LEDGER.by_field(field)) is expected


def test_too_large_integer_is_a_cell_error():
    with pytest.raises(CellError, match="过大"):
        parse_cell("3000000000", UNIT_LEDGER.by_field("employees"))


@pytest.mark.parametrize(
    ("variant", "field"),
    [
        ("行业类别", "industry_code"),
        ("村代码", "code"),
        ("统一社会信用代码", "uscc"),
        ("信用代码", "uscc"),
        ("社会信用代码", "uscc"),
        ("单位名称", "name"),
        ("企业名称", "name"),
        ("东经", "lon"),
        ("北纬", "lat"),
        ("经纬度", "lonlat"),
        ("所属村（社区）", "village"),
        ("是否高危行业", "high_risk"),
    ],
)
def test_header_variants(variant, field):
    ledger = VILLAGE_LEDGER if field == "code" else UNIT_LEDGER
    assert ledger.resolve(["序号", variant]).get(field) == variant
    assert normalise_header(variant) in {normalise_header(k) for k in ledger.header_keys} or (
        variant.isascii()
    )


def _uscc_ok(text: str) -> bool:
    return validate_uscc(text) is None


@pytest.mark.parametrize(
    "cells",
    [
        ["合计", None, None, 523],
        ["小计：12家", None],
        ["备注：本表由各村上报"],
        ["填表人：张三", None, "审核人：李四"],
        [None, "制表日期：2024年3月5日"],
        ["说明：1. 风险等级按……"],
    ],
)
def test_summary_and_note_rows(cells):
    assert is_note_row(cells, None, _uscc_ok)


def test_a_unit_named_like_a_note_with_a_real_code_is_data():
    assert not is_note_row(["合计五金店"], "91110108551385082Q", _uscc_ok)
    assert not is_note_row(["五金店", "91110108551385082Q"], None, _uscc_ok)

"""Credit-code, point and polygon checks of gis.validation."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.crs import METRIC_SRID, STORAGE_SRID, transformer
from gis.validation import (
    USCC_CHARSET,
    lonlat_in_china,
    lonlat_swapped,
    normalise_uscc,
    points_outside,
    polygon_problems,
    uscc_check_char,
    validate_uscc,
)

VALID = ["91110108551385082Q", "91110000600037341L"]
# A village collective (N2...) and an "other" (Y...) code: letters in the first two places.
N2_CODE = "N2410031MA00000015"
Y_CODE = "Y1410031MA00000023"


def square_m(cx: float, cy: float, half: float) -> shapely.Polygon:
    """A square built in EPSG:4547 metres and returned in CGCS2000 degrees."""
    back = transformer(METRIC_SRID, STORAGE_SRID)
    xs = np.array([cx - half, cx + half, cx + half, cx - half])
    ys = np.array([cy - half, cy - half, cy + half, cy + half])
    lon, lat = back.transform(xs, ys)
    return shapely.Polygon(np.column_stack([lon, lat]))


@pytest.mark.parametrize("code", [*VALID, N2_CODE, Y_CODE])
def test_valid_codes(code):
    assert validate_uscc(code) is None


def test_check_char_by_hand():
    # Independent witness: the GB 32100-2015 formula written out inline.
    first17 = N2_CODE[:17]
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    assert USCC_CHARSET[(31 - total % 31) % 31] == uscc_check_char(first17) == N2_CODE[17]
    assert uscc_check_char(VALID[0][:17]) == "Q"
    assert uscc_check_char(VALID[1][:17]) == "L"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("91110108551385082A", "Q"), ("91110000600037341M", "L"), ("N2410031MA00000011", "5")],
)
def test_bad_check_digit_names_the_expected_character(code, expected):
    reason = validate_uscc(code)
    assert reason is not None and "校验位错误" in reason and reason.endswith(expected)


def test_length_and_charset_reasons():
    assert "长度" in validate_uscc("9111010855138508")
    assert "非法字符" in validate_uscc("9111010855138508IQ")
    assert "非法字符" in validate_uscc("911101085513850OZQ")


def test_full_width_and_lower_case_are_normalised():
    typed = "　９１１１０１０８５５１３８５０８２ｑ "
    assert normalise_uscc(typed) == VALID[0]
    assert validate_uscc(typed) is None
    assert normalise_uscc("9111-0108 5513 85082q") == VALID[0]


def test_uscc_check_char_rejects_bad_input():
    with pytest.raises(ValueError):
        uscc_check_char("123")
    with pytest.raises(ValueError):
        uscc_check_char("I" * 17)


def test_swapped_lonlat_detection():
    lon = np.array([114.0, 34.05, 114.0, 200.0])
    lat = np.array([34.05, 114.0, 114.0, 34.0])
    np.testing.assert_array_equal(lonlat_swapped(lon, lat), [False, True, False, False])
    np.testing.assert_array_equal(lonlat_in_china(lon, lat), [True, False, False, False])
    assert not lonlat_in_china(np.nan, 34.0)


def test_points_outside_a_polygon_with_metric_tolerance():
    # A 2 km square around the CM; witness: the same offsets built in metres.
    area = square_m(500_000, 3_769_540, 1000)
    back = transformer(METRIC_SRID, STORAGE_SRID)
    xs = np.array([500_000, 501_030, 501_080, 500_000])
    ys = np.array([3_769_540, 3_769_540, 3_769_540, 3_771_000])
    lon, lat = back.transform(xs, ys)
    np.testing.assert_array_equal(
        points_outside(lon, lat, area, tolerance_m=50), [False, False, True, True]
    )
    np.testing.assert_array_equal(
        points_outside(lon, lat, area, tolerance_m=0), [False, True, True, True]
    )


def test_polygon_checks():
    town = square_m(500_000, 3_769_540, 5000)
    good = square_m(500_000, 3_769_540, 500)
    assert polygon_problems(good, within=town, max_area_m2=2e6) == []
    # Bow-tie: self-intersecting.
    bowtie = shapely.Polygon([(114.0, 34.0), (114.01, 34.01), (114.01, 34.0), (114.0, 34.01)])
    (reason,) = polygon_problems(bowtie)
    assert "自相交" in reason
    # 1 km^2 polygon against a 0.5 km^2 limit.
    (reason,) = polygon_problems(good, max_area_m2=5e5)
    assert "面积过大" in reason and "1.00" in reason
    # Sticking out of the town by 1 km on one side.
    outside = square_m(505_000, 3_769_540, 500)
    (reason,) = polygon_problems(outside, within=town)
    assert "超出范围" in reason
    assert polygon_problems(None) == ["缺少面几何"]
    assert "几何类型" in polygon_problems(shapely.Point(114, 34))[0]

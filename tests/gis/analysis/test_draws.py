"""The draw core: the ceil rounding rule, reproducibility from the seed, pools respected,
risk weighting."""

from __future__ import annotations

from collections import Counter

import pytest

from gis.analysis.draws import DrawParams, draw, pools_sha256, quota, uniform


def _pools() -> list[dict[str, object]]:
    pools = []
    for i in range(40):
        pools.append(
            {
                "unit_id": i,
                "village": f"V{i % 2}",
                "industry": "C" if i % 4 < 2 else "F",
                "risk": ["red", "blue"][i % 8 // 4],
                "eligible": [100 + (i + k) % 6 for k in range(3)] if i != 7 else [101],
            }
        )
    return pools


def test_rounding_rule_is_ceil() -> None:
    assert [quota(30, 0.1), quota(7, 0.5), quota(5, 0.0), quota(5, 1.0), quota(3, 0.01)] == [
        3,
        4,
        0,
        5,
        1,
    ]


def test_every_stratum_meets_its_ratio_and_the_seed_reproduces_it() -> None:
    params = DrawParams(ratio=0.3, ratio_by_risk={"red": 1.0})
    got = draw(_pools(), params, "seed-1")
    sizes = Counter(
        f"village={p['village']}|industry={p['industry']}|risk={p['risk']}" for p in _pools()
    )
    assert {s["key"]: s["size"] for s in got["strata"]} == dict(sizes)
    for s in got["strata"]:
        want = s["size"] if s["key"].endswith("risk=red") else -(-3 * s["size"] // 10)
        assert s["quota"] == s["drawn"] == want
        assert sum(t["stratum"] == s["key"] for t in got["targets"]) == want
    assert draw(_pools(), params, "seed-1") == got
    assert draw(list(reversed(_pools())), params, "seed-1") == got  # order of pools is irrelevant
    assert draw(_pools(), params, "seed-2") != got


def test_inspectors_come_from_the_pool_two_each() -> None:
    pools = {p["unit_id"]: p for p in _pools()}
    got = draw(list(pools.values()), DrawParams(ratio=1.0), "s")
    for t in got["targets"]:
        assert set(t["inspectors"]) <= set(pools[t["unit_id"]]["eligible"])  # type: ignore[arg-type]
        assert len(set(t["inspectors"])) == (1 if t["unit_id"] == 7 else 2)
        assert t["short"] == (t["unit_id"] == 7)


def test_risk_weighting_favours_red() -> None:
    params = DrawParams(ratio=0.25, strata=("village",), risk_weighted=True)
    red = sum(
        t["unit_id"] % 8 // 4 == 0
        for s in range(200)
        for t in draw(_pools(), params, str(s))["targets"]
    )
    total = 200 * 10
    assert red / total > 0.7  # weight 4 vs 1 on equal numbers: about 0.8 of the draws
    plain = DrawParams(ratio=0.25, strata=("village",))
    red = sum(
        t["unit_id"] % 8 // 4 == 0
        for s in range(200)
        for t in draw(_pools(), plain, str(s))["targets"]
    )
    assert 0.4 < red / total < 0.6


def test_bad_ratio_and_hash() -> None:
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            DrawParams(ratio=bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        DrawParams(ratio=0.5, ratio_by_risk={"red": 2.0})
    assert pools_sha256(_pools()) == pools_sha256(_pools())
    changed = _pools()
    changed[0]["eligible"] = [999]
    assert pools_sha256(changed) != pools_sha256(_pools())
    assert 0.0 <= uniform("a", "b", "c") < 1.0

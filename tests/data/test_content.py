"""Codes, counts, the 三管三必须 mapping and hazard date logic of the generated town."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from data import REFERENCE_DIR
from data.generator import generate

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_is_valid(code: str) -> bool:
    """Independent GB 32100-2015 check: weights 3^(i-1) mod 31 over the first 17 characters."""
    if len(code) != 18 or any(c not in CHARSET for c in code):
        return False
    total = sum(CHARSET.index(c) * (3**i % 31) for i, c in enumerate(code[:17]))
    return CHARSET[(31 - total % 31) % 31] == code[17]


def test_reference_vectors() -> None:
    assert uscc_is_valid("91110108551385082Q") and uscc_is_valid("91110000600037341L")
    assert not uscc_is_valid("91110108551385082R")


def test_every_uscc_valid_and_unique(raw_props: dict[str, list[dict]]) -> None:
    codes = [u["uscc"] for u in raw_props["units"]]
    assert all(uscc_is_valid(c) for c in codes)
    assert len(set(codes)) == len(codes)
    prefixes = Counter(c[:2] for c in codes)
    assert set(prefixes) <= {"11", "12", "52", "91", "92", "93", "N2"}
    regions = Counter(c[2:8] for c in codes)
    assert set(regions) == {"411003", "411023", "411000"}
    assert regions["411003"] > regions["411023"] > regions["411000"]


def test_counts(raw_props: dict[str, list[dict]]) -> None:
    units = raw_props["units"]
    assert len(raw_props["villages"]) == 35
    assert 480 <= len(units) <= 560
    keys = Counter(u["fire_key_level"] for u in units)
    assert 40 <= keys["county"] + keys["town"] <= 80
    assert 8 <= keys["county"] <= 16
    assert 55 <= len(raw_props["staff"]) <= 75
    v = raw_props["villages"]
    assert sum(x["population"] for x in v) == 64_000
    assert sum(x["groups_count"] for x in v) == 206
    assert Counter(x["kind"] for x in v) == {"community": 4, "village": 31}
    assert 2200 <= len(raw_props["hazards"]) <= 2800


def test_codes_formats(raw_props: dict[str, list[dict]]) -> None:
    assert all(u["code"].startswith("QY") and len(u["code"]) == 8 for u in raw_props["units"])
    village_codes = [v["code"] for v in raw_props["villages"]]
    assert village_codes[:4] == [f"411003101{i:03d}" for i in range(1, 5)]
    assert all(c.startswith("4110031012") for c in village_codes[4:])
    assert all(
        h["code"].startswith("YH2024") and len(h["code"]) == 11 for h in raw_props["hazards"]
    )
    for p in raw_props["staff"]:
        assert p["phone"].startswith("1380000") and len(p["phone"]) == 11
        assert (p["home_village_code"] is not None) == (p["role"] == "village_staff")


def test_departments_follow_reference_table(raw_props: dict[str, list[dict]]) -> None:
    with (REFERENCE_DIR / "industry_departments.csv").open(encoding="utf-8") as fh:
        rules = list(csv.DictReader(fh))
    for u in raw_props["units"]:
        match = max(
            (r for r in rules if u["industry_code"].startswith(r["industry_prefix"])),
            key=lambda r: len(r["industry_prefix"]),
        )
        assert u["department_code"] == match["department_code"], u["industry_code"]
        assert u["high_risk"] == (match["high_risk"] == "true")


def test_staff_roster(raw_props: dict[str, list[dict]]) -> None:
    roles = Counter(p["role"] for p in raw_props["staff"])
    assert roles["village_staff"] == 35 and roles["office_head"] == 1
    assert 6 <= roles["professional"] <= 8 and roles["town_cadre"] >= 4
    for p in raw_props["staff"]:
        if p["role"] == "inspector":
            assert 40 <= p["capacity_units"] <= 80 and 8 <= p["capacity_teams"] <= 15
            assert p["license_no"].startswith("豫K-")


def test_unit_mix(raw_props: dict[str, list[dict]]) -> None:
    units = raw_props["units"]
    status = Counter(u["status"] for u in units)
    assert status["operating"] / len(units) == pytest.approx(0.92, abs=0.04)
    dining = [u for u in units if u["industry_code"].startswith("H62")]
    bottled = sum(u["gas_use"] == "bottled" for u in dining) / len(dining)
    assert 0.25 <= bottled <= 0.55
    colours = Counter(u["risk_color"] for u in units)
    assert colours["red"] < colours["orange"] < colours["yellow"] < colours["blue"]


def test_hazard_statuses_agree_with_dates(raw_props: dict[str, list[dict]]) -> None:
    for h in raw_props["hazards"]:
        found, deadline = h["found_on"], h["deadline"]
        assert deadline is None or deadline >= found
        if h["status"] == "closed":
            assert h["closed_on"] and h["rectified_on"] and h["reviewed_on"]
            assert found <= h["rectified_on"] <= h["closed_on"] <= "2024-12-31"
        elif h["status"] == "awaiting_review":
            assert h["rectified_on"] and h["closed_on"] is None
        else:
            assert h["rectified_on"] is None and h["closed_on"] is None
        assert h["supervised"] == (h["level"] == "major")
        assert (h["reporter_name"] is not None) == (h["source"] == "public_report")
        assert (h["fatal_factor"] is not None) == (h["category"] == "fire")
    share = Counter(h["level"] for h in raw_props["hazards"])["major"] / len(raw_props["hazards"])
    assert 0.001 <= share <= 0.01


def test_inspections_link_hazards(town_dir: Path, raw_props: dict[str, list[dict]]) -> None:
    with (town_dir / "inspections.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    kinds = Counter(r["kind"] for r in rows)
    assert 1800 <= kinds["department"] + kinds["random"] + kinds["supervision"] <= 2500
    assert 3300 <= kinds["grid_patrol"] <= 3900
    found = Counter(h["inspection_code"] for h in raw_props["hazards"] if h["inspection_code"])
    for r in rows:
        assert int(r["hazard_count"]) == found.get(r["code"], 0)
        assert r["inspected_on"].startswith("2024-")


def test_county_smoke(tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=1, scale="county", towns=2)
    counts = {k: v["count"] for k, v in manifest["files"].items()}
    assert counts["town.geojson"] == 2 and counts["villages.geojson"] == 70
    assert counts["units.geojson"] == 1040
    assert "hazards.geojson" not in counts


def test_province_smoke_has_main_roads(tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=1, scale="province", towns=2)
    counts = {k: v["count"] for k, v in manifest["files"].items()}
    assert counts["units.geojson"] == 1040 and counts["roads.geojson"] > 0
    assert "micro_grids.geojson" not in counts and "gas_pipelines.geojson" not in counts
    roads = [
        f["properties"]
        for f in json.loads((tmp_path / "roads.geojson").read_text(encoding="utf-8"))["features"]
    ]
    assert {r["road_class"] for r in roads} <= {"S", "X", "Y"}  # no 村道 grid above the town
    # The same towns at county scale have the very same roads (only codes of towns differ).
    county = tmp_path / "county"
    generate(county, seed=1, scale="county", towns=2)
    same = json.loads((county / "roads.geojson").read_text(encoding="utf-8"))["features"]
    assert [(r["code"], r["length_m"], r["source"]) for r in roads] == [
        (f["properties"]["code"], f["properties"]["length_m"], f["properties"]["source"])
        for f in same
    ]
    again = generate(tmp_path / "again", seed=1, scale="province", towns=2)
    assert again["files"] == manifest["files"]


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("GRIDSAFE_SLOW_TESTS"), reason="~30 s; set GRIDSAFE_SLOW_TESTS=1 to run"
)
def test_county_scale(tmp_path: Path) -> None:
    manifest = generate(tmp_path, seed=2024, scale="county")
    assert manifest["files"]["units.geojson"]["count"] >= 50_000

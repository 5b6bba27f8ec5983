"""Same seed, same bytes: two runs agree with each other and with the committed data/demo."""

from __future__ import annotations

import json
from pathlib import Path

from data import DEMO_DIR
from data.generator import generate


def test_same_seed_gives_identical_files(town_dir: Path, tmp_path: Path) -> None:
    generate(tmp_path, seed=2024, scale="town")
    first = (town_dir / "manifest.json").read_bytes()
    assert (tmp_path / "manifest.json").read_bytes() == first
    for name in json.loads(first)["files"]:
        assert (tmp_path / name).read_bytes() == (town_dir / name).read_bytes(), name


def test_committed_demo_matches_generator(town_dir: Path) -> None:
    committed = json.loads((DEMO_DIR / "manifest.json").read_text(encoding="utf-8"))
    fresh = json.loads((town_dir / "manifest.json").read_text(encoding="utf-8"))
    assert committed == fresh
    import hashlib

    for name, entry in committed["files"].items():
        assert hashlib.sha256((DEMO_DIR / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_other_seed_differs(tmp_path: Path, town_dir: Path) -> None:
    manifest = generate(tmp_path, seed=7, scale="town")
    fresh = json.loads((town_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["files"]["units.geojson"]["sha256"] != fresh["files"]["units.geojson"]["sha256"]


def test_no_wall_clock_in_files(town_dir: Path) -> None:
    text = (town_dir / "manifest.json").read_text(encoding="utf-8")
    assert "_seconds" not in text and "time" not in json.loads(text)


def test_coordinates_rounded_to_1e_7(town_dir: Path) -> None:
    data = json.loads((town_dir / "units.geojson").read_text(encoding="utf-8"))
    for f in data["features"]:
        for c in f["geometry"]["coordinates"]:
            assert round(c, 7) == c

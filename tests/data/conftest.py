"""Fixtures for the demo-town generator tests: one generated town shared by the session."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from data.generator import generate


@pytest.fixture(scope="session")
def town_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("town")
    generate(out, seed=2024, scale="town")
    return out


@pytest.fixture(scope="session")
def layers(town_dir: Path) -> dict[str, gpd.GeoDataFrame]:
    names = (
        "town",
        "villages",
        "micro_grids",
        "units",
        "roads",
        "staff",
        "hazards",
        "gas_pipelines",
        "gas_facilities",
        "fire_stations",
    )
    return {n: gpd.read_file(town_dir / f"{n}.geojson", engine="pyogrio") for n in names}


@pytest.fixture(scope="session")
def raw_props(town_dir: Path) -> dict[str, list[dict]]:
    """Feature properties exactly as written (no pandas type coercion)."""
    out = {}
    for name in ("units", "hazards", "staff", "villages", "roads"):
        data = json.loads((town_dir / f"{name}.geojson").read_text(encoding="utf-8"))
        out[name] = [f["properties"] for f in data["features"]]
    return out

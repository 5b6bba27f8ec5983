"""Coverage gaps for a caller: load the scope's towns, compute the report, keep what it may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection

from gis.access import Scope
from gis.analysis.coverage import (
    CoverageParams,
    CoverageReport,
    GapType,
    SiteSuggestion,
    coverage_report,
    suggest_micro_station_sites,
)
from gis.errors import InvalidInput
from gis.queries.coverage import load_coverage_inputs, town_codes_for, visible_subjects


@dataclass
class ScopedGaps:
    """The gaps and village summary a scope may see, with the full report behind them."""

    as_of: dt.date
    towns: list[str]
    gaps: gpd.GeoDataFrame
    villages: pd.DataFrame
    report: CoverageReport | None

    def counts(self) -> dict[str, int]:
        found = self.gaps["gap_type"].value_counts()
        return {t.value: int(found.get(t.value, 0)) for t in GapType}


def _empty(as_of: dt.date) -> ScopedGaps:
    return ScopedGaps(
        as_of=as_of,
        towns=[],
        gaps=gpd.GeoDataFrame(
            {c: [] for c in ("gap_type", "subject", "unit_id", "village_code", "staff_id")},
            geometry=[],
            crs=4490,
        ),
        villages=pd.DataFrame({"village_code": []}),
        report=None,
    )


def scoped_gaps(
    conn: Connection,
    scope: Scope,
    *,
    as_of: dt.date | None = None,
    town: str | None = None,
    params: CoverageParams | None = None,
) -> ScopedGaps:
    """Every gap of the towns ``scope`` may see, filtered to subjects and people it may see.

    ``params.as_of`` is replaced by ``as_of`` (default today).
    """
    as_of = as_of or dt.date.today()
    base = params or CoverageParams()
    params = CoverageParams(**{**base.__dict__, "as_of": as_of})
    towns = town_codes_for(conn, scope, town)
    if not towns:
        return _empty(as_of)
    inputs = load_coverage_inputs(conn, towns, as_of)
    if inputs.units.empty and inputs.villages.empty:
        return _empty(as_of)
    report = coverage_report(inputs, params)
    visible = visible_subjects(conn, scope, towns)
    gaps = report.gaps[visible.mask(report.gaps).to_numpy()].reset_index(drop=True)
    # Name only the people the scope may see (a department sees its own staff, not the grid
    # chief from the town office who shares responsibility for the same unit).
    gaps["responsible"] = [
        [p for p in people if p["staff_id"] in visible.staff_ids] for people in gaps["responsible"]
    ]
    villages = report.villages[report.villages["village_code"].isin(visible.village_codes)]
    return ScopedGaps(
        as_of=as_of,
        towns=towns,
        gaps=gaps,
        villages=villages.reset_index(drop=True),
        report=report,
    )


def micro_station_sites(
    conn: Connection,
    scope: Scope,
    *,
    k: int,
    minutes: float,
    town: str | None = None,
) -> SiteSuggestion | None:
    """The best ``k`` new micro-station sites for the key units the scope may see."""
    if not 1 <= k <= 50:
        raise InvalidInput("k must be between 1 and 50")
    towns = town_codes_for(conn, scope, town)
    if not towns:
        return None
    inputs = load_coverage_inputs(conn, towns, dt.date.today())
    if inputs.roads.empty:
        raise InvalidInput("no road network is loaded for these towns")
    visible = visible_subjects(conn, scope, towns)
    units = inputs.units[inputs.units["id"].isin(visible.unit_ids)]
    return suggest_micro_station_sites(
        inputs.roads, units, inputs.fire_stations, k=k, fire_minutes=minutes
    )

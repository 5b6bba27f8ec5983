"""Coverage gaps for a caller: load the scope's towns, compute the report, keep what it may see.

Reports are kept per process in :data:`REPORT_CACHE`, keyed by (towns, as-of date, parameters,
data versions). Triggers move a town's ``data_versions`` row on every write to its data
(migration ``0005``), so one cheap query tells whether a kept report is still exact; the scope
filtering happens after the cache, per caller.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, select

from gis.access import Role, Scope
from gis.analysis.coverage import (
    CoverageParams,
    CoverageReport,
    GapType,
    SiteSuggestion,
    coverage_report,
    suggest_micro_station_sites,
)
from gis.db.version_models import GLOBAL_KEY, DataVersion
from gis.errors import InvalidInput
from gis.queries.coverage import load_coverage_inputs, town_codes_for, visible_subjects


@dataclass
class CacheStats:
    """What a :class:`ReportCache` did: reports computed, served from memory, dropped."""

    computed: int = 0
    hits: int = 0
    evicted: int = 0


@dataclass
class KeptReport:
    """A computed report (None: the towns hold no data) and what callers derived from it.

    ``derived`` holds results that depend on nothing but the report (e.g. a town-wide summary's
    encoded body), so they share the report's key and lifetime and are never stale either.
    """

    report: CoverageReport | None
    size: int
    derived: dict[Hashable, Any] = field(default_factory=dict)


@dataclass
class ReportCache:
    """A thread-safe LRU of computed reports, bounded by entries and by (estimated) bytes.

    Concurrent misses of one key compute once: the others wait for the first and share its
    report (a burst of users opening the gap map after a write costs one computation).
    """

    max_entries: int = 16
    max_bytes: int = 512 * 2**20
    stats: CacheStats = field(default_factory=CacheStats)
    _entries: OrderedDict[Hashable, KeptReport] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _computing: dict[Hashable, threading.Lock] = field(default_factory=dict)

    def get_or_compute(
        self, key: Hashable, compute: Callable[[], CoverageReport | None]
    ) -> KeptReport:
        """The report kept under ``key``, or ``compute()``'s (then kept) if there is none."""
        with self._lock:
            if key in self._entries:
                return self._hit(key)
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._entries:
                    return self._hit(key)
            try:
                report = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            kept = KeptReport(report, report_bytes(report))
            with self._lock:
                self.stats.computed += 1
                if kept.size <= self.max_bytes:
                    self._entries[key] = kept
                    self._shrink()
            return kept

    def _hit(self, key: Hashable) -> KeptReport:
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return self._entries[key]

    def _shrink(self) -> None:
        total = sum(kept.size for kept in self._entries.values())
        while self._entries and (len(self._entries) > self.max_entries or total > self.max_bytes):
            _, dropped = self._entries.popitem(last=False)
            total -= dropped.size
            self.stats.evicted += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def report_bytes(report: CoverageReport | None) -> int:
    """Memory a report holds, estimated (shallow for object columns; geometries ~100 B each)."""
    if report is None:
        return 0
    frames = (report.gaps, report.units, report.villages)
    size = sum(int(f.memory_usage(index=True, deep=False).sum()) for f in frames)
    return size + 100 * (len(report.gaps) + len(report.units))


#: This process's reports (each worker process keeps its own).
REPORT_CACHE = ReportCache()


def data_versions(conn: Connection, towns: Sequence[str]) -> tuple[int, ...]:
    """The data version of each of ``towns`` and of the shared data (0 if never written)."""
    keys = [*towns, GLOBAL_KEY]
    rows = conn.execute(
        select(DataVersion.town_code, DataVersion.version).where(DataVersion.town_code.in_(keys))
    )
    found = {town: version for town, version in rows}
    return tuple(int(found.get(k, 0)) for k in keys)


def town_report(
    conn: Connection,
    towns: Sequence[str],
    params: CoverageParams,
    *,
    cache: ReportCache = REPORT_CACHE,
) -> KeptReport:
    """The whole report of ``towns`` (unfiltered), from ``cache`` while their data is unchanged.

    The versions are read before the data, so a report is never older than its key (a write
    committed in between makes it newer, which no reader of the old key can mistake for stale).
    Its ``report`` is None when the towns hold no units and no villages.
    """
    key = (tuple(towns), params, data_versions(conn, towns))

    def compute() -> CoverageReport | None:
        inputs = load_coverage_inputs(conn, towns, params.as_of)
        if inputs.units.empty and inputs.villages.empty:
            return None
        return coverage_report(inputs, params)

    return cache.get_or_compute(key, compute)


def _town_wide(scope: Scope) -> bool:
    """The scope sees every unit, village and person of its towns (no finer restriction)."""
    return (
        scope.role is not Role.PUBLIC
        and scope.village_codes is None
        and scope.department_codes is None
        and scope.staff_id is None
    )


@dataclass
class ScopedGaps:
    """The gaps and village summary a scope may see, with the full report behind them."""

    as_of: dt.date
    towns: list[str]
    gaps: gpd.GeoDataFrame
    villages: pd.DataFrame
    report: CoverageReport | None
    #: Results derived from the whole report that this caller may share with every caller of
    #: the same towns, date, parameters and data (town-wide scopes); a private dict otherwise.
    derived: dict[Hashable, Any] = field(default_factory=dict)

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
    kept = town_report(conn, towns, params)
    report = kept.report
    if report is None:
        return _empty(as_of)
    if _town_wide(scope):
        # The report covers exactly the scope's towns: nothing in it is hidden from the caller.
        return ScopedGaps(
            as_of=as_of,
            towns=towns,
            gaps=report.gaps.copy(deep=False),
            villages=report.villages.reset_index(drop=True),
            report=report,
            derived=kept.derived,
        )
    # What a narrower scope sees depends only on the scope and on versioned data of these towns
    # (units, villages, staff, responsibilities), so its view is kept beside the report too.
    view_key = (
        "view",
        scope.role,
        scope.town_codes,
        scope.village_codes,
        scope.department_codes,
        scope.staff_id,
        scope.as_of,
    )
    kept_view = kept.derived.get(view_key)
    if isinstance(kept_view, ScopedGaps) and kept_view.as_of == as_of:
        return kept_view
    view = _narrow(conn, scope, towns, report, as_of)
    if sum(1 for k in kept.derived if isinstance(k, tuple)) < MAX_VIEWS_PER_REPORT:
        kept.derived[view_key] = view
    return view


#: Narrower scopes' views kept per report (beyond this, computed per request): a view is a
#: part of one report, whose bytes the cache bound does not count.
MAX_VIEWS_PER_REPORT = 64


def _narrow(
    conn: Connection, scope: Scope, towns: list[str], report: CoverageReport, as_of: dt.date
) -> ScopedGaps:
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

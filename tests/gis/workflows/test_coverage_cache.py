"""Gap reports kept per data version: every door that writes moves the version, repeats are hits.

Writes happen inside the test's transaction (rolled back afterwards); versions come from a
sequence, so a version seen here is never handed out again after the rollback.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from api import cli_io
from api.cli import main
from gis.access import Role, Scope
from gis.analysis.coverage import CoverageReport
from gis.settings import Settings
from gis.workflows.coverage import REPORT_CACHE, ReportCache, data_versions, scoped_gaps
from tests.api.test_cli_accounts import _InTransaction
from tests.conftest import DEMO_TOWN

AS_OF = dt.date(2024, 12, 31)
NEW_UNIT_CSV = (
    "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级\n"
    "好单位,91110108551385082Q,114.0,34.05,H62,蓝\n"
)


def _version(conn: Connection, town: str = DEMO_TOWN) -> int:
    return data_versions(conn, [town])[0]


def _global_version(conn: Connection) -> int:
    return data_versions(conn, [])[0]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE units SET employees = coalesce(employees, 0) + 1"
        " WHERE id = (SELECT min(id) FROM units)",
        "DELETE FROM micro_grids WHERE code = (SELECT min(code) FROM micro_grids)",
        "UPDATE hazards SET supervised = NOT supervised WHERE id = (SELECT min(id) FROM hazards)",
        "INSERT INTO inspections (town_code, code, unit_id, village_code, inspected_on, kind,"
        " inspector_codes, hazard_count, result) SELECT town_code, 'T' || id, unit_id,"
        " village_code, inspected_on, kind, inspector_codes, hazard_count, result"
        " FROM inspections ORDER BY id LIMIT 3",
    ],
)
def test_raw_sql_write_moves_the_town_version(db_conn: Connection, statement: str) -> None:
    before = _version(db_conn)
    assert before > 0  # the demo town's load already moved it
    db_conn.execute(text(statement))
    assert _version(db_conn) > before


def test_statement_that_touches_nothing_moves_nothing(db_conn: Connection) -> None:
    before, shared = _version(db_conn), _global_version(db_conn)
    db_conn.execute(text("UPDATE units SET employees = 1 WHERE id = -1"))
    db_conn.execute(text("DELETE FROM hazards WHERE id = -1"))
    assert (_version(db_conn), _global_version(db_conn)) == (before, shared)


def test_shared_reference_data_moves_the_global_version(db_conn: Connection) -> None:
    before, shared = _version(db_conn), _global_version(db_conn)
    db_conn.execute(text("UPDATE inspection_frequency_rules SET priority = priority"))
    assert _global_version(db_conn) > shared
    assert _version(db_conn) == before


def test_cli_import_moves_the_town_version(
    db_conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(NEW_UNIT_CSV, encoding="utf-8")
    settings = Settings(database_url="postgresql+psycopg://unused@127.0.0.1/x")
    monkeypatch.setattr(cli_io, "_settings_and_engine", lambda: (settings, _InTransaction(db_conn)))
    before = _version(db_conn)
    assert main(["import", "units", str(ledger)]) == 0
    assert _version(db_conn) > before


def _outside_gaps(conn: Connection) -> set[int]:
    result = scoped_gaps(conn, Scope.unrestricted(), as_of=AS_OF)
    gaps = result.gaps
    return {int(u) for u in gaps.loc[gaps["gap_type"] == "unit_outside_grid", "unit_id"]}


def test_repeat_is_served_from_the_cache_and_a_write_is_never_served_stale(
    db_conn: Connection,
) -> None:
    REPORT_CACHE.clear()
    start = REPORT_CACHE.stats.computed, REPORT_CACHE.stats.hits
    first = _outside_gaps(db_conn)
    second = _outside_gaps(db_conn)
    assert first == second
    assert (REPORT_CACHE.stats.computed, REPORT_CACHE.stats.hits) == (start[0] + 1, start[1] + 1)

    unit = db_conn.execute(text("SELECT min(id) FROM units")).scalar_one()
    assert unit not in first
    # Far outside every grid of the town: a new unit_outside_grid gap.
    db_conn.execute(
        text("UPDATE units SET geom = ST_SetSRID(ST_MakePoint(120, 40), 4490) WHERE id = :u"),
        {"u": unit},
    )
    after = _outside_gaps(db_conn)
    assert REPORT_CACHE.stats.computed == start[0] + 2
    assert after == first | {unit}


def test_scope_filtering_happens_after_the_cache(db_conn: Connection) -> None:
    """A grid chief gets its own village's rows from the report the town admin computed."""
    REPORT_CACHE.clear()
    whole = scoped_gaps(db_conn, Scope.unrestricted(), as_of=AS_OF)
    computed = REPORT_CACHE.stats.computed
    village = str(whole.villages["village_code"].iloc[0])
    chief = Scope(role=Role.GRID_CHIEF, village_codes=frozenset({village}), as_of=AS_OF)
    mine = scoped_gaps(db_conn, chief, as_of=AS_OF)
    assert REPORT_CACHE.stats.computed == computed  # a hit: same towns, date, data
    assert set(mine.villages["village_code"]) == {village}
    village_rows = mine.gaps[mine.gaps["subject"] == "village"]
    assert set(village_rows["village_code"]) <= {village}
    assert len(mine.gaps) < len(whole.gaps)


def _report() -> CoverageReport:
    import geopandas as gpd
    import pandas as pd

    return CoverageReport(
        gaps=gpd.GeoDataFrame({"gap_type": []}, geometry=[], crs=4490),
        units=pd.DataFrame(),
        villages=pd.DataFrame(),
        timings={},
    )


def test_concurrent_misses_of_one_key_compute_once() -> None:
    cache = ReportCache()
    calls: list[int] = []

    def slow() -> CoverageReport:
        calls.append(1)
        time.sleep(0.2)
        return _report()

    results: list[CoverageReport | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 6 and all(r is results[0] for r in results)
    assert (cache.stats.computed, cache.stats.hits) == (1, 5)


def test_cache_is_bounded_least_recently_used_first() -> None:
    cache = ReportCache(max_entries=2)
    for key in ("a", "b"):
        cache.get_or_compute(key, _report)
    cache.get_or_compute("a", _report)  # "a" is now the most recent
    cache.get_or_compute("c", _report)  # evicts "b"
    assert cache.stats.evicted == 1 and len(cache) == 2
    computed = cache.stats.computed
    cache.get_or_compute("a", _report)
    assert cache.stats.computed == computed
    cache.get_or_compute("b", _report)
    assert cache.stats.computed == computed + 1


def test_a_narrower_scope_view_is_kept_with_the_report(
    db_conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second grid chief of the same village gets the kept view: no visibility queries, the
    same rows; a write makes a new report and a new view."""
    from gis.workflows import coverage as workflow

    REPORT_CACHE.clear()
    village = db_conn.execute(text("SELECT min(code) FROM villages")).scalar_one()
    calls: list[str] = []
    real = workflow.visible_subjects

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append("visible")
        return real(*args, **kwargs)

    monkeypatch.setattr(workflow, "visible_subjects", counted)

    def chief(account: int) -> Scope:
        return Scope(
            role=Role.GRID_CHIEF,
            village_codes=frozenset({village}),
            as_of=AS_OF,
            account_id=account,
            username=f"chief-{account}",
        )

    first = scoped_gaps(db_conn, chief(1), as_of=AS_OF)
    second = scoped_gaps(db_conn, chief(2), as_of=AS_OF)
    assert calls == ["visible"]
    assert second is first
    assert set(first.villages["village_code"]) == {village}

    db_conn.execute(
        text("UPDATE villages SET population = population WHERE code = :v"), {"v": village}
    )
    third = scoped_gaps(db_conn, chief(3), as_of=AS_OF)
    assert calls == ["visible", "visible"]
    assert third is not first
    assert third.gaps.drop(columns="geometry").equals(first.gaps.drop(columns="geometry"))

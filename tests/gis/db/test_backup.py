"""``gridsafe backup`` → ``gridsafe restore``: identical row counts and checksums after the trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from api.cli import main
from gis.audit import Actor, record
from gis.db.backup import restore, table_checksums
from gis.db.local_server import LocalServer
from gis.io.dataset import load_dataset
from gis.settings import get_settings
from tests.throwaway import TINY_TOWN, prepared_engine, throwaway_server, write_tiny_town


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with throwaway_server() as server:
        yield server


@pytest.fixture(scope="module")
def source(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The source database: migrated, reference tables and the tiny town loaded."""
    engine = prepared_engine(server.url())
    with engine.begin() as conn:
        load_dataset(conn, write_tiny_town(tmp_path_factory.mktemp("tiny"), units=300))
    yield engine
    engine.dispose()


def _fresh_database(server: LocalServer, name: str) -> str:
    admin = server.url("postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


def _gridsafe(monkeypatch: pytest.MonkeyPatch, url: str, *argv: str) -> int:
    monkeypatch.setenv("GRIDSAFE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        return main(list(argv))
    finally:
        get_settings.cache_clear()


def _sums(url: str) -> dict[str, object]:
    """Checksums of every table but the audit log (a restore appends its own entry there)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {k: v for k, v in table_checksums(conn).items() if k != "audit_log"}
    finally:
        engine.dispose()


def test_round_trip_into_a_fresh_database(
    server: LocalServer, source: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dump = tmp_path / "gridsafe.dump"
    assert _gridsafe(monkeypatch, server.url(), "backup", "--out", str(dump)) == 0
    assert dump.stat().st_size > 0
    assert not dump.with_name(dump.name + ".partial").exists()

    target = _fresh_database(server, "restored")
    assert _gridsafe(monkeypatch, target, "restore", "--yes", str(dump)) == 0

    before, after = _sums(server.url()), _sums(target)
    assert set(before) >= {"towns", "villages", "units", "departments", "alembic_version"}
    assert before["units"].rows == 300  # type: ignore[attr-defined]
    assert after == before
    # Sequences came along too: a new row after the restore does not collide with old ids.
    engine = create_engine(target)
    with engine.begin() as conn:
        top = conn.execute(text("SELECT max(id) FROM units")).scalar_one()
        new_id = conn.execute(
            text(
                "INSERT INTO units (town_code, code, uscc, name, village_code, industry_code,"
                " department_code, risk_color, fire_key_level, high_risk, gas_use, status, geom)"
                " SELECT town_code, 'QY999999', '91419999MA9999999X', 'new', village_code,"
                " industry_code,"
                " department_code, risk_color, fire_key_level, high_risk, gas_use, status, geom"
                " FROM units WHERE town_code = :town ORDER BY id LIMIT 1 RETURNING id"
            ),
            {"town": TINY_TOWN},
        ).scalar_one()
    engine.dispose()
    assert new_id > top


def test_restore_over_changed_data_brings_it_back(
    server: LocalServer, source: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _fresh_database(server, "changed")
    dump = tmp_path / "gridsafe.dump"
    assert _gridsafe(monkeypatch, server.url(), "backup", "--out", str(dump)) == 0
    assert _gridsafe(monkeypatch, target, "restore", "--yes", str(dump)) == 0
    expected = _sums(target)

    engine = create_engine(target)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM units WHERE id % 3 = 0"))
        conn.execute(text("UPDATE villages SET name = name || '改'"))
    engine.dispose()
    assert _sums(target) != expected

    assert _gridsafe(monkeypatch, target, "restore", "--yes", str(dump)) == 0
    assert _sums(target) == expected


def test_restoring_a_file_that_is_not_a_backup_changes_nothing(
    server: LocalServer,
    source: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = _sums(server.url())
    bogus = tmp_path / "bogus.dump"
    bogus.write_bytes(b"PGDMP" + b"\x00" * 64)
    assert _gridsafe(monkeypatch, server.url(), "restore", "--yes", str(bogus)) == 1
    assert "pg_restore failed" in capsys.readouterr().err
    assert _sums(server.url()) == before
    assert _gridsafe(monkeypatch, server.url(), "restore", "--yes", str(tmp_path / "none")) == 1


def test_the_password_is_not_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gis.db import backup

    seen: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(argv: list[str], env: dict[str, str]) -> None:
        seen.append((argv, env))
        Path(argv[argv.index("--file") + 1]).write_bytes(b"PGDMP")

    monkeypatch.setattr(backup, "_run", fake_run)
    url = "postgresql+psycopg://gs:s3cret%40x@db.example:5433/gridsafe"
    backup.backup(url, tmp_path / "out.dump")
    argv, env = seen[0]
    assert not any("s3cret" in arg for arg in argv)
    assert env["PGPASSWORD"] == "s3cret@x"
    assert argv[-6:] == ["--host", "db.example", "--port", "5433", "--username", "gs"]


def test_restoring_another_databases_dump_counts_the_entries_it_replaces(
    server: LocalServer, source: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dump whose log diverges from the live one: the live tail is not merged, but counted."""
    dump = tmp_path / "other.dump"
    assert _gridsafe(monkeypatch, server.url(), "backup", "--out", str(dump)) == 0
    target = _fresh_database(server, "diverging")
    engine = prepared_engine(target)  # its own history: migration and reference entries
    with engine.begin() as conn:
        for n in range(3):
            record(conn, Actor.system("test:other"), "note", "towns", n, None, None)
        live_last = conn.execute(text("SELECT max(id) FROM audit_log")).scalar_one()
    engine.dispose()
    with create_engine(server.url()).connect() as conn:
        dump_last = conn.execute(text("SELECT max(id) FROM audit_log")).scalar_one()
    assert live_last > dump_last

    done = restore(target, dump, actor=Actor.system("test:restore"))
    assert (done.dump_last_entry, done.carried, done.replaced) == (
        dump_last,
        0,
        live_last - dump_last,
    )
    with create_engine(target).connect() as conn:
        log = conn.execute(text("SELECT id, actor, action, after FROM audit_log ORDER BY id")).all()
    assert [r.actor for r in log if r.actor == "test:other"] == []  # the dump's history only
    assert log[-1].id == done.entry_id == dump_last + 1 and log[-1].action == "restore"
    assert log[-1].after["replaced_entries"] == live_last - dump_last

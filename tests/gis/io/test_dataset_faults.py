"""A dataset load killed half-way (kill -9 mid-COPY) or failing half-way leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from gis.io.dataset import load_dataset
from tests.throwaway import TINY_TOWN, prepared_engine, throwaway_server, town_rows, write_tiny_town

ROOT = Path(__file__).resolve().parents[3]

# Loads a dataset in its own process, but stalls for good in the middle of the units COPY: the
# test kills it there, as a power cut or an OOM kill would.
STALLING_LOADER = textwrap.dedent(
    """
    import pathlib, sys, time
    from sqlalchemy import create_engine
    import gis.io.dataset as ds

    url, directory, marker = sys.argv[1:4]
    real_copy = ds._copy

    def stalling_copy(conn, table, columns, rows):
        if table != "units":
            return real_copy(conn, table, columns, rows)

        def stalled():
            for i, row in enumerate(rows):
                if i == 300:
                    pathlib.Path(marker).write_text(str(i))
                    time.sleep(600)
                yield row

        return real_copy(conn, table, columns, stalled())

    ds._copy = stalling_copy
    with create_engine(url).begin() as conn:
        ds.load_dataset(conn, pathlib.Path(directory))
    """
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with throwaway_server() as server:
        engine = prepared_engine(server.url())
        yield engine
        engine.dispose()


def _wait_for(predicate, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_load_killed_mid_copy_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    dataset = write_tiny_town(tmp_path / "tiny", units=600)
    marker = tmp_path / "stalled"
    loader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STALLING_LOADER,
            engine.url.render_as_string(False),
            str(dataset),
            str(marker),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait_for(lambda: marker.exists() or loader.poll() is not None, 60, "the loader to stall")
        assert loader.poll() is None, "the loader ended before it was killed"

        def copying() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_progress_copy"
                            " WHERE relid = 'units'::regclass AND tuples_processed > 0"
                        )
                    ).scalar_one()
                )

        # Rows have reached the server inside the open transaction: truly half-way.
        _wait_for(copying, 30, "units rows to reach the server")
        with engine.connect() as conn:
            # Towns and villages were already copied by the same transaction, invisible to us.
            assert town_rows(conn) == {"towns": 0, "villages": 0, "units": 0}
    finally:
        loader.send_signal(signal.SIGKILL)
        loader.wait(30)
    assert loader.returncode == -signal.SIGKILL

    def backend_gone() -> bool:
        with engine.connect() as conn:
            return not conn.execute(text("SELECT count(*) FROM pg_stat_progress_copy")).scalar_one()

    _wait_for(backend_gone, 30, "the server to abort the killed load")
    with engine.connect() as conn:
        assert town_rows(conn) == {"towns": 0, "villages": 0, "units": 0}
    # Nothing was left locked or half-made: the same load now goes through whole.
    with engine.begin() as conn:
        report = load_dataset(conn, dataset)
    assert report.rows == {"towns": 1, "villages": 2, "units": 600}
    with engine.begin() as conn:
        assert town_rows(conn) == {"towns": 1, "villages": 2, "units": 600}
        conn.execute(text("DELETE FROM units WHERE town_code = :t"), {"t": TINY_TOWN})
        conn.execute(text("DELETE FROM villages WHERE town_code = :t"), {"t": TINY_TOWN})
        conn.execute(text("DELETE FROM towns WHERE code = :t"), {"t": TINY_TOWN})


def test_load_failing_in_its_third_copy_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    dataset = write_tiny_town(tmp_path / "bad", units=50, bad_unit_village=True)
    # COPY runs on the driver connection, so the driver's error comes through unwrapped.
    with (
        pytest.raises(psycopg.errors.ForeignKeyViolation, match="village"),
        engine.begin() as conn,
    ):
        load_dataset(conn, dataset)
    with engine.connect() as conn:
        assert town_rows(conn) == {"towns": 0, "villages": 0, "units": 0}

"""`gridsafe hazards verify|escalate` on the test's transaction (nothing is committed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import Connection, text

from api.cli import main
from gis.domain import HazardStatus
from tests.gis.workflows.hazard_world import make_world


class _InTransaction:
    """Stands in for the Engine: every connection is the test's (rolled back afterwards)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn

    connect = begin


@pytest.fixture
def cli_conn(db_conn: Connection, monkeypatch: pytest.MonkeyPatch) -> Connection:
    import gis.db.engine

    fake: Any = _InTransaction(db_conn)
    monkeypatch.setattr(gis.db.engine, "get_engine", lambda settings: fake)
    return db_conn


def test_verify_names_a_broken_chain(
    cli_conn: Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hazards", "verify"]) == 0
    assert "verifies" in capsys.readouterr().out
    world = make_world(cli_conn)
    hid = world.hazard(HazardStatus.RECTIFYING)
    # A hazard at version 2 with no history: both rows are missing.
    cli_conn.execute(text("UPDATE hazards SET version = 2 WHERE id = :h"), {"h": hid})
    assert main(["hazards", "verify"]) == 3
    err = capsys.readouterr().err
    assert f"(id {hid}) seq 1, missing row" in err


def test_escalate_writes_the_notice_list(
    cli_conn: Connection, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "督办清单.xlsx"
    assert main(["hazards", "escalate", "--as-of", "2025-01-31", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    overdue = cli_conn.execute(
        text("SELECT count(*) FROM hazards WHERE status = 'rectifying' AND deadline < '2025-01-31'")
    ).scalar_one()
    assert overdue > 0 and f"{overdue} overdue hazards" in said
    sheet = load_workbook(out).active
    assert sheet is not None and sheet.max_row == overdue + 2
    assert main(["hazards", "verify"]) == 0

"""`gridsafe draw` and `gridsafe draw verify ID`: made, re-run, and a tampered one caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, text

from api.cli import main


class _InTransaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn


def test_draw_and_verify(
    db_conn: Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def engine(_: Any) -> _InTransaction:
        return _InTransaction(db_conn)

    monkeypatch.setattr("gis.db.engine.get_engine", engine)
    args = ["draw", "new", "--ratio", "0.2", "--department", "SCJG", "--seed", "7"]
    assert main([*args, "--as-of", "2024-06-01"]) == 0
    out = capsys.readouterr().out
    draw_id = int(out.split()[1])
    assert "种子 7" in out
    assert main(["draw", "verify", str(draw_id)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    db_conn.execute(text("UPDATE draws SET seed = '8' WHERE id = :i"), {"i": draw_id})
    assert main(["draw", "verify", str(draw_id)]) == 3
    assert json.loads(capsys.readouterr().out)["checks"]["result"] is False
    assert main(["draw", "new", "--ratio", "1.5"]) == 1
    assert "between 0 and 1" in capsys.readouterr().err

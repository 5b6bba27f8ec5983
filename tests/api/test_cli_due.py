"""`gridsafe due`: the due list printed with its clauses, and as JSON matching the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection

from api.cli import main


class _InTransaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn


def test_due_command(
    db_conn: Connection,
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def engine(_: Any) -> _InTransaction:
        return _InTransaction(db_conn)

    monkeypatch.setattr("gis.db.engine.get_engine", engine)
    assert main(["due", "--period", "2024-06", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    api = client.get("/api/v1/inspections/due", params={"period": "2024-06"}).json()
    assert [u["unit_id"] for u in got["units"]] == [u["unit_id"] for u in api["units"]]
    assert main(["due", "--period", "2024-06"]) == 0
    out = capsys.readouterr().out
    assert f"应检查单位 {len(api['units'])} 家" in out and "依据 五女店镇实施方案 四(四)" in out
    assert main(["due", "--period", "2024-13"]) == 1
    assert "period" in capsys.readouterr().err

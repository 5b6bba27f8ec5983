"""`gridsafe route`: a planned day printed, with GPX and GeoJSON written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, text

from api.cli import main
from tests.conftest import DEMO_TOWN


class _InTransaction:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn


def test_route_command(
    db_conn: Connection,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    def engine(_: Any) -> _InTransaction:
        return _InTransaction(db_conn)

    monkeypatch.setattr("gis.db.engine.get_engine", engine)
    staff = db_conn.execute(
        text(
            "SELECT id FROM staff WHERE town_code = :t AND role = 'inspector' ORDER BY id LIMIT 1"
        ),
        {"t": DEMO_TOWN},
    ).scalar_one()
    units = [
        str(u)
        for u in db_conn.execute(
            text("SELECT id FROM units WHERE town_code = :t ORDER BY id LIMIT 5"), {"t": DEMO_TOWN}
        ).scalars()
    ]
    code = main(
        [
            "route",
            "--day",
            "2024-06-03",
            "--staff",
            str(staff),
            "--units",
            *units,
            "--window",
            f"{units[0]}=14:00-15:00",
            "--seconds",
            "0.2",
            "--gpx",
            str(tmp_path / "r.gpx"),
            "--geojson",
            str(tmp_path / "r.geojson"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "共 5 个站点" in out
    assert (tmp_path / "r.gpx").read_bytes().startswith(b"<?xml")
    lines = json.loads((tmp_path / "r.geojson").read_text("utf-8"))
    assert lines["features"][0]["geometry"]["type"] == "LineString"
    bad = main(["route", "--day", "2024-06-03", "--staff", "987654", "--units", *units])
    assert bad == 1 and "987654" in capsys.readouterr().err

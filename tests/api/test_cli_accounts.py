"""`gridsafe account …` and the demo accounts; production refuses a default secret at start."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select

from api import cli_accounts
from api.cli import main
from api.dependencies import get_conn
from api.main import create_app
from gis.access import Role
from gis.db.access_models import Account
from gis.db.models import Village
from gis.settings import Settings
from gis.workflows.accounts import DEMO_PASSWORD, ensure_demo_accounts
from tests.conftest import DEMO_TOWN


class _InTransaction:
    """Stands in for an Engine: ``begin()`` hands out the test's connection (rolled back later)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn


def test_serve_refuses_the_default_secret_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRIDSAFE_MODE", "production")
    monkeypatch.delenv("GRIDSAFE_SECRET_KEY", raising=False)
    monkeypatch.setenv("GRIDSAFE_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1:1/x")
    from gis.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["serve"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "GRIDSAFE_SECRET_KEY must be set" in err and "Traceback" not in err


def test_create_admin_from_the_cli(
    db_conn: Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_accounts, "_engine", lambda: _InTransaction(db_conn))
    monkeypatch.setattr("sys.stdin", io.StringIO("first admin passphrase\n"))
    code = main(
        [
            "account",
            "create-admin",
            "--username",
            "first-admin",
            "--password-stdin",
            "--town",
            DEMO_TOWN,
        ]
    )
    assert code == 0
    assert "first-admin" in capsys.readouterr().out
    role, town = db_conn.execute(
        select(Account.role, Account.town_code).where(Account.username == "first-admin")
    ).one()
    assert (role, town) == (Role.TOWN_ADMIN, DEMO_TOWN)
    assert main(["account", "deactivate", "first-admin"]) == 0
    active = db_conn.execute(
        select(Account.active).where(Account.username == "first-admin")
    ).scalar_one()
    assert active is False


def test_demo_accounts_one_per_role_and_they_work_in_demo_mode(
    db_engine: object, db_conn: Connection
) -> None:
    rows = ensure_demo_accounts(_InTransaction(db_conn), DEMO_TOWN)  # type: ignore[arg-type]
    assert {r["role"] for r in rows} == set(Role)
    assert ensure_demo_accounts(_InTransaction(db_conn), DEMO_TOWN) == rows  # idempotent
    chief = next(r for r in rows if r["role"] == Role.GRID_CHIEF)
    assert db_conn.execute(select(Village.town_code).where(Village.code == chief["village_code"]))
    assert all(r["is_demo"] for r in rows)

    demo = create_app(
        Settings(mode="demo", database_url="postgresql+psycopg://u@127.0.0.1/x"), db_engine
    )  # type: ignore[arg-type]
    demo.dependency_overrides[get_conn] = lambda: db_conn
    with TestClient(demo) as client:
        login = client.post(
            "/api/v1/auth/token", data={"username": "demo-chief", "password": DEMO_PASSWORD}
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        units = client.get("/api/v1/units", headers=headers).json()
        assert units["numberMatched"] > 0
        assert {f["properties"]["village_code"] for f in units["features"]} == {
            chief["village_code"]
        }
        page = client.get("/login").text
        assert "demo-chief" in page and DEMO_PASSWORD in page

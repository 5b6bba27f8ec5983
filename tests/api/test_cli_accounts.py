"""`gridsafe account …` and the demo accounts; production refuses a default secret at start."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, update

from api import cli_accounts
from api.cli import main
from api.dependencies import get_conn
from api.main import create_app
from gis.access import Role
from gis.db.access_models import Account, AuditLog
from gis.db.models import Village
from gis.errors import ConfigurationError
from gis.settings import DEFAULT_SECRET, Settings
from gis.workflows.accounts import DEMO_PASSWORD, ensure_demo_accounts
from tests.accounts import TEST_SECRET
from tests.conftest import DEMO_TOWN


class _InTransaction:
    """Stands in for an Engine: ``begin()`` hands out the test's connection (rolled back later)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self.conn


@pytest.mark.parametrize("mode", ["development", "production"])
@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "not set"), (DEFAULT_SECRET, "default"), ("short-but-not-default", "32 bytes")],
)
def test_serve_refuses_a_missing_default_or_short_secret(
    mode: str,
    secret: str | None,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GRIDSAFE_MODE", mode)
    if secret is None:
        monkeypatch.delenv("GRIDSAFE_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("GRIDSAFE_SECRET_KEY", secret)
    # Unreachable: the refusal must come before the database is touched.
    monkeypatch.setenv("GRIDSAFE_DATABASE_URL", "postgresql+psycopg://x@127.0.0.1:1/x")
    from gis.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["serve"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert message in err and "未启动" in err and "Traceback" not in err
    # The app factory refuses too, whoever calls it (uvicorn --factory, tests, workers).
    with pytest.raises(ConfigurationError, match=message):
        create_app(
            Settings(mode=mode, database_url="postgresql+psycopg://u@h/x", secret_key=secret)
        )  # type: ignore[arg-type]


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
        Settings(
            secret_key=TEST_SECRET, mode="demo", database_url="postgresql+psycopg://u@127.0.0.1/x"
        ),
        db_engine,
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


def test_every_cli_account_change_is_audited_and_unlock_works(
    db_conn: Connection, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_accounts, "_engine", lambda: _InTransaction(db_conn))

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(["account", *argv])

    assert run("create-admin", "--username", "cli-admin", "--town", DEMO_TOWN,
               "--password-stdin", stdin="first admin passphrase\n") == 0  # fmt: skip
    assert run("create", "--username", "cli-public", "--role", "public", "--password-stdin",
               stdin="another passphrase\n") == 0  # fmt: skip
    # Weak passwords and case-variant names are refused from the CLI as well.
    assert run("create", "--username", "CLI-Public", "--role", "public", "--password-stdin",
               stdin="yet another passphrase\n") == 1  # fmt: skip
    assert run("set-password", "cli-public", "--password-stdin", stdin="12345678\n") == 1
    assert "常见" in capsys.readouterr().err
    assert run("set-password", "CLI-PUBLIC", "--password-stdin", stdin="a new passphrase\n") == 0
    db_conn.execute(
        update(Account)
        .where(Account.username == "cli-public")
        .values(failed_logins=5, locked_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=9))
    )
    assert run("unlock", "cli-public") == 0
    assert db_conn.execute(
        select(Account.failed_logins, Account.locked_until).where(Account.username == "cli-public")
    ).one() == (0, None)
    assert run("unlock", "cli-public") == 1  # nothing to lift
    assert run("unlock", "nobody-here") == 1
    assert run("deactivate", "cli-public") == 0

    ids = dict(
        db_conn.execute(
            select(Account.username, Account.id).where(Account.username.like("cli-%"))
        ).all()
    )
    entries = db_conn.execute(
        select(AuditLog.action, AuditLog.row_key, AuditLog.actor)
        .where(
            AuditLog.table_name == "accounts", AuditLog.row_key.in_([str(i) for i in ids.values()])
        )
        .order_by(AuditLog.id)
    ).all()
    assert [(e.action, e.row_key) for e in entries] == [
        ("create", str(ids["cli-admin"])),
        ("create", str(ids["cli-public"])),
        ("set_password", str(ids["cli-public"])),
        ("unlock", str(ids["cli-public"])),
        ("deactivate", str(ids["cli-public"])),
    ]
    assert [e.actor for e in entries] == [
        "cli:account-create-admin",
        "cli:account-create",
        "cli:account-set-password",
        "cli:account-unlock",
        "cli:account-deactivate",
    ]

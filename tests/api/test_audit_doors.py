"""Every write door leaves an audit row: each writing API route and CLI command, run for real.

The doors are read off the application and the command line, never listed by hand alone:
every API route with an unsafe method or a writing ``Access`` rule (as
``tests/api/test_access_matrix.py`` reads them) must have a case in ``API_DOORS``, and every
leaf command of ``gridsafe`` (sub-commands and positional choices unfolded: ``db upgrade``,
``import units``) must have a case in ``CLI_DOORS`` or a reason in ``CLI_READ_ONLY``. A new
writing route or command therefore fails ``test_every_*_door_is_covered`` until someone writes
its case. Each case performs the write and asserts that a new audit entry with the right
action, table and actor appeared (``Doors.expect``); a case that asserts nothing fails too.

API doors run in the test's transaction on the shared database. CLI doors commit, so they run
on databases of their own in a throwaway cluster, through ``api.cli.main`` as a user would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, func, select, text

from api import cli
from api.main import create_app
from api.security import CSRF_COOKIE
from gis.access import Role
from gis.db.access_models import AuditLog
from gis.db.assignment_models import AssignmentRun
from gis.db.local_server import LocalServer
from gis.settings import Settings, get_settings
from tests.accounts import TEST_PASSWORD, TEST_SECRET, make_account
from tests.api.conftest import ClientAs
from tests.api.test_access_matrix import UNSAFE, app_routes
from tests.conftest import DEMO_TOWN
from tests.throwaway import throwaway_server

SETTINGS = Settings(secret_key=TEST_SECRET, database_url="postgresql+psycopg://unused@127.0.0.1/x")
#: A new unit with a valid 统一社会信用代码 inside the demo town (as in tests/api/test_exchange.py).
LEDGER_CSV = (
    "单位名称,统一社会信用代码,经度,纬度,行业代码,风险等级\n"
    "审计测试单位,91110108551385082Q,114.0,34.05,H62,蓝\n"
)
PASSPHRASE = "a long passphrase for doors"


# --- the audit log, as the cases see it ----------------------------------------------------------


@dataclass
class Doors:
    """Marks where the log stood and checks what a door appended since."""

    conn_of: Callable[[], Any]  # a context manager yielding a Connection on the audited database
    since: int = 0
    checked: int = 0

    def _last(self) -> int:
        with self.conn_of() as conn:
            return int(conn.execute(select(func.coalesce(func.max(AuditLog.id), 0))).scalar_one())

    def mark(self) -> None:
        """Entries before this point are not the door's."""
        self.since = self._last()

    def entries(self) -> list[dict[str, Any]]:
        with self.conn_of() as conn:
            rows = conn.execute(
                select(AuditLog.__table__).where(AuditLog.id > self.since).order_by(AuditLog.id)
            ).mappings()
            return [dict(r) for r in rows]

    def expect(
        self, action: str, table: str, actor: str, *, key: object = None, count: int | None = None
    ) -> list[dict[str, Any]]:
        """Assert the door appended entries ``action`` on ``table`` by ``actor``; then re-mark."""
        new = self.entries()
        found = [
            e
            for e in new
            if (e["action"], e["table_name"], e["actor"]) == (action, table, actor)
            and (key is None or e["row_key"] == str(key))
        ]
        seen = [(e["action"], e["table_name"], e["actor"], e["row_key"]) for e in new]
        assert found, f"no audit entry {action}/{table} by {actor} (key {key}); new: {seen}"
        if count is not None:
            assert len(found) == count, f"{len(found)} entries {action}/{table}, not {count}"
        self.checked += 1
        self.mark()
        return found

    def expect_nothing(self) -> None:
        new = [(e["action"], e["table_name"], e["actor"]) for e in self.entries()]
        assert new == [], f"a door that should write nothing appended {new}"
        self.checked += 1


# --- API doors -----------------------------------------------------------------------------------


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Routes that may write: an unsafe method, or an access rule that says it writes."""
    return {
        r.key for r in app_routes(app) if r.method in UNSAFE or any(rule.write for rule in r.access)
    }


@dataclass
class Api:
    app: FastAPI
    conn: Connection
    client_as: ClientAs
    doors: Doors
    admin: TestClient = field(init=False)

    def __post_init__(self) -> None:
        self.admin = self.client_as(Role.TOWN_ADMIN)

    @property
    def admin_name(self) -> str:
        return str(self.admin.account["username"])  # type: ignore[attr-defined]

    def account(self, role: Role = Role.PUBLIC, **area: Any) -> dict[str, Any]:
        return make_account(self.conn, role, town_code=DEMO_TOWN, **area)

    def web_login(self, web: TestClient, username: str) -> None:
        web.get("/login")
        form = {"username": username, "password": TEST_PASSWORD}
        done = web.post("/login", data={**form, "csrf_token": web.cookies.get(CSRF_COOKIE)})
        assert done.status_code == 303, done.text


def _run_assignment(api: Api) -> None:
    response = api.admin.post(
        "/api/v1/assignments/run", json={"town": DEMO_TOWN, "as_of": "2025-01-01", "dry_run": False}
    )
    assert response.status_code == 200, response.text
    run_id = response.json()["run_id"]
    (entry,) = api.doors.expect("assign", "responsibilities", api.admin_name, key=run_id)
    assert entry["actor_account_id"] == api.admin.account["id"]  # type: ignore[attr-defined]
    assert entry["town_code"] == DEMO_TOWN and entry["after"]["filled"] > 0
    # A dry run is a read: nothing written, nothing audited.
    preview = api.admin.post("/api/v1/assignments/run", json={"town": DEMO_TOWN})
    assert preview.status_code == 200 and not preview.json()["written"]
    api.doors.expect_nothing()


def _create_account(api: Api) -> None:
    body = {"username": "door-created", "password": PASSPHRASE, "role": "public"}
    response = api.admin.post("/api/v1/accounts", json=body)
    assert response.status_code == 201, response.text
    api.doors.expect("create", "accounts", api.admin_name, key=response.json()["id"])


def _deactivate_account(api: Api) -> None:
    target = api.account()
    api.doors.mark()
    response = api.admin.post(f"/api/v1/accounts/{target['id']}/deactivate")
    assert response.status_code == 200, response.text
    api.doors.expect("deactivate", "accounts", api.admin_name, key=target["id"])


def _unlock_account(api: Api) -> None:
    target = api.account()
    api.conn.execute(
        text(
            "UPDATE accounts SET failed_logins = 5, locked_until = now() + interval '9 min'"
            " WHERE id = :id"
        ),
        {"id": target["id"]},
    )
    api.doors.mark()
    response = api.admin.post(f"/api/v1/accounts/{target['id']}/unlock")
    assert response.status_code == 200, response.text
    (entry,) = api.doors.expect("unlock", "accounts", api.admin_name, key=target["id"])
    assert entry["before"]["failed_logins"] == 5


def _token(api: Api) -> None:
    account = api.account(Role.TOWN_ADMIN)
    api.doors.mark()
    with TestClient(api.app) as anonymous:
        form = {"username": account["username"], "password": TEST_PASSWORD}
        assert anonymous.post("/api/v1/auth/token", data=form).status_code == 200
        api.doors.expect("login", "accounts", account["username"], key=account["id"])
        wrong = anonymous.post("/api/v1/auth/token", data={**form, "password": "wrong one"})
        assert wrong.status_code == 401
        api.doors.expect("login_failed", "accounts", account["username"])


def _api_logout(api: Api) -> None:
    client = api.client_as(Role.TOWN_ADMIN)
    api.doors.mark()
    assert client.post("/api/v1/auth/logout").status_code == 204
    api.doors.expect("logout", "revoked_tokens", client.account["username"])  # type: ignore[attr-defined]


def _web_login(api: Api) -> None:
    account = api.account(Role.TOWN_ADMIN)
    with TestClient(api.app, follow_redirects=False) as web:
        api.doors.mark()
        api.web_login(web, account["username"])
        api.doors.expect("login", "accounts", account["username"], key=account["id"])


def _web_logout(api: Api) -> None:
    account = api.account(Role.TOWN_ADMIN)
    with TestClient(api.app, follow_redirects=False) as web:
        api.web_login(web, account["username"])
        api.doors.mark()
        out = web.post("/logout", data={"csrf_token": web.cookies.get(CSRF_COOKIE)})
        assert out.status_code == 303
        api.doors.expect("logout", "revoked_tokens", account["username"])


def _public_report(api: Api) -> None:
    lon, lat = api.conn.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM villages "
            "WHERE town_code = :t ORDER BY code LIMIT 1) s"
        ),
        {"t": DEMO_TOWN},
    ).one()
    body = {"lon": lon, "lat": lat, "category": "fire", "description": "消防通道被杂物堵塞"}
    with TestClient(api.app) as anonymous:
        response = anonymous.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.text
    api.doors.expect("report", "hazards", "anonymous")


def _imports(api: Api) -> None:
    files = {"file": ("ledger.csv", LEDGER_CSV.encode(), "text/csv")}
    response = api.admin.post("/api/v1/imports/units", files=files)
    assert response.status_code == 200 and response.json()["inserted"] == 1, response.text
    api.doors.expect("import", "units", api.admin_name, key="ledger.csv")
    exported = api.admin.get("/api/v1/exports/villages", params={"format": "geojson"})
    files = {"file": ("villages.geojson", exported.content, "application/geo+json")}
    response = api.admin.post("/api/v1/imports/villages", files=files)
    assert response.status_code == 200, response.text
    api.doors.expect("import", "villages", api.admin_name, key="villages.geojson")
    # A dry run writes nothing, so it is not audited.
    files = {"file": ("ledger.csv", LEDGER_CSV.encode(), "text/csv")}
    response = api.admin.post("/api/v1/imports/units", params={"dry_run": "true"}, files=files)
    assert response.status_code == 200, response.text
    api.doors.expect_nothing()


def _hazard_in(api: Api, status: str) -> int:
    """A general hazard of a demo unit, written straight into ``status`` (version 0)."""
    return int(
        api.conn.execute(
            text(
                "INSERT INTO hazards (town_code, code, unit_id, village_code, source, category, "
                "level, description, found_on, status, supervised, closed_on, version) "
                "SELECT town_code, 'DOOR' || id, id, village_code, 'department', 'fire', "
                "'general', '审计测试隐患', current_date - 3, :s, false, NULL, 0 FROM units "
                "WHERE town_code = :t AND village_code IS NOT NULL ORDER BY id LIMIT 1 "
                "RETURNING id"
            ),
            {"s": status, "t": DEMO_TOWN},
        ).scalar_one()
    )


def _report_hazard(api: Api) -> None:
    unit = api.conn.execute(
        text("SELECT id FROM units WHERE town_code = :t ORDER BY id LIMIT 1"), {"t": DEMO_TOWN}
    ).scalar_one()
    body = {"unit_id": unit, "category": "gas", "description": "液化气瓶未固定"}
    response = api.admin.post("/api/v1/hazards", json=body)
    assert response.status_code == 201, response.text
    api.doors.expect("create", "hazards", api.admin_name, key=response.json()["id"])


def _hazard_verb(verb: str, source: str, extra: dict[str, Any]) -> Callable[[Api], None]:
    def case(api: Api) -> None:
        hazard_id = _hazard_in(api, source)
        api.doors.mark()
        response = api.admin.post(
            f"/api/v1/hazards/{hazard_id}/{verb}", json={"version": 0, **extra}
        )
        assert response.status_code == 200, response.text
        (entry,) = api.doors.expect(verb, "hazards", api.admin_name, key=hazard_id)
        assert entry["before"]["status"] == source and entry["town_code"] == DEMO_TOWN

    return case


def _hazard_photo(api: Api) -> None:
    import tempfile

    from PIL import Image

    hazard_id = _hazard_in(api, "reported")
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 200)).save(picture, "PNG")
    with tempfile.TemporaryDirectory() as store:
        previous = api.app.state.settings
        api.app.state.settings = Settings(
            database_url=SETTINGS.database_url, data_dir=Path(store), secret_key=TEST_SECRET
        )
        api.doors.mark()
        response = api.admin.post(
            f"/api/v1/hazards/{hazard_id}/photos",
            files={"file": ("site.png", picture.getvalue())},
            data={"kind": "before"},
        )
        api.app.state.settings = previous
    assert response.status_code == 201, response.text
    (entry,) = api.doors.expect("photo", "hazards", api.admin_name, key=hazard_id)
    assert entry["after"]["photo"] == response.json()["sha256"]


def _page_hazard_move(api: Api) -> None:
    """The hazard list's button: a form post with the session's CSRF field."""
    hazard_id = _hazard_in(api, "reported")
    version = api.conn.execute(
        text("SELECT version FROM hazards WHERE id = :id"), {"id": hazard_id}
    ).scalar_one()
    with TestClient(api.app, follow_redirects=False) as web:
        api.web_login(web, api.admin_name)
        api.doors.mark()
        form = {"verb": "confirm", "version": version, "csrf_token": web.cookies.get(CSRF_COOKIE)}
        done = web.post(f"/hazards/{hazard_id}/move", data=form)
    assert done.status_code == 303 and "message=" in done.headers["location"], done.text
    api.doors.expect("confirm", "hazards", api.admin_name, key=hazard_id)


def _page_inspection(api: Api) -> None:
    """The checklist page's form: the inspection (and its hazard) audited by the workflow."""
    unit = api.conn.execute(
        text("SELECT id FROM units WHERE town_code = :t ORDER BY id LIMIT 1"), {"t": DEMO_TOWN}
    ).scalar_one()
    with TestClient(api.app, follow_redirects=False) as web:
        api.web_login(web, api.admin_name)
        page = web.get(f"/units/{unit}/inspect").text
        hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
        numbers = sorted({int(n) for n in re.findall(r'name="item_(\d+)"', page)})
        form = {f"item_{n}": "ok" for n in numbers} | {"item_1": "hazard", "note_1": "堵塞"}
        form |= {"inspectors": "甲", "explained": "讲解", "unit_signer": "乙"}
        api.doors.mark()
        done = web.post(f"/units/{unit}/inspect", data={**hidden, **form})
    assert done.status_code == 303, done.text[:300]
    api.doors.expect("create", "inspections", api.admin_name)


def _inspection(api: Api) -> None:
    unit = api.conn.execute(
        text("SELECT id FROM units WHERE town_code = :t ORDER BY id LIMIT 1"), {"t": DEMO_TOWN}
    ).scalar_one()
    checklist = next(
        c
        for c in api.admin.get("/api/v1/inspections/checklists").json()
        if c["code"] == "nine_small"
    )
    items = [{"no": i["no"], "result": "ok"} for i in checklist["items"]]
    items[0] = {"no": 1, "result": "hazard", "note": "无消防安全责任人"}
    body = {
        "unit_id": unit,
        "checklist": "nine_small",
        "checklist_version": checklist["version"],
        "items": items,
        "inspectors": ["审计测试"],
        "explained": "讲解消防安全责任",
        "unit_signer": "负责人",
    }
    response = api.admin.post("/api/v1/inspections", json=body)
    assert response.status_code == 201, response.text
    filed = response.json()["hazards"][0]["id"]
    # The hazard's entry is written before the inspection's (which carries the final count).
    assert any(
        (e["action"], e["table_name"], e["row_key"]) == ("create", "hazards", str(filed))
        for e in api.doors.entries()
    )
    api.doors.expect("create", "inspections", api.admin_name, key=response.json()["id"])


def _plan_route(api: Api) -> None:
    staff = api.conn.execute(
        text(
            "SELECT id FROM staff WHERE town_code = :t AND department_code = 'SCJG' "
            "AND active ORDER BY id LIMIT 1"
        ),
        {"t": DEMO_TOWN},
    ).scalar_one()
    units = api.conn.execute(
        text(
            "SELECT id FROM units WHERE town_code = :t AND department_code = 'SCJG' "
            "ORDER BY id LIMIT 3"
        ),
        {"t": DEMO_TOWN},
    ).scalars()
    body = {"day": "2024-06-03", "staff_ids": [staff], "units": list(units), "time_limit_s": 0.2}
    response = api.admin.post("/api/v1/routes", json=body)
    assert response.status_code == 201, response.text
    api.doors.expect("plan", "inspection_routes", api.admin_name, key=response.json()["id"])


def _draw(api: Api) -> None:
    response = api.admin.post("/api/v1/draws", json={"ratio": 0.1, "department_code": "SCJG"})
    assert response.status_code == 201, response.text
    api.doors.expect("draw", "draws", api.admin_name, key=response.json()["id"])


def _verify_draw(api: Api) -> None:
    response = api.admin.post("/api/v1/draws", json={"ratio": 0.1, "department_code": "SCJG"})
    assert response.status_code == 201, response.text
    api.doors.mark()
    verified = api.admin.post(f"/api/v1/draws/{response.json()['id']}/verify")
    assert verified.status_code == 200 and verified.json()["ok"]
    api.doors.expect_nothing()


WEEK = (dt.date.today() + dt.timedelta(days=7)).isoformat()
HAZARD_VERBS: dict[str, tuple[str, dict[str, Any]]] = {
    "confirm": ("reported", {}),
    "reject": ("reported", {"note": "不属于隐患"}),
    "rectify": ("confirmed", {"deadline": WEEK}),
    "fix-on-spot": ("reported", {}),
    "submit": ("rectifying", {}),
    "review": ("awaiting_review", {}),
    "reopen": ("awaiting_review", {"deadline": WEEK}),
    "sign-off": ("reviewed", {}),
}

#: Every API route that writes, and how to use it for real. Adding a route here is how a new
#: writing route passes the completeness check: by showing that it leaves its entry.
API_DOORS: dict[tuple[str, str], Callable[[Api], None]] = {
    ("POST", "/api/v1/assignments/run"): _run_assignment,
    ("POST", "/api/v1/accounts"): _create_account,
    ("POST", "/api/v1/accounts/{account_id}/deactivate"): _deactivate_account,
    ("POST", "/api/v1/accounts/{account_id}/unlock"): _unlock_account,
    ("POST", "/api/v1/auth/token"): _token,
    ("POST", "/api/v1/auth/logout"): _api_logout,
    ("POST", "/login"): _web_login,
    ("POST", "/logout"): _web_logout,
    ("POST", "/api/v1/reports"): _public_report,
    ("POST", "/api/v1/imports/{dataset}"): _imports,
    ("POST", "/api/v1/hazards"): _report_hazard,
    ("POST", "/api/v1/hazards/{hazard_id}/photos"): _hazard_photo,
    ("POST", "/api/v1/inspections"): _inspection,
    ("POST", "/hazards/{hazard_id}/move"): _page_hazard_move,
    ("POST", "/units/{unit_id}/inspect"): _page_inspection,
    ("POST", "/api/v1/routes"): _plan_route,
    ("POST", "/api/v1/draws"): _draw,
    ("POST", "/api/v1/draws/{draw_id}/verify"): _verify_draw,
    **{
        ("POST", f"/api/v1/hazards/{{hazard_id}}/{verb}"): _hazard_verb(verb, source, extra)
        for verb, (source, extra) in HAZARD_VERBS.items()
    },
}


def test_every_api_write_door_is_covered() -> None:
    doors = write_routes(create_app(SETTINGS))
    missing = sorted(doors - set(API_DOORS))
    assert not missing, f"writing routes without an audit case in API_DOORS: {missing}"
    stale = sorted(set(API_DOORS) - doors)
    assert not stale, f"API_DOORS lists routes that no longer write or exist: {stale}"


@pytest.mark.parametrize("door", sorted(API_DOORS), ids=lambda d: f"{d[0]} {d[1]}")
def test_api_door_leaves_an_audit_entry(
    door: tuple[str, str], api_app: FastAPI, db_conn: Connection, client_as: ClientAs
) -> None:
    class _Same:
        def __enter__(self) -> Connection:
            return db_conn

        def __exit__(self, *exc: object) -> None:
            return None

    doors = Doors(_Same)
    api = Api(api_app, db_conn, client_as, doors)
    doors.mark()
    API_DOORS[door](api)
    assert doors.checked, f"the case for {door} asserted no audit entry"


# --- CLI doors -----------------------------------------------------------------------------------


def cli_leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every command a user can type: sub-parsers unfolded, then the first positional's choices."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if subs:
        return {
            leaf
            for action in subs
            for name, sub in action.choices.items()
            for leaf in cli_leaves(sub, (*path, name))
        }
    positional = [a for a in parser._actions if not a.option_strings and a.dest != "help"]
    if positional and positional[0].choices:
        return {(*path, str(choice)) for choice in positional[0].choices}
    return {path}


#: Commands that change no rows of their own, and why. Every command first runs ``prepare``
#: (migrations and reference tables), which is audited and covered by ``serve``/``db upgrade``.
CLI_READ_ONLY = {
    ("db", "start"): "starts the embedded cluster; no rows",
    ("db", "stop"): "stops the embedded cluster; no rows",
    ("db", "status"): "prints the cluster's state",
    ("export", "units"): "writes a file from the database; reads only",
    ("export", "villages"): "writes a file from the database; reads only",
    ("roster",): "writes an xlsx from the database; reads only",
    ("gaps",): "reports coverage gaps; reads only",
    ("account", "list"): "lists accounts; reads only",
    ("backup",): "pg_dump: reads only (the dump holds the log as it stood)",
    ("hazards", "verify"): "recomputes the hazard history chains; reads only",
    ("due",): "prints the due list; reads only",
    ("draw", "verify"): "re-runs a stored draw from its record; reads only",
    ("report", "monthly"): "writes the 月调度 xlsx from the database; reads only",
    ("report", "quarterly"): "writes the 季通报 xlsx from the database; reads only",
    ("report", "yearly"): "writes the 年总结 xlsx from the database; reads only",
}


def new_database(server: LocalServer, name: str) -> str:
    admin = server.url("postgres").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


@dataclass
class Cli:
    """A throwaway cluster; ``gridsafe …`` runs against one of its databases at a time."""

    server: LocalServer
    monkeypatch: pytest.MonkeyPatch
    tmp: Path
    demo_url: str
    opened: list[Doors] = field(default_factory=list)

    def fresh(self) -> str:
        return new_database(self.server, f"doors_{next(_serial)}")

    def run(self, url: str, *argv: str, stdin: str | None = None) -> int:
        return gridsafe(self.monkeypatch, url, *argv, stdin=stdin)

    def doors(self, url: str) -> Doors:
        """The log of ``url`` from now on (from its start if it has none yet)."""
        doors = Doors(lambda: _connect(url))
        if _has_log(url):
            doors.mark()
        self.opened.append(doors)
        return doors


_serial = itertools.count(1)


def _has_log(url: str) -> bool:
    with _connect(url) as conn:
        return conn.execute(text("SELECT to_regclass('audit_log') IS NOT NULL")).scalar_one()


class _connect:  # noqa: N801 - used like a function: ``with _connect(url) as conn``
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url)

    def __enter__(self) -> Connection:
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self.engine.dispose()


def gridsafe(
    monkeypatch: pytest.MonkeyPatch, url: str, *argv: str, stdin: str | None = None
) -> int:
    """``gridsafe argv…`` on the database at ``url``, serving nothing."""
    with monkeypatch.context() as patch:
        patch.setenv("GRIDSAFE_DATABASE_URL", url)
        patch.setenv("GRIDSAFE_MODE", "development")
        patch.setenv("GRIDSAFE_TOWN_CODE", DEMO_TOWN)
        patch.setattr(cli, "_serve", lambda *args, **kwargs: None)
        if stdin is not None:
            patch.setattr("sys.stdin", io.StringIO(stdin))
        get_settings.cache_clear()
        try:
            return cli.main(list(argv))
        finally:
            get_settings.cache_clear()


@dataclass(frozen=True)
class DemoRun:
    url: str
    entries: list[dict[str, Any]]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalServer]:
    with throwaway_server() as server:
        yield server


@pytest.fixture(scope="module")
def demo_run(cluster: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``gridsafe demo`` on a new database (it is a door itself); later doors reuse the town."""
    url = new_database(cluster, "demo")
    data_dir = tmp_path_factory.mktemp("demo-data")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("GRIDSAFE_SECRET_KEY", raising=False)
        monkeypatch.setenv("GRIDSAFE_DATA_DIR", str(data_dir))  # where the demo keeps its key
        assert gridsafe(monkeypatch, url, "demo") == 0
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600
    with _connect(url) as conn:
        rows = conn.execute(select(AuditLog.__table__).order_by(AuditLog.id)).mappings()
        return DemoRun(url, [dict(r) for r in rows])


@pytest.fixture
def cli_env(
    cluster: LocalServer, demo_run: DemoRun, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Cli:
    return Cli(cluster, monkeypatch, tmp_path, demo_url=demo_run.url)


def _demo(c: Cli, demo: DemoRun) -> None:
    def actions(actor: str) -> set[tuple[str, str]]:
        return {(e["action"], e["table_name"]) for e in demo.entries if e["actor"] == actor}

    assert {("migrate", "alembic_version"), ("reference", "departments")} <= actions("cli:prepare")
    assert actions("cli:demo") == {("load", "towns"), ("assign", "responsibilities")}
    assert ("create", "accounts") in actions("gridsafe demo")
    load = next(e for e in demo.entries if e["action"] == "load")
    assert load["row_key"] == DEMO_TOWN and load["after"]["rows"]["units"] > 0
    with _connect(demo.url) as conn:
        run_id = conn.execute(
            select(AssignmentRun.id).where(AssignmentRun.author == "cli:demo")
        ).scalar_one()
    assign = next(e for e in demo.entries if e["action"] == "assign")
    assert assign["row_key"] == str(run_id) and assign["town_code"] == DEMO_TOWN
    # A second start finds everything in place: it writes nothing, so it audits nothing.
    doors = c.doors(demo.url)
    assert c.run(demo.url, "demo") == 0
    doors.expect_nothing()


def _serve(c: Cli, demo: DemoRun) -> None:
    url = c.fresh()
    doors = c.doors(url)
    # The only command here that signs anything; every other door runs without a secret.
    c.monkeypatch.delenv("GRIDSAFE_SECRET_KEY", raising=False)
    assert c.run(url, "serve") == 2
    assert not _has_log(url)  # refused before the database is touched, not even migrated
    c.monkeypatch.setenv("GRIDSAFE_SECRET_KEY", TEST_SECRET)
    assert c.run(url, "serve") == 0
    (entry,) = doors.expect("migrate", "alembic_version", "cli:prepare")
    assert entry["before"] == {"revision": None} and entry["after"]["revision"]
    assert c.run(url, "serve") == 0
    doors.expect_nothing()


def _db_upgrade(c: Cli, demo: DemoRun) -> None:
    url = c.fresh()
    doors = c.doors(url)
    assert c.run(url, "db", "upgrade") == 0
    doors.expect("migrate", "alembic_version", "cli:prepare")
    doors.mark()
    # Reference tables are audited when their contents change, e.g. a name edited by hand.
    with _connect(url) as conn:
        conn.execute(text("UPDATE departments SET name = name || '（旧）' WHERE code = 'AJB'"))
        conn.commit()
    assert c.run(url, "db", "upgrade") == 0
    (entry,) = doors.expect("reference", "departments", "cli:prepare")
    assert entry["before"]["md5"] != entry["after"]["md5"]


def _db_downgrade(c: Cli, demo: DemoRun) -> None:
    url = c.fresh()
    assert c.run(url, "db", "upgrade") == 0
    with _connect(url) as conn:
        heads = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    doors = c.doors(url)
    assert c.run(url, "db", "downgrade", "--revision", "0005@-1") == 0
    (entry,) = doors.expect("migrate", "alembic_version", "cli:db-downgrade")
    # Other branches' heads (0004, 0006, 0007, …) stay; the step takes 0005 back to 0003.
    assert entry["before"] == {"revision": ",".join(sorted(heads))}
    assert "0005" in heads
    expected = sorted("0003" if head == "0005" else head for head in heads)
    assert entry["after"] == {"revision": ",".join(expected)}


def _generate(c: Cli, demo: DemoRun) -> None:
    url = c.fresh()
    out = c.tmp / "town"
    doors = c.doors(url)
    assert c.run(url, "generate", "--scale", "town", "--out", str(out), "--load") == 0
    (entry,) = doors.expect("load", "towns", "cli:generate")
    assert entry["after"]["source"] == "town" and entry["after"]["rows"]["villages"] > 0


def _import_units(c: Cli, demo: DemoRun) -> None:
    ledger = c.tmp / "ledger.csv"
    ledger.write_text(LEDGER_CSV, encoding="utf-8")
    doors = c.doors(demo.url)
    assert c.run(demo.url, "import", "units", str(ledger), "--dry-run") == 0
    doors.expect_nothing()
    assert c.run(demo.url, "import", "units", str(ledger)) == 0
    doors.expect("import", "units", "cli:import", key="ledger.csv")


def _import_villages(c: Cli, demo: DemoRun) -> None:
    out = c.tmp / "villages.geojson"
    doors = c.doors(demo.url)
    assert c.run(demo.url, "export", "villages", "--format", "geojson", "--out", str(out)) == 0
    doors.expect_nothing()  # export is read-only (CLI_READ_ONLY), and it is
    assert c.run(demo.url, "import", "villages", str(out)) == 0
    doors.expect("import", "villages", "cli:import", key=out.name)


def _assign(c: Cli, demo: DemoRun) -> None:
    doors = c.doors(demo.url)
    assert c.run(demo.url, "assign", "--dry-run", "--as-of", "2025-06-01") == 0
    doors.expect_nothing()
    assert c.run(demo.url, "assign", "--as-of", "2025-06-01") == 0
    with _connect(demo.url) as conn:
        run_id = conn.execute(select(func.max(AssignmentRun.id))).scalar_one()
    (entry,) = doors.expect("assign", "responsibilities", "cli:assign", key=run_id)
    assert entry["town_code"] == DEMO_TOWN and entry["after"]["as_of"] == "2025-06-01"


def _route(c: Cli, demo: DemoRun) -> None:
    with _connect(demo.url) as conn:
        staff = conn.execute(
            text("SELECT id FROM staff WHERE department_code = 'SCJG' AND active ORDER BY id")
        ).scalar()
        units = conn.execute(
            text("SELECT id FROM units WHERE department_code = 'SCJG' ORDER BY id LIMIT 3")
        ).scalars()
        unit_ids = [str(u) for u in units]
    doors = c.doors(demo.url)
    assert (
        c.run(demo.url, "route", "--day", "2024-06-03", "--staff", str(staff), "--units", *unit_ids)
        == 0
    )
    (entry,) = doors.expect("plan", "inspection_routes", "cli:route")
    assert entry["town_code"] == DEMO_TOWN


def _draw_cli(c: Cli, demo: DemoRun) -> None:
    doors = c.doors(demo.url)
    assert c.run(demo.url, "draw", "new", "--ratio", "0.1", "--department", "SCJG") == 0
    (entry,) = doors.expect("draw", "draws", "cli:draw")
    assert entry["town_code"] == DEMO_TOWN


def _account(c: Cli, *argv: str) -> None:
    assert c.run(c.demo_url, "account", *argv, stdin=PASSPHRASE + "\n") == 0


def _create_admin(c: Cli, demo: DemoRun) -> None:
    doors = c.doors(demo.url)
    _account(c, "create-admin", "--username", "door-admin", "--password-stdin")
    doors.expect("create", "accounts", "cli:account-create-admin")


def _create(c: Cli, demo: DemoRun) -> None:
    doors = c.doors(demo.url)
    _account(c, "create", "--username", "door-public", "--role", "public", "--password-stdin")
    doors.expect("create", "accounts", "cli:account-create")


def _deactivate(c: Cli, demo: DemoRun) -> None:
    _account(c, "create", "--username", "door-leaver", "--role", "public", "--password-stdin")
    doors = c.doors(demo.url)
    _account(c, "deactivate", "door-leaver")
    doors.expect("deactivate", "accounts", "cli:account-deactivate")


def _set_password(c: Cli, demo: DemoRun) -> None:
    _account(c, "create", "--username", "door-forgetful", "--role", "public", "--password-stdin")
    doors = c.doors(demo.url)
    _account(c, "set-password", "door-forgetful", "--password-stdin")
    doors.expect("set_password", "accounts", "cli:account-set-password")


def _unlock(c: Cli, demo: DemoRun) -> None:
    _account(c, "create", "--username", "door-locked", "--role", "public", "--password-stdin")
    with _connect(demo.url) as conn:
        conn.execute(
            text(
                "UPDATE accounts SET failed_logins = 5, locked_until = now() + interval '9 min'"
                " WHERE username = 'door-locked'"
            )
        )
        conn.commit()
    doors = c.doors(demo.url)
    _account(c, "unlock", "DOOR-LOCKED")  # names match in any case
    (entry,) = doors.expect("unlock", "accounts", "cli:account-unlock")
    assert entry["before"]["failed_logins"] == 5 and entry["after"]["locked_until"] is None


def _restore(c: Cli, demo: DemoRun) -> None:
    # The demo database is restored to its own state of a moment ago: other doors' cases are
    # unaffected, and the write made in between is one the restore undoes.
    dump = c.tmp / "older.dump"
    assert c.run(demo.url, "backup", "--out", str(dump)) == 0
    _account(c, "create", "--username", "after-the-dump", "--role", "public", "--password-stdin")
    doors = c.doors(demo.url)
    undone = doors.since
    assert c.run(demo.url, "restore", "--yes", str(dump)) == 0
    (entry,) = doors.expect("restore", "database", "cli:restore", key=dump.name)
    after = entry["after"]
    assert after["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert after["size"] == dump.stat().st_size and after["os_user"]
    assert after["dump_last_entry"] == undone - 1
    assert after["carried_entries"] == 1 and after["replaced_entries"] == 0
    assert entry["before"] == {"last_entry": undone}
    assert entry["town_code"] == DEMO_TOWN  # so the town's safety office sees it
    with _connect(demo.url) as conn:
        exists = conn.execute(
            text("SELECT count(*) FROM accounts WHERE username = 'after-the-dump'")
        ).scalar_one()
        kept = conn.execute(
            select(AuditLog.action, AuditLog.actor).where(AuditLog.id == undone)
        ).one()
    # The data went back to the dump; the history of what was done (and undone) did not.
    assert exists == 0 and tuple(kept) == ("create", "cli:account-create")


def _escalate(c: Cli, demo: DemoRun) -> None:
    out = c.tmp / "notices.xlsx"
    doors = c.doors(demo.url)
    assert c.run(demo.url, "hazards", "escalate", "--as-of", "2025-02-01", "--out", str(out)) == 0
    raised = doors.expect("escalate", "hazards", "cli:hazards-escalate")
    assert raised[0]["town_code"] == DEMO_TOWN and out.exists()
    # The same day again: nothing climbs twice, so nothing is written or audited.
    assert c.run(demo.url, "hazards", "escalate", "--as-of", "2025-02-01") == 0
    doors.expect_nothing()


#: Every command that writes, and how to use it for real (see the module docstring).
CLI_DOORS: dict[tuple[str, ...], Callable[[Cli, DemoRun], None]] = {
    ("demo",): _demo,
    ("serve",): _serve,
    ("db", "upgrade"): _db_upgrade,
    ("db", "downgrade"): _db_downgrade,
    ("generate",): _generate,
    ("import", "units"): _import_units,
    ("import", "villages"): _import_villages,
    ("assign",): _assign,
    ("account", "create-admin"): _create_admin,
    ("account", "create"): _create,
    ("account", "deactivate"): _deactivate,
    ("account", "set-password"): _set_password,
    ("account", "unlock"): _unlock,
    ("restore",): _restore,
    ("hazards", "escalate"): _escalate,
    ("route",): _route,
    ("draw", "new"): _draw_cli,
}


def test_every_cli_write_door_is_covered() -> None:
    commands = cli_leaves(cli.build_parser())
    both = sorted(set(CLI_DOORS) & set(CLI_READ_ONLY))
    assert not both, f"listed as both writing and read-only: {both}"
    missing = sorted(commands - set(CLI_DOORS) - set(CLI_READ_ONLY))
    assert not missing, (
        f"commands neither exercised in CLI_DOORS nor justified in CLI_READ_ONLY: {missing}"
    )
    stale = sorted((set(CLI_DOORS) | set(CLI_READ_ONLY)) - commands)
    assert not stale, f"no such commands any more: {stale}"


@pytest.mark.parametrize("door", sorted(CLI_DOORS), ids=" ".join)
def test_cli_door_leaves_an_audit_entry(
    door: tuple[str, ...], cli_env: Cli, demo_run: DemoRun, capsys: pytest.CaptureFixture[str]
) -> None:
    CLI_DOORS[door](cli_env, demo_run)
    assert sum(d.checked for d in cli_env.opened), f"the case for {door} asserted no audit entry"
    assert "Traceback" not in capsys.readouterr().err

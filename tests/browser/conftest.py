"""Browser fixtures: the real service on a live port, driven by Debian's headless Chromium.

The service runs in a thread (uvicorn) on its own database of the suite's cluster, migrated and
loaded with the demo town once per run. Unlike the API tests, the browser's requests commit —
a browser opens several connections at once, which one rolled-back test transaction cannot
serve — so browser tests create what they need under names of their own and never depend on
each other's rows. Playwright drives ``/usr/bin/chromium`` (installed by scripts/bootstrap);
every request the page makes is recorded, so a test can assert that none leaves the machine.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, make_url, text

from api.main import create_app
from data import DEMO_DIR, REFERENCE_DIR
from gis.access import Role, Scope
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once, prepare
from gis.settings import Settings
from gis.workflows.accounts import NewAccount, create_account
from tests.conftest import DEMO_TOWN

CHROMIUM = "/usr/bin/chromium"
BROWSER_DB = "gridsafe_browser"
PASSWORD = "browser-test-" + secrets.token_hex(8)
DEMO_COUNTY = "411003000000"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1366, "height": 900}
#: Flags for a closed network: no background fetches the machine would refuse (see env notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def browser_engine(db_url: str) -> Iterator[Engine]:
    """A database of its own on the suite's server, with the demo town, for committed writes."""
    url = make_url(db_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {BROWSER_DB} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {BROWSER_DB}"))
    admin.dispose()
    engine = create_engine(url.set(database=BROWSER_DB), pool_size=5, max_overflow=10)
    prepare(engine, REFERENCE_DIR, actor=Actor.system("test:browser"))
    load_dataset_once(engine, DEMO_DIR, actor=Actor.system("test:browser"))
    yield engine
    engine.dispose()


@dataclass
class LiveService:
    """The running service: its base URL, engine and settings."""

    base_url: str
    engine: Engine
    settings: Settings
    accounts: dict[str, str] = field(default_factory=dict)

    def account(self, role: Role, **area: Any) -> str:
        """A committed account of ``role`` (created once per area); returns its username."""
        key = f"{role.value}:{sorted(area.items())}"
        if key in self.accounts:
            return self.accounts[key]
        username = f"browser-{role.value}-{len(self.accounts)}".replace("_", "-")
        fields: dict[str, Any] = {"town_code": DEMO_TOWN, **area}
        if role is Role.COUNTY_OFFICE:
            fields = {"county_code": DEMO_COUNTY, **area}
        with self.engine.begin() as conn:
            create_account(
                conn,
                Scope.unrestricted(),
                Actor.system("tests:browser"),
                NewAccount(username, PASSWORD, role, display_name=username, **fields),
            )
        self.accounts[key] = username
        return username


@pytest.fixture(scope="session")
def live_service(browser_engine: Engine) -> Iterator[LiveService]:
    """gridsafe serving on a free loopback port until the end of the run."""
    port = _free_port()
    settings = Settings(
        mode="development",
        database_url=str(browser_engine.url),
        secret_key=secrets.token_urlsafe(48),
        town_code=DEMO_TOWN,
    )
    app = create_app(settings, browser_engine)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("the live service did not answer /health within 30 s")
    yield LiveService(base, browser_engine, settings)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (no browser download: the system binary)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/bootstrap installs it (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Visit:
    """One browser context: its page, every URL it requested, dialogs and console errors."""

    page: Any
    requested: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests that would leave the machine (anything but loopback, data: and blob:)."""
        return [
            u
            for u in self.requested
            if urlsplit(u).scheme not in ("data", "blob")
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")
        ]


@pytest.fixture
def visit(chromium: Any, live_service: LiveService) -> Iterator[Callable[..., Visit]]:
    """``visit(role=Role.TOWN_ADMIN, viewport=PHONE)`` → a signed-in page (or signed out)."""
    contexts: list[Any] = []

    def open_(role: Role | None = None, viewport: dict[str, int] = DESK, **area: Any) -> Visit:
        context = chromium.new_context(viewport=viewport, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        seen = Visit(page)
        # Nothing may leave the machine: record every request, answer foreign ones locally.
        context.route(
            "**/*",
            lambda route: (
                seen.requested.append(route.request.url),
                route.continue_()
                if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost")
                or urlsplit(route.request.url).scheme in ("data", "blob")
                else route.abort(),
            ),
        )
        page.on("dialog", lambda d: (seen.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: seen.errors.append(str(e)))
        if role is not None:
            username = live_service.account(role, **area)
            page.goto(f"{live_service.base_url}/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state("networkidle")
        return seen

    yield open_
    for context in contexts:
        context.close()

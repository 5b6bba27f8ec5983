"""One upload never stops the service: bombs are refused fast while /health keeps answering.

A real uvicorn server (in a thread, on a free port, on the suite's database) takes the uploads
while a poller hits /health every 50 ms. The bounds here are about liveness, not speed: a bomb
refused in under 2 s, no /health answer slower than 1 s (each plus what the machine needs for
a trivial request at that moment); before the fix: minutes. During a long import, /health never
waits for a third of it (before: for all of it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from api.dependencies import get_admin_scope
from api.main import create_app
from gis.access import Role, Scope
from gis.settings import Settings
from tests.accounts import TEST_SECRET
from tests.conftest import DEMO_TOWN
from tests.gis.io.bombs import BOMBS
from tests.gis.io.factories import unit_row, write_ledger_xlsx

REFUSED_WITHIN_S = 2.0
HEALTH_WITHIN_S = 1.0
#: Under a load average of 15 on two cores, Starlette's multipart parsing of the 20 MB GeoJSON
#: (on the event loop, in 64 KiB slices) once pushed one /health to 1.5 s: assert this floor,
#: still far from the fix's "before" (polls timing out after 30 s).
HEALTH_FLOOR_UNDER_LOAD_S = 2.0
#: While a long import parses in a worker thread, /health shares the GIL with it (and here two
#: cores with other jobs: seconds at worst under load); on the event loop it would wait for the
#: whole import instead. So no /health may wait for more than this share of the import.
HEALTH_SHARE_OF_IMPORT = 1 / 3


@dataclass
class Poller:
    """Polls /health from its own thread and keeps every latency."""

    base: str
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def finish(self) -> None:
        """Stop polling and wait for the request in flight: a poll stuck behind a blocked
        event loop returns only when the loop is free, and its latency must be counted."""
        self.stop.set()
        if self.thread is not None:
            self.thread.join(60)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get("/health").status_code
                except httpx.HTTPError as exc:
                    status, detail = 0, repr(exc)
                else:
                    detail = ""
                self.latencies.append(time.monotonic() - started)
                if status != 200:
                    self.failures.append(f"{status} {detail}")
                self.stop.wait(0.05)


@pytest.fixture
def server(db_engine: Engine, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The service on a free port as the demo town's safety office; its base URL and data dir."""
    data_dir = tmp_path / "data"
    settings = Settings(
        database_url="postgresql+psycopg://unused@127.0.0.1/x",
        data_dir=data_dir,
        secret_key=TEST_SECRET,
    )
    app = create_app(settings, db_engine)
    # Signing in is not what this test is about; the import route's own rule is replaced.
    scope = Scope(role=Role.TOWN_ADMIN, town_codes=frozenset({DEMO_TOWN}), username="liveness")
    app.dependency_overrides[get_admin_scope] = lambda: scope
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not instance.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", data_dir
    finally:
        instance.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture
def poller(server: tuple[str, Path]) -> Iterator[Poller]:
    watch = Poller(server[0])
    watch.thread = threading.Thread(target=watch.run, daemon=True)
    watch.thread.start()
    time.sleep(0.3)
    yield watch
    watch.finish()


def test_every_bomb_is_refused_fast_while_health_answers(
    server: tuple[str, Path], poller: Poller
) -> None:
    base, data_dir = server
    timings = {}
    with httpx.Client(base_url=base, timeout=120) as client:
        # What this machine needs right now for a /health and for a trivial refused upload: on
        # two shared cores the bounds below are exceeded by that much without any bomb.
        time.sleep(0.7)
        idle_health = max(poller.latencies)
        started = time.monotonic()
        assert client.post("/api/v1/imports/units", files={"file": ("x.exe", b"MZ")}).is_error
        idle_refusal = time.monotonic() - started
        for bomb, make in BOMBS.items():
            name, data = make()
            started = time.monotonic()
            response = client.post("/api/v1/imports/units", files={"file": (name, data, "x")})
            timings[bomb] = time.monotonic() - started
            assert response.status_code in (400, 413), (bomb, response.text)
            assert name in response.json()["message"], bomb
    poller.finish()
    slow = {b: round(t, 2) for b, t in timings.items() if t >= REFUSED_WITHIN_S + idle_refusal}
    assert not slow, f"refused too slowly: {slow} (idle refusal {idle_refusal:.2f} s)"
    assert poller.failures == []
    assert len(poller.latencies) > 10
    worst = max(poller.latencies)
    bound = max(HEALTH_WITHIN_S + idle_health, HEALTH_FLOOR_UNDER_LOAD_S)
    assert worst < bound, (idle_health, sorted(poller.latencies)[-5:])
    assert not any((data_dir / "uploads").iterdir())


def test_a_long_import_does_not_hold_up_health(
    server: tuple[str, Path], poller: Poller, tmp_path: Path
) -> None:
    # 5,000 rows read and validated (seconds of openpyxl and checks); every row's credit code
    # has a wrong check digit, so the work ends in a rejection listing all of them.
    rows = [unit_row(i) for i in range(1, 5001)]
    for row in rows:
        code = row["统一社会信用代码"]
        row["统一社会信用代码"] = code[:-1] + ("0" if code[-1] != "0" else "1")
    ledger = write_ledger_xlsx(tmp_path / "台账.xlsx", rows)
    base, _ = server
    with httpx.Client(base_url=base, timeout=300) as client:
        started = time.monotonic()
        response = client.post(
            "/api/v1/imports/units",
            params={"dry_run": "true"},
            files={"file": (ledger.name, ledger.read_bytes(), "x")},
        )
        busy = time.monotonic() - started
    poller.finish()
    assert response.status_code == 422, response.text
    assert len({p["row"] for p in response.json()["problems"]}) == 5000
    assert len(poller.latencies) > 10, f"the import took {busy:.1f} s: too short to watch"
    worst = max(poller.latencies)
    assert worst < busy * HEALTH_SHARE_OF_IMPORT, (busy, sorted(poller.latencies)[-5:])

"""Load test: concurrent grid chiefs reading their village's layers from a running service.

Run: ``.venv/bin/python -m bench.load_test [--users 50] [--seconds 30] [--max-requests 20000]
[--think 1,3] [--workers N]``.
Starts its own throwaway PostGIS cluster with the demo town, one grid-chief account per village
(plus a town admin), and ``gridsafe serve`` on a free loopback port; signs every user in through
``POST /api/v1/auth/token`` (all sign-ins finish before the clock starts: argon2 is meant to be
slow, and a burst of them would measure password hashing, not reads; a sign-in answered 503
with ``Retry-After`` is retried after that delay, up to 5 attempts, and counted); then each user
loops over its village's reads, waiting a random ``--think`` time (seconds, uniform) after each
answer — none by default (a closed loop: the figures are at saturation, not at a polite request
rate). Stops by itself after ``--seconds`` or ``--max-requests``, prints Markdown for
bench/README.md, cleans up, and exits non-zero if any request failed. Loopback only; installs
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import httpx
from sqlalchemy import create_engine

from data import DEMO_DIR, REFERENCE_DIR
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once, prepare
from gis.db.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-load-test-Pa55word"
SIGN_IN_ATTEMPTS = 5


@dataclass
class Stats:
    """Latencies (ms) per endpoint label, and every failure seen."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    #: 503 answers with Retry-After that the client retried (sign-in only).
    retries: int = 0

    def add(self, label: str, ms: float) -> None:
        self.latencies[label].append(ms)

    @property
    def all(self) -> list[float]:
        return [ms for values in self.latencies.values() for ms in values]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def _create_accounts(url: str, town: str, villages: list[str]) -> list[tuple[str, str | None]]:
    """One grid chief per village and a town admin; returns (username, village or None)."""
    from gis.access import Role, Scope
    from gis.audit import Actor
    from gis.workflows.accounts import NewAccount, create_account

    engine = create_engine(url)
    users: list[tuple[str, str | None]] = []
    actor = Actor.system("bench.load_test", town_code=town)
    with engine.begin() as conn:
        for village in villages:
            spec = NewAccount(
                username=f"bench-chief-{village}",
                password=PASSWORD,
                role=Role.GRID_CHIEF,
                town_code=town,
                village_code=village,
            )
            create_account(conn, Scope.unrestricted(), actor, spec)
            users.append((spec.username, village))
        admin = NewAccount(
            username="bench-admin", password=PASSWORD, role=Role.TOWN_ADMIN, town_code=town
        )
        create_account(conn, Scope.unrestricted(), actor, admin)
    engine.dispose()
    return users


async def _wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base) as client:
        while True:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not come up")
            await asyncio.sleep(0.2)


def _paths(
    village: str, bbox: tuple[float, float, float, float], gaps: bool
) -> list[tuple[str, str]]:
    """(label, path) of one round of a grid chief's reads."""
    box = ",".join(f"{v:.6f}" for v in bbox)
    paths = [
        ("villages?village", f"/api/v1/villages?village={village}"),
        ("units?village", f"/api/v1/units?village={village}"),
        ("roads?bbox", f"/api/v1/roads?bbox={box}"),
        ("pipelines?bbox", f"/api/v1/pipelines?bbox={box}"),
        ("units (list, 100)", "/api/v1/units?limit=100"),
        ("hazards?village", f"/api/v1/hazards?village={village}&status=reported"),
    ]
    if gaps:
        paths.append(("gaps/summary", "/api/v1/gaps/summary"))
        paths.append(("maps/area", f"/maps/area?village={village}&basemap=none"))
    return paths


async def _user(
    base: str,
    username: str,
    rounds: list[tuple[str, str]],
    stats: Stats,
    clock: dict[str, float],
    budget: list[int],
    think: tuple[float, float],
    signed_in: asyncio.Barrier,
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        started = time.perf_counter()
        for _ in range(SIGN_IN_ATTEMPTS):
            login = await client.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            if login.status_code != 503 or "retry-after" not in login.headers:
                break
            # "Busy, retry": what a well-behaved client does (counted, not hidden).
            stats.retries += 1
            await asyncio.sleep(float(login.headers["retry-after"]))
        stats.add("auth/token (sign in)", (time.perf_counter() - started) * 1000)
        if login.status_code != 200:
            stats.errors.append(f"{username} sign-in: {login.status_code} {login.text[:200]}")
        else:
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        await signed_in.wait()
        if login.status_code != 200:
            return
        # Users start at random points of their think time, not all in one burst.
        await asyncio.sleep(random.uniform(0, think[1]))
        while time.monotonic() < clock["stop_at"] and budget[0] > 0:
            for label, path in rounds:
                if time.monotonic() >= clock["stop_at"] or budget[0] <= 0:
                    return
                budget[0] -= 1
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    await response.aread()
                except httpx.HTTPError as exc:
                    stats.errors.append(f"{label}: {type(exc).__name__} {exc}")
                    continue
                stats.add(label, (time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    stats.errors.append(f"{label}: {response.status_code} {response.text[:200]}")
                if think[1] > 0:
                    await asyncio.sleep(random.uniform(*think))


async def _run(
    base: str, users: list[tuple[str, list[tuple[str, str]]]], args: argparse.Namespace
) -> tuple[Stats, float]:
    stats = Stats()
    await _wait_until_up(base)
    clock = {"stop_at": float("inf"), "started": 0.0}
    budget = [args.max_requests]

    def start_clock() -> None:
        clock["started"] = time.perf_counter()
        clock["stop_at"] = time.monotonic() + args.seconds

    signed_in = asyncio.Barrier(len(users) + 1)
    tasks = [
        asyncio.create_task(_user(base, name, rounds, stats, clock, budget, args.think, signed_in))
        for name, rounds in users
    ]
    await signed_in.wait()
    start_clock()
    await asyncio.gather(*tasks)
    return stats, time.perf_counter() - clock["started"]


def _report(stats: Stats, elapsed: float, args: argparse.Namespace) -> str:
    lines = [
        f"{args.users} users, think {args.think[0]:g}–{args.think[1]:g} s, {elapsed:.1f} s, "
        f"{len(stats.all)} requests, "
        f"{len(stats.all) / elapsed:.1f} requests/s, errors: {len(stats.errors)}, "
        f"sign-ins retried after 503 + Retry-After: {stats.retries}",
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {args.workers} uvicorn worker(s), database on the same "
        f"machine, load average {os.getloadavg()[0]:.1f}",
        "",
        "| endpoint | requests | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = sorted(stats.latencies.items(), key=lambda kv: kv[0])
    rows.append(
        (
            "**all reads**",
            [ms for k, v in stats.latencies.items() if "sign in" not in k for ms in v],
        )
    )
    for label, values in rows:
        lines.append(
            f"| {label} | {len(values)} | {_quantile(values, 0.5):.0f} | "
            f"{_quantile(values, 0.95):.0f} | {_quantile(values, 0.99):.0f} |"
        )
    for error, count in Counter(stats.errors).most_common(10):
        lines.append(f"\nerror ×{count}: {error}")
    return "\n".join(lines)


def _think(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    bounds = (float(low), float(high or low))
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError("--think needs MIN,MAX seconds with 0 <= MIN <= MAX")
    return bounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--no-gaps", action="store_true", help="leave out gap summary and maps")
    parser.add_argument(
        "--think", type=_think, default=(0.0, 0.0), help="MIN,MAX seconds after each answer"
    )
    parser.add_argument("--workers", type=int, default=1, help="gridsafe serve --workers")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridsafe-load-"))
    work.chmod(0o755)  # the server runs as an unprivileged user when we are root
    server = LocalServer(work / "pg", durable=False)
    service: subprocess.Popen[bytes] | None = None
    try:
        url = server.start()
        engine = create_engine(url)
        prepare(engine, REFERENCE_DIR, actor=Actor.system("bench:load-test"))
        load_dataset_once(engine, DEMO_DIR, actor=Actor.system("bench:load-test"))
        engine.dispose()

        villages = gpd.read_file(DEMO_DIR / "villages.geojson")
        town = str(villages["town_code"].iloc[0])
        bounds = {
            str(code): tuple(geom.bounds)
            for code, geom in zip(villages["code"], villages.geometry, strict=True)
        }
        accounts = _create_accounts(url, town, sorted(bounds))

        port = _free_port()
        env = {
            **os.environ,
            "GRIDSAFE_DATABASE_URL": url,
            "GRIDSAFE_MODE": "development",
            # serve refuses a missing or default signing secret in every mode
            "GRIDSAFE_SECRET_KEY": secrets.token_hex(32),
        }
        service = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
            + (["--workers", str(args.workers)] if args.workers != 1 else []),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        users = []
        for i in range(args.users):
            name, village = accounts[i % len(accounts)]
            assert village is not None
            users.append((name, _paths(village, bounds[village], not args.no_gaps)))
        stats, elapsed = asyncio.run(_run(f"http://127.0.0.1:{port}", users, args))
        print(_report(stats, elapsed, args))
        return 1 if stats.errors else 0
    finally:
        if service is not None:
            service.terminate()
            try:
                service.wait(20)
            except subprocess.TimeoutExpired:
                service.kill()
        server.destroy()


if __name__ == "__main__":
    raise SystemExit(main())

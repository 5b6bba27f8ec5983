"""Benchmark: layer reads and the warm gap summary of a running service, beside a static app.

Run: ``.venv/bin/python -m bench.bench_serving [--workers N] [--data DIR] [--seconds 10]``.
Starts a throwaway PostGIS cluster with the demo town (or ``--data DIR``, e.g. the county from
``gridsafe generate --scale county --out DIR``), a town admin and a county office account,
``gridsafe serve`` on a free loopback port and the static baseline (``bench/static_app.py``,
a bare FastAPI app answering the same bytes gridsafe returned) on another. Then, interleaved,
two rounds of ``wrk -c 10`` (and ``-c 50``) on ``GET /api/v1/units?limit=100`` with a bearer token
against each server; then ``--gap-requests`` sequential ``GET /api/v1/gaps/summary`` as the county
office (the first one cold). Prints Markdown for bench/README.md with the load average; stops by
itself and cleans up. Needs ``wrk`` (Debian package). Loopback only.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from data import DEMO_DIR, REFERENCE_DIR
from gis.audit import Actor
from gis.db.bootstrap import load_dataset_once, prepare
from gis.db.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-serving-Pa55word"
LAYER_PATH = "/api/v1/units?limit=100"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accounts(url: str) -> tuple[str, str]:
    """A town admin of the first town and a county office of its county: their usernames."""
    from gis.access import Role, Scope
    from gis.db.models import Town
    from gis.workflows.accounts import NewAccount, create_account

    engine = create_engine(url)
    with engine.begin() as conn:
        town, county = conn.execute(select(Town.code, Town.county_code).order_by(Town.code)).first()  # type: ignore[misc]
        actor = Actor.system("bench.bench_serving", town_code=town)
        for spec in (
            NewAccount("bench-admin", PASSWORD, Role.TOWN_ADMIN, town_code=town),
            NewAccount("bench-county", PASSWORD, Role.COUNTY_OFFICE, county_code=county),
        ):
            create_account(conn, Scope.unrestricted(), actor, spec)
    engine.dispose()
    return "bench-admin", "bench-county"


def _wait(base: str, path: str = "/health", seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(base + path, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} did not come up")
        time.sleep(0.3)


def _token(base: str, username: str) -> str:
    response = httpx.post(
        base + "/api/v1/auth/token",
        data={"username": username, "password": PASSWORD},
        timeout=60,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}


def _ms(found: re.Match[str] | None) -> float:
    """A wrk duration in ms; NaN where wrk printed none (every request timed out)."""
    parsed = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", found.group(1)) if found else None
    return float(parsed.group(1)) * _UNITS[parsed.group(2)] if parsed else float("nan")


def wrk(url: str, token: str | None, connections: int, seconds: float) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms), non-2xx and socket errors of one wrk run."""
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:.0f}s", "--latency"]
    cmd += ["--timeout", "10s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored: the "+/- Stdev" column of the thread stats also prints percentages.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M))
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M))
    if p50 != p50 or p99 != p99:  # NaN: show what wrk printed
        print(out, file=sys.stderr)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "errors": float(sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1))))
        if socket_errors
        else 0.0,
    }


def _serve(cmd: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="gridsafe serve --workers")
    parser.add_argument("--data", type=Path, default=DEMO_DIR, help="dataset to load")
    parser.add_argument("--seconds", type=float, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gap-requests", type=int, default=20)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="gridsafe-serving-"))
    work.chmod(0o755)  # the server runs as an unprivileged user when we are root
    server = LocalServer(work / "pg", durable=False)
    service = static = None
    try:
        url = server.start()
        engine = create_engine(url)
        actor = Actor.system("bench:serving")
        prepare(engine, REFERENCE_DIR, actor=actor)
        t0 = time.perf_counter()
        load_dataset_once(engine, args.data, actor=actor)
        print(f"loaded {args.data} in {time.perf_counter() - t0:.1f} s", flush=True)
        engine.dispose()
        admin, county = _accounts(url)

        port, static_port = _free_port(), _free_port()
        env = {
            **os.environ,
            "GRIDSAFE_DATABASE_URL": url,
            "GRIDSAFE_MODE": "development",
            # The service refuses to start without a real signing key (a throwaway one here).
            "GRIDSAFE_SECRET_KEY": secrets.token_urlsafe(48),
        }
        cmd = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(port)]
        if args.workers != 1:
            cmd += ["--workers", str(args.workers)]
        service = _serve(cmd, env, ROOT)
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        token = _token(base, admin)
        body = httpx.get(
            base + LAYER_PATH, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ).content
        (work / "body.json").write_bytes(body)
        static_env = {**os.environ, "GRIDSAFE_BENCH_BODY": str(work / "body.json")}
        static = _serve(
            [sys.executable, "-m", "uvicorn", "bench.static_app:app", "--port", str(static_port)]
            + ["--log-level", "warning", "--workers", str(args.workers)],
            static_env,
            Path(__file__).resolve().parents[1],
        )
        static_base = f"http://127.0.0.1:{static_port}"
        _wait(static_base, LAYER_PATH)

        print(f"\nbody {len(body)} bytes; workers {args.workers}; load average {os.getloadavg()}")
        print("\n| run | server | conns | requests/s | p50 ms | p99 ms | non-2xx | socket errors |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        ratios: dict[int, list[float]] = {10: [], 50: []}
        for rnd in range(1, args.rounds + 1):
            for conns in (10, 50):
                figures = {}
                for name, target, tok in (
                    ("static", static_base, None),
                    ("gridsafe", base, token),
                ):
                    r = wrk(target + LAYER_PATH, tok, conns, args.seconds)
                    figures[name] = r
                    print(
                        f"| {rnd} | {name} | {conns} | {r['rate']:.0f} | {r['p50']:.1f} | "
                        f"{r['p99']:.1f} | {r['non2xx']:.0f} | {r['errors']:.0f} |",
                        flush=True,
                    )
                ratios[conns].append(figures["gridsafe"]["rate"] / figures["static"]["rate"])
        for conns, values in ratios.items():
            shown = ", ".join(f"{v:.1%}" for v in values)
            print(f"\ngridsafe / static throughput at {conns} connections: {shown}")
        print(f"load average after the layer runs: {os.getloadavg()}")

        county_token = _token(base, county)
        headers = {"Authorization": f"Bearer {county_token}"}
        times = []
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for _ in range(args.gap_requests):
                t0 = time.perf_counter()
                response = client.get("/api/v1/gaps/summary", params={"as_of": "2024-12-31"})
                times.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
        villages = len(response.json()["villages"])
        warm = times[1:]
        print(
            f"\ngaps/summary as the county office ({villages} villages): cold {times[0]:.0f} ms; "
            f"warm p50 {statistics.median(warm):.1f} ms, max {max(warm):.1f} ms "
            f"({len(warm)} requests; load average {os.getloadavg()})"
        )
        return 0
    finally:
        _stop(static)
        _stop(service)
        server.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

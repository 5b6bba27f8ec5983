"""Memory of 40 parallel sign-ins: the bounded argon2 pool against an unbounded one, same run.

Run: ``.venv/bin/python -m bench.bench_sign_in [--parallel 40] [--rounds 2] [--bound 2]``.
Starts its own throwaway PostGIS cluster with the demo town and one account per parallel user,
then, alternating, ``gridsafe serve`` with hashing bounded (``gis.auth.HASH_CONCURRENCY``) and
with the bound lifted to ``--parallel`` (the baseline: what the 40-thread pool allowed before).
Each user signs in from its own loopback address (127.0.0.x) to its own account, so neither the
per-address throttle nor the per-account row lock serialises the burst: only the hashing bound
does. Reports the server's resident memory before the burst and its peak (VmHWM), and the burst's
wall time. Loopback only; cleans up after itself.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert

from bench.load_test import _free_port
from data import DEMO_DIR, REFERENCE_DIR
from gis.access import Role
from gis.auth import hash_password
from gis.db.access_models import Account
from gis.db.bootstrap import load_dataset_once, prepare
from gis.db.local_server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-sign-in-Pa55phrase"
TOWN = "411003101000"
LAUNCH = (
    "import sys, gis.auth; gis.auth.HASH_CONCURRENCY = int(sys.argv[1]); "
    "from api.cli import main; sys.exit(main(sys.argv[2:]))"
)


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _sign_in(base: str, i: int) -> int:
    # Its own source address per user: the throttle counts per address.
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + i}")
    with httpx.Client(transport=transport, timeout=120) as client:
        response = client.post(
            f"{base}/api/v1/auth/token", data={"username": f"bench-{i}", "password": PASSWORD}
        )
    return response.status_code


def _one_run(url: str, bound: int, parallel: int) -> dict[str, float]:
    port = _free_port()
    env = {
        **os.environ,
        "GRIDSAFE_DATABASE_URL": url,
        "GRIDSAFE_MODE": "development",
        "GRIDSAFE_SECRET_KEY": secrets.token_hex(32),
    }
    argv = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    service = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(bound), *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert _sign_in(base, parallel) == 200  # warm-up: imports, pools, one hash
        idle = _kib(service.pid, "VmRSS")
        start = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            codes = list(pool.map(lambda i: _sign_in(base, i), range(parallel)))
        seconds = time.perf_counter() - start
        assert codes == [200] * parallel, codes
        peak = _kib(service.pid, "VmHWM")
        return {"idle_mib": idle / 1024, "peak_mib": peak / 1024, "seconds": seconds}
    finally:
        service.terminate()
        service.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bound", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridsafe-signin-"))
    work.chmod(0o755)  # the server runs as an unprivileged user when we are root
    server = LocalServer(work / "pg", durable=False)
    try:
        url = server.start()
        engine = create_engine(url)
        prepare(engine, REFERENCE_DIR)
        load_dataset_once(engine, DEMO_DIR)
        digest = hash_password(PASSWORD)
        with engine.begin() as conn:
            conn.execute(
                insert(Account),
                [
                    {
                        "username": f"bench-{i}",
                        "password_hash": digest,
                        "role": Role.TOWN_ADMIN,
                        "town_code": TOWN,
                        "active": True,
                        "is_demo": False,
                        "token_version": 0,
                        "failed_logins": 0,
                    }
                    for i in range(args.parallel + 1)
                ],
            )
        engine.dispose()
        print("| run | hashing bound | RSS before (MiB) | peak RSS (MiB) | burst (s) |")
        print("|---|---|---|---|---|")
        for r in range(args.rounds):
            for label, bound in (("baseline", args.parallel), ("bounded", args.bound)):
                m = _one_run(url, bound, args.parallel)
                print(
                    f"| {r + 1} {label} | {bound} | {m['idle_mib']:.0f} | {m['peak_mib']:.0f} "
                    f"| {m['seconds']:.2f} |",
                    flush=True,
                )
        return 0
    finally:
        server.destroy()


if __name__ == "__main__":
    raise SystemExit(main())

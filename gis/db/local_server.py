"""The embedded PostgreSQL + PostGIS + pgRouting cluster gridsafe runs when no URL is configured.

The same mechanism serves ``gridsafe demo``/``gridsafe db …`` and the test suite (which asks for a
throwaway cluster in a temporary directory with durability switched off).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from gis.errors import EmbeddedDatabaseError

PG_MAJOR = "15"
DEBIAN_PACKAGES = (
    f"postgresql-{PG_MAJOR}",
    f"postgresql-{PG_MAJOR}-postgis-3",
    f"postgresql-{PG_MAJOR}-pgrouting",
)
INSTALL_COMMAND = (
    "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "
    "--no-install-recommends " + " ".join(DEBIAN_PACKAGES)
)
EXTENSIONS = ("postgis", "pgrouting")
SUPERUSER = "gridsafe"
DATABASE = "gridsafe"
# PostgreSQL refuses to run as root; as root we run the server as this system user.
SERVICE_USER_CANDIDATES = ("postgres", "gridsafe")


def _log(message: str) -> None:
    print(f"[gridsafe db] {message}", file=sys.stderr, flush=True)


def find_bindir() -> Path | None:
    """The bin directory of the newest installed PostgreSQL server, preferring version 15."""
    preferred = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
    if (preferred / "pg_ctl").exists():
        return preferred
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _sharedir(bindir: Path) -> Path:
    return Path("/usr/share/postgresql") / bindir.parent.name


def missing_extensions(bindir: Path) -> list[str]:
    """Extensions whose control files the server installation lacks."""
    ext_dir = _sharedir(bindir) / "extension"
    return [name for name in EXTENSIONS if not (ext_dir / f"{name}.control").exists()]


def ensure_installed() -> Path:
    """Make sure PostgreSQL with PostGIS and pgRouting is installed; return its bin directory.

    As root, installs the Debian packages; otherwise raises with the exact command to run.
    """
    bindir = find_bindir()
    if bindir is not None and not missing_extensions(bindir):
        return bindir
    if os.geteuid() != 0:
        raise EmbeddedDatabaseError(
            "PostgreSQL 15 with PostGIS and pgRouting is not installed. Run:\n  " + INSTALL_COMMAND
        )
    _log("installing " + " ".join(DEBIAN_PACKAGES) + " from Debian packages (once)")
    # Debian would otherwise create and start a system-wide 'main' cluster we do not use.
    conf = Path("/etc/postgresql-common/createcluster.conf")
    conf.parent.mkdir(parents=True, exist_ok=True)
    if "create_main_cluster = false" not in (conf.read_text() if conf.exists() else ""):
        with conf.open("a") as fh:
            fh.write("\ncreate_main_cluster = false\n")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *DEBIAN_PACKAGES],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise EmbeddedDatabaseError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}"
            )
    bindir = find_bindir()
    if bindir is None or missing_extensions(bindir):
        raise EmbeddedDatabaseError("PostgreSQL packages installed but the server is still missing")
    return bindir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    """Whether the server could listen on ``port`` again.

    PostgreSQL binds with SO_REUSEADDR, so a port left in TIME_WAIT by our own earlier run is
    still usable; checking without it would move a restarted server to a new port and strand
    every client holding the old URL.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _service_account() -> pwd.struct_passwd | None:
    """The unprivileged account that runs the server when we are root (None when not root)."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_USER_CANDIDATES:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "gridsafe"],
        check=True,
    )
    return pwd.getpwnam("gridsafe")


def _traversable_by_others(path: Path) -> bool:
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            return False
    return True


class _ClusterState(TypedDict, total=False):
    """``state.json``: empty until the cluster is created."""

    user: str
    password: str
    port: int


@dataclass
class LocalServer:
    """A PostgreSQL cluster owned by gridsafe under ``root`` (cluster, log and state file).

    Parameters
    ----------
    root
        Directory for the cluster; created on first start and reused afterwards.
    durable
        False switches off fsync and friends: for throwaway test clusters only.
    """

    root: Path
    durable: bool = True

    def __post_init__(self) -> None:
        self.root = self.root.resolve()
        account = _service_account()
        # As root, the server account must be able to reach the cluster directory.
        if account is not None and not _traversable_by_others(self.root.parent):
            digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
            self.root = Path("/var/lib/gridsafe") / digest
        self._account = account

    @property
    def cluster_dir(self) -> Path:
        return self.root / "cluster"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def _state(self) -> _ClusterState:
        if not self.state_file.exists():
            return {}
        state: _ClusterState = json.loads(self.state_file.read_text())
        return state

    def _save_state(self, state: _ClusterState) -> None:
        self.state_file.write_text(json.dumps(state, indent=2))
        os.chmod(self.state_file, 0o600)

    def _run(
        self, bindir: Path, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # None (subprocess's default): run as ourselves.
        user = self._account.pw_uid if self._account is not None else None
        group = self._account.pw_gid if self._account is not None else None
        done = subprocess.run(
            [str(bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.root,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"},
            user=user,
            group=group,
        )
        if check and done.returncode != 0:
            tail = ""
            if self.log_file.exists():
                tail = "\n--- server log ---\n" + self.log_file.read_text()[-2000:]
            raise EmbeddedDatabaseError(
                f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}{tail}"
            )
        return done

    def _chown(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def initialised(self) -> bool:
        return (self.cluster_dir / "PG_VERSION").exists() and bool(self._state())

    def init(self, bindir: Path) -> None:
        """Create the cluster with a random superuser password, listening on loopback only."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        self._chown(self.root)
        if self.cluster_dir.exists():
            shutil.rmtree(self.cluster_dir)  # a half-made cluster from an interrupted init
        password = secrets.token_urlsafe(24)
        pwfile = self.root / "initdb.pw"
        pwfile.write_text(password)
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        try:
            self._run(
                bindir,
                "initdb",
                "-D",
                str(self.cluster_dir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = [
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "max_connections = 200",
            "shared_buffers = '256MB'",
            "work_mem = '32MB'",
            "maintenance_work_mem = '256MB'",
            "timezone = 'Asia/Shanghai'",
        ]
        if not self.durable:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.cluster_dir / "postgresql.conf").open("a") as fh:
            fh.write("\n# gridsafe embedded cluster\n" + "\n".join(settings) + "\n")
        self._save_state({"user": SUPERUSER, "password": password, "port": _free_port()})

    def running(self) -> bool:
        bindir = find_bindir()
        if bindir is None or not self.cluster_dir.exists():
            return False
        return (
            self._run(
                bindir, "pg_ctl", "status", "-D", str(self.cluster_dir), check=False
            ).returncode
            == 0
        )

    def url(self, database: str = DATABASE) -> str:
        state = self._state()
        if not state:
            raise EmbeddedDatabaseError(
                f"no embedded cluster under {self.root}; run `gridsafe db start`"
            )
        return (
            f"postgresql+psycopg://{state['user']}:{state['password']}"
            f"@127.0.0.1:{state['port']}/{database}"
        )

    def start(self) -> str:
        """Install if needed, create on first use, start if stopped; return the database URL."""
        bindir = ensure_installed()
        if not self.initialised():
            _log(f"creating a PostgreSQL cluster in {self.cluster_dir}")
            self.init(bindir)
        if not self.running():
            state = self._state()
            if not _port_free(int(state["port"])):
                state["port"] = _free_port()
                self._save_state(state)
            self.log_file.touch()
            self._chown(self.log_file)
            self._run(
                bindir,
                "pg_ctl",
                "start",
                "-D",
                str(self.cluster_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {state['port']}",
            )
            _log(f"PostgreSQL started on 127.0.0.1:{state['port']}")
        self._ensure_database()
        return self.url()

    def _ensure_database(self) -> None:
        import psycopg

        admin = self.url("postgres").replace("postgresql+psycopg", "postgresql")
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(admin, autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        with psycopg.connect(
            self.url().replace("postgresql+psycopg", "postgresql"), autocommit=True
        ) as conn:
            for ext in EXTENSIONS:
                conn.execute(f"CREATE EXTENSION IF NOT EXISTS {ext}")

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.running():
            return False
        bindir = find_bindir()
        assert bindir is not None
        self._run(bindir, "pg_ctl", "stop", "-D", str(self.cluster_dir), "-m", "fast", "-w")
        return True

    def status(self) -> dict[str, object]:
        state = self._state()
        return {
            "cluster": str(self.cluster_dir),
            "initialised": self.initialised(),
            "running": self.running(),
            "port": state.get("port"),
        }

    def destroy(self) -> None:
        """Stop and delete the cluster (throwaway test clusters)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

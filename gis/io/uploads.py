"""Where uploads wait while they are imported: one directory, cleared of crashed requests' files.

Each request gets its own directory under the root holding an exclusive ``flock`` on its
``.lock`` file for as long as the request runs. The kernel drops the lock when the process dies,
however it dies, so at start-up every directory whose lock can be taken belongs to a request
that will never finish and is removed; directories of requests still running in another worker
process sharing the same data directory keep their lock and are left alone.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UPLOADS_DIR = "uploads"
LOCK_NAME = ".lock"
#: A directory without its lock file may be one that is being created right now.
UNLOCKED_GRACE_S = 60.0
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def safe_name(filename: str | None, suffix: str) -> str:
    """The user's file name as a single path component (their name appears in messages)."""
    name = _UNSAFE.sub("_", Path(filename or "").name).strip().lstrip(".")
    if not name or name in (".", ".."):
        name = f"upload{suffix}"
    if len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS - len(suffix)] + suffix
    return name


class UploadArea:
    """The uploads directory (``<data_dir>/uploads``)."""

    def __init__(self, root: Path) -> None:
        # Absolute, so every path under it in an error message can be recognised and scrubbed.
        self.root = root.absolute()

    @classmethod
    def of(cls, data_dir: Path) -> UploadArea:
        return cls(data_dir / UPLOADS_DIR)

    @contextmanager
    def request_dir(self) -> Iterator[Path]:
        """A fresh locked directory for one request, removed with everything in it on exit."""
        self.root.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="req-", dir=self.root))
        fd = os.open(workdir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield workdir
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            os.close(fd)

    def clean_stale(self) -> list[Path]:
        """Remove what crashed requests left behind; the paths removed."""
        if not self.root.is_dir():
            return []
        removed = []
        now = time.time()
        for entry in self.root.iterdir():
            if not entry.is_dir() or entry.is_symlink():
                entry.unlink(missing_ok=True)
                removed.append(entry)
                continue
            try:
                fd = os.open(entry / LOCK_NAME, os.O_RDWR)
            except FileNotFoundError:
                if now - entry.stat().st_mtime > UNLOCKED_GRACE_S:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a request still running in another process
            else:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            finally:
                os.close(fd)
        return removed

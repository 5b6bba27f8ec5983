"""Per-client rate limits for the unauthenticated public report form.

A sliding window per client address, kept in process memory on the app (one counter set per
worker: with N workers a client gets at most N times the limit, which is still a limit; a shared
store is for when the form is really attacked). Staff accounts are not counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from gis.errors import TooManyRequests


class SlidingWindow:
    """At most ``limit`` events per ``window_s`` seconds for each key."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # handlers run in the thread pool

    def hit(self, key: str, now: float | None = None) -> None:
        """Count one event for ``key``, or raise ``TooManyRequests`` if it is over the limit."""
        at = time.monotonic() if now is None else now
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= at - self.window_s:
                events.popleft()
            if len(events) >= self.limit:
                retry = max(1, math.ceil(events[0] + self.window_s - at))
                raise TooManyRequests(
                    f"提交过于频繁，请 {retry} 秒后再试 (at most {self.limit} reports per "
                    f"{self.window_s:g} s from one address)",
                    retry_after_s=retry,
                )
            events.append(at)
            if len(self._events) > 100_000:  # forget idle clients rather than grow without bound
                for idle in [
                    k for k, q in self._events.items() if not q or q[-1] <= at - self.window_s
                ]:
                    del self._events[idle]

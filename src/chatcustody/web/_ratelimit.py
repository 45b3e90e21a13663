"""A per-client sliding-window limiter for logins (in memory, per API server process).

Accounts are also locked after repeated failures (in the database, shared by all servers);
this limiter slows down guessing across many accounts from one address.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final

from chatcustody.errors import RateLimitedError

_WINDOW_MS: Final[int] = 60_000
_MAX_CLIENTS: Final[int] = 100_000  # bound memory under address spraying


class RateLimiter:
    """Allow at most ``per_minute`` events per key in any 60-second window."""

    def __init__(self, per_minute: int) -> None:
        self._limit = per_minute
        self._hits: dict[str, deque[int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, at_ms: int) -> None:
        """Count one event for ``key`` or raise RateLimitedError with a Retry-After."""
        with self._lock:
            if len(self._hits) > _MAX_CLIENTS:
                self._hits.clear()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= at_ms - _WINDOW_MS:
                hits.popleft()
            if len(hits) >= self._limit:
                retry = (hits[0] + _WINDOW_MS - at_ms + 999) // 1000
                raise RateLimitedError(
                    f"too many login attempts from this address: retry in {retry} s", retry
                )
            hits.append(at_ms)

"""The one client-side rate limiter: a token bucket per process, shared by the threads of one
function, so a burst of our own calls does not run into a vendor's 429s.

Used for HubSpot's OAuth endpoints (the token check: HubSpot counts per app in a rolling 10 s
window, so after a 429 everybody waits `cool_down`) and for Airbyte's API
(AIRBYTE_MAX_REQUESTS_PER_SECOND). `per_second <= 0` means no limit.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """`per_second` calls on average, bursts of at most `burst` (default: one second's worth)."""

    def __init__(self, per_second: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.per_second = per_second
        self.burst = burst if burst is not None else max(1.0, per_second)
        self._tokens = self.burst
        self._clock, self._sleep = clock, sleep
        self._at = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()
        self.calls = 0
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one call may go out."""
        if self.per_second <= 0:
            self.calls += 1
            return
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
                self._at = now
                if now >= self._blocked_until and self._tokens >= 1.0 - 1e-9:
                    self._tokens = max(0.0, self._tokens - 1.0)
                    self.calls += 1
                    return
                delay = max(self._blocked_until - now, (1.0 - self._tokens) / self.per_second, 1e-4)
            self.waited += delay
            self._sleep(delay)

    def cool_down(self, seconds: float) -> None:
        """Nobody calls for `seconds` (the vendor answered 429)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)
            self._tokens = 0.0

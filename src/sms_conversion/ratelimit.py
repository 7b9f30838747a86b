"""Per-instance cap on calls started in any one-second window."""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline

WINDOW_SECONDS = 1.0


class Limiter(Protocol):
    def acquire(self, deadline: Deadline) -> bool:
        """Wait for a slot; False when the wait would leave no time for the call."""


class RateLimiter:
    """Sliding-window log: at most `limit` starts in any window of one second.

    A token bucket would allow a burst of `limit` at the edge of two windows;
    the API's ceiling is stated per second, so the exact window is kept. The
    log holds at most `limit` timestamps.
    """

    def __init__(self, clock: Clock, limit: int) -> None:
        self._clock = clock
        self._limit = limit
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def set_limit(self, limit: int) -> None:
        with self._lock:
            self._limit = limit

    def acquire(self, deadline: Deadline) -> bool:
        """Wait for a slot; False when the wait would leave no time for the call."""
        while True:
            with self._lock:
                now = self._clock.monotonic()
                while self._starts and self._starts[0] <= now - WINDOW_SECONDS:
                    self._starts.popleft()
                if len(self._starts) < self._limit:
                    self._starts.append(now)
                    return True
                wait = self._starts[-self._limit] + WINDOW_SECONDS - now
            if deadline.remaining() - wait < MIN_USEFUL_CALL_SECONDS:
                return False
            self._clock.sleep(wait)

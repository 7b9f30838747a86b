"""Per-instance cap on call starts: calls are paced, one every 1/SMS_MAX_RPS seconds (GCRA).

A window that lets a whole second's quota start at once is exact on *starts*
and still lets more than the limit *arrive* in some one-second window: the
first burst waits on new connections and lands together with the next
window's first calls. The generic cell rate algorithm (as in `redis-cell` and
`throttled`) paces the starts instead: each call reserves the next theoretical
arrival time, one emission interval after the previous one, and waits for it.
A reservation is one step under a lock, and a waiting call never blocks the others.
"""

from __future__ import annotations

import threading
from typing import Protocol

from . import logs
from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline


class Limiter(Protocol):
    def acquire(self, deadline: Deadline) -> bool:
        """Wait for a slot; False (and no slot taken) when the wait would leave no time for the call."""


class RateLimiter:
    """GCRA on the instance's monotonic clock: at most `limit` starts in any one-second window."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self._clock = clock
        self._interval = 1.0 / limit
        self._tat = float("-inf")  # the theoretical arrival time of the next call
        self._lock = threading.Lock()

    def set_limit(self, limit: int) -> None:
        with self._lock:
            self._interval = 1.0 / limit

    def acquire(self, deadline: Deadline) -> bool:
        with self._lock:
            now = self._clock.monotonic()
            slot = max(self._tat, now)
            wait = slot - now
            if deadline.remaining() - wait < MIN_USEFUL_CALL_SECONDS:
                return False
            self._tat = slot + self._interval
        if wait > 0:
            if logs.debugging():
                say_wait("instance", wait)
            self._clock.sleep(wait)
        return True


def say_wait(limiter: str, seconds: float) -> None:
    """The DEBUG line of a wait for a rate slot (the instance's SMS_MAX_RPS, or the fleet's SMS_FLEET_MAX_RPS)."""
    variable = "SMS_MAX_RPS" if limiter == "instance" else "SMS_FLEET_MAX_RPS"
    logs.debug(
        "rate_wait",
        f"waiting {seconds * 1000:.1f} ms for the {limiter}'s next slot ({variable})",
        limiter=limiter,
        wait_ms=round(seconds * 1000, 1),
    )

"""Time, injected: the wall clock for message rules, a monotonic clock for deadlines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

# SCF's default function timeout, used when a context carries no limit.
DEFAULT_TIME_LIMIT_MS = 3000
# Time kept back to log and answer after the last call returns.
MAX_ANSWER_MARGIN_SECONDS = 1.0
# A call with less time than this cannot usefully complete.
MIN_USEFUL_CALL_SECONDS = 0.2


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock UNIX time in seconds."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def sleep(self, seconds: float) -> None:
        """Block for `seconds`."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


def time_limit_seconds(raw: object) -> float:
    """The invocation's time limit from `context["time_limit_in_ms"]`.

    The old SCF CLI's `native invoke` passes the limit in seconds; SCF's minimum
    timeout is 1 s, so a value under 1000 can only be seconds.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return DEFAULT_TIME_LIMIT_MS / 1000
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_TIME_LIMIT_MS / 1000
    if value <= 0 or value != value:
        return DEFAULT_TIME_LIMIT_MS / 1000
    return value if value < 1000 else value / 1000


@dataclass(frozen=True)
class Deadline:
    """The moment by which all reporting must be over, on the monotonic clock."""

    clock: Clock
    at: float

    @classmethod
    def for_invocation(cls, clock: Clock, started: float, time_limit: float, reserve: float = 0.0) -> Deadline:
        """`reserve`: time kept for work after the last call (marking it done in Redis, say)."""
        margin = min(MAX_ANSWER_MARGIN_SECONDS, time_limit * 0.1) + reserve
        return cls(clock, started + time_limit - margin)

    def remaining(self) -> float:
        return self.at - self.clock.monotonic()

    def allows_call(self) -> bool:
        return self.remaining() >= MIN_USEFUL_CALL_SECONDS

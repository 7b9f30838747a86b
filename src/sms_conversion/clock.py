"""Time, injected: the wall clock for message rules, a monotonic clock for deadlines."""

from __future__ import annotations

import math
import time
from typing import Protocol

# SCF's default function timeout, used when a context carries no usable limit.
DEFAULT_TIME_LIMIT_MS = 3000
# SCF's longest limit (asynchronous invocations may run 24 h); anything above is not a real limit.
MAX_TIME_LIMIT_SECONDS = 86_400.0
# Time kept back to log and answer after the last call returns: a share of the limit...
MAX_ANSWER_MARGIN_SECONDS = 1.0
ANSWER_MARGIN_SHARE = 0.1
# ...plus the wind-down of the batch in hand: outcome, log line and summary per message
# (10,000 records took ~0.6 s to wind down; 0.1 ms each leaves room on a busy instance).
WIND_DOWN_SECONDS_PER_MESSAGE = 0.0001
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

    Anything that is not a finite positive number (a missing key, `"inf"`, `1e400`,
    a boolean) is ignored like a missing limit. The old SCF CLI's `native invoke`
    passes the limit in seconds; SCF's minimum timeout is 1 s, so a value under
    1000 can only be seconds.
    """
    default = DEFAULT_TIME_LIMIT_MS / 1000
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return default
    try:
        value = float(raw)
    except (ValueError, OverflowError):
        return default
    if not math.isfinite(value) or value <= 0:
        return default
    seconds = value if value < 1000 else value / 1000
    return min(seconds, MAX_TIME_LIMIT_SECONDS)


class Deadline:
    """When reporting must be over (`at`) and when the platform ends the invocation (`ends_at`)."""

    __slots__ = ("at", "clock", "ends_at")

    def __init__(self, clock: Clock, at: float, ends_at: float) -> None:
        self.clock = clock
        self.at = at
        self.ends_at = ends_at

    @classmethod
    def for_invocation(
        cls, clock: Clock, started: float, time_limit: float, reserve: float = 0.0, messages: int = 0
    ) -> Deadline:
        """`reserve`: time kept for work after the last call (marking it done in Redis, say);
        `messages`: how many messages the invocation holds, whose wind-down needs time too."""
        margin = (
            min(MAX_ANSWER_MARGIN_SECONDS, time_limit * ANSWER_MARGIN_SHARE)
            + reserve
            + messages * WIND_DOWN_SECONDS_PER_MESSAGE
        )
        return cls(clock, started + time_limit - margin, started + time_limit)

    def remaining(self) -> float:
        return self.at - self.clock.monotonic()

    def until_end(self) -> float:
        """Seconds until the platform would stop the invocation."""
        return self.ends_at - self.clock.monotonic()

    def allows_call(self) -> bool:
        return self.remaining() >= MIN_USEFUL_CALL_SECONDS

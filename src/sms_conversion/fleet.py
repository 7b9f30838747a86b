"""A rate limit shared by every instance: at most SMS_FLEET_MAX_RPS calls started in any one-second window.

One Lua script, one round trip per acquire: it drops the starts older than the
window from a sorted set, and either records this start or answers how long to
wait for the oldest to leave. Time is Redis's own (`TIME`), so the instances'
clocks never disagree about the window. No library: `limits`' moving window
answers only yes or no, so learning when to retry would take a second round
trip per refusal, and it would add four packages to the function's zip.

When Redis fails, the per-instance limit (which always applies) is all that
is left: the limiter says so once per invocation and lets calls through.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from typing import Any

from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline
from .logs import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)

FLEET_KEY = "sms-report-conversion:fleet-rate"
WINDOW_MS = 1000

# KEYS[1]: the window's sorted set. ARGV: limit, window in ms, a unique member.
# Returns 0 when this start is recorded, or the milliseconds until a slot frees.
_ACQUIRE_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now_ms)
"""


class FleetLimiter:
    """One per invocation (so "Redis is down" is said once per invocation), sharing the instance's client."""

    def __init__(self, client: Any, limit: int, clock: Clock, key: str = FLEET_KEY) -> None:
        import redis

        self._script = client.register_script(_ACQUIRE_SCRIPT)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._limit = limit
        self._clock = clock
        self._key = key
        self._prefix = uuid.uuid4().hex
        self._counter = itertools.count()
        self._down = False
        self._lock = threading.Lock()

    def acquire(self, deadline: Deadline) -> bool:
        """Wait for a fleet-wide slot; False when the wait would leave no time for the call."""
        while not self._down:
            try:
                wait_ms = int(self._script(keys=[self._key], args=[self._limit, WINDOW_MS, self._member()]))
            except self._errors as exc:
                self._fall_back(type(exc).__name__)
                break
            if wait_ms <= 0:
                return True
            wait = wait_ms / 1000
            if deadline.remaining() - wait < MIN_USEFUL_CALL_SECONDS:
                return False
            self._clock.sleep(wait)
        return True

    def _member(self) -> str:
        return f"{self._prefix}:{next(self._counter)}"

    def _fall_back(self, reason: str) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        logger.warning(
            "fleet rate limit unavailable: only the per-instance limit applies for the rest of this invocation",
            extra={"event": "fleet_limit_unavailable", "reason": reason},
        )

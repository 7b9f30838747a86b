"""A rate limit shared by every instance: calls paced fleet-wide, one every 1/SMS_FLEET_MAX_RPS seconds.

GCRA in one Lua script on one Redis key holding the fleet's theoretical
arrival time (TAT), one round trip per call: the script reserves the next slot
(one emission interval after the last one reserved by any instance) and
answers how long to wait for it, or refuses without reserving when the wait
would not leave time for the call. Time is Redis's own (`TIME`), so the
instances' clocks never disagree. Pacing the starts, rather than counting a
second's worth at once, is what keeps *arrivals* at the API under the limit in
every one-second window (docs/behaviour.md#rate-the-instance-and-the-fleet). No library: `limits` answers only
yes or no (a second round trip per refusal) and would add four packages to the zip.

When Redis fails, or answers what the script cannot return, the per-instance
limit (which always applies) is all that is left: the limiter says so once per
invocation and lets calls through. The script is sent with EVAL, its one key in
KEYS (see redislink for what Tencent's Redis and its cluster proxy accept).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from . import logs
from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline
from .logs import LOGGER_NAME
from .ratelimit import say_wait
from .redislink import RedisLink, RedisUnavailable, unexpected_reply

logger = logging.getLogger(LOGGER_NAME)

FLEET_KEY = "sms-report-conversion:fleet-tat"

# KEYS[1]: the fleet's TAT in microseconds. ARGV: emission interval, longest acceptable wait (both µs).
# Returns the microseconds to wait for the reserved slot, or -1 when none was reserved.
# redis.replicate_commands(): Redis 4.0 (which Tencent sold) refuses a write after TIME without it; a no-op later.
_ACQUIRE_SCRIPT = """
redis.replicate_commands()
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return -1 end
local next_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
return wait
"""


class FleetLimiter:
    """One per invocation (so "Redis is down" is said once per invocation), sharing the instance's client."""

    def __init__(self, link: RedisLink, limit: int, clock: Clock, key: str = FLEET_KEY) -> None:
        self._link = link
        self._interval_us = max(1, round(1_000_000 / limit))
        self._clock = clock
        self._key = key
        self._down = False
        self._lock = threading.Lock()

    def acquire(self, deadline: Deadline) -> bool:
        """Reserve the fleet's next slot and wait for it; False when the wait would leave no time for the call."""
        if self._down:
            return True
        max_wait_us = int(max(0.0, deadline.remaining() - MIN_USEFUL_CALL_SECONDS) * 1_000_000)
        try:
            wait_us = self._link.run("fleet slot", deadline.remaining(), self._reserve(max_wait_us))
            if type(wait_us) is not int:
                raise unexpected_reply("fleet slot", wait_us)
        except RedisUnavailable as exc:
            self._fall_back(exc.reason)
            return True
        if wait_us < 0:
            return False
        if wait_us > 0:
            if logs.debugging():
                say_wait("fleet", wait_us / 1_000_000)
            self._clock.sleep(wait_us / 1_000_000)
        return True

    def _reserve(self, max_wait_us: int) -> Callable[[Any], Any]:
        return lambda client: client.eval(_ACQUIRE_SCRIPT, 1, self._key, self._interval_us, max_wait_us)

    def _fall_back(self, reason: str) -> None:
        with self._lock:
            if self._down:
                return
            self._down = True
        logger.warning(
            "fleet rate limit unavailable: only the per-instance limit applies for the rest of this invocation",
            extra={"event": "fleet_limit_unavailable", "reason": reason},
        )

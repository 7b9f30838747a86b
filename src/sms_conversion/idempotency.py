"""Never report a conversion twice: in-progress / completed records per (SmsSdkAppId, SerialNo).

The flow follows Powertools' idempotency utility: a conditional write marks a
key in progress with an expiry tied to the invocation's deadline (so a crashed
invocation frees it), success stores it as completed for the TTL, and a
failure deletes it so a redelivery tries again. A key in progress elsewhere is
not a duplicate: the other attempt may still fail.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from . import codes, logs
from .clock import Clock, Deadline
from .logs import LOGGER_NAME
from .outcome import Outcome, Status, duplicate, not_attempted
from .redislink import RedisLink, RedisUnavailable, unexpected_reply

logger = logging.getLogger(LOGGER_NAME)

KEY_PREFIX = "sms-report-conversion:"
COMPLETED = "completed"
DEFAULT_MEMORY_ENTRIES = 100_000


class Claim(enum.Enum):
    ACQUIRED = "acquired"
    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"
    # The store could not be asked: report anyway, a duplicate beats a lost conversion.
    UNAVAILABLE = "unavailable"


class StoreUnavailable(Exception):
    """The shared store did not answer."""


class IdempotencyStore(Protocol):
    """`budget_seconds`: how long the operation may take, every step included (a store in memory ignores it)."""

    def claim(self, key: str, token: str, in_progress_ms: int, budget_seconds: float) -> Claim: ...

    def complete(self, key: str, ttl_seconds: int, budget_seconds: float) -> None: ...

    def release(self, key: str, token: str, budget_seconds: float) -> None: ...


def store_key(conversion_key: str) -> str:
    # Hashed so that any SerialNo makes a short, safe key.
    return KEY_PREFIX + hashlib.sha256(conversion_key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def new_token() -> str:
    return uuid.uuid4().hex


class MemoryStore:
    """Per warm instance, bounded: the oldest entries go first when full."""

    def __init__(self, clock: Clock, max_entries: int = DEFAULT_MEMORY_ENTRIES) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: str, token: str, in_progress_ms: int, budget_seconds: float = 0.0) -> Claim:
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] > now:
                return Claim.COMPLETED if entry[0] == COMPLETED else Claim.IN_PROGRESS
            self._put(key, token, now + in_progress_ms / 1000)
            return Claim.ACQUIRED

    def complete(self, key: str, ttl_seconds: int, budget_seconds: float = 0.0) -> None:
        with self._lock:
            self._put(key, COMPLETED, self._clock.monotonic() + ttl_seconds)

    def release(self, key: str, token: str, budget_seconds: float = 0.0) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == token:
                del self._entries[key]

    def _put(self, key: str, value: str, expires: float) -> None:
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


# One round trip: mark the key in progress for ARGV[2] ms unless it is marked already; answer what it holds.
# Sent with EVAL (see redislink): the one key is in KEYS, only `local` values, nothing global.
_CLAIM_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 'acquired'
end
return current
"""

# Delete only our own in-progress mark: after an expiry another invocation may own the key.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisStore:
    """Shared by every instance. Any Redis failure, or a reply no Redis gives, surfaces as StoreUnavailable."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    @classmethod
    def from_url(cls, url: str, timeout_seconds: float) -> RedisStore:
        return cls(RedisLink.from_url(url, timeout_seconds))

    def claim(self, key: str, token: str, in_progress_ms: int, budget_seconds: float) -> Claim:
        reply = self._run(
            "claim", budget_seconds, lambda r: r.eval(_CLAIM_SCRIPT, 1, key, token, max(1, in_progress_ms))
        )
        if not isinstance(reply, str):
            raise StoreUnavailable(unexpected_reply("claim", reply).reason)
        if reply == "acquired":
            return Claim.ACQUIRED
        return Claim.COMPLETED if reply == COMPLETED else Claim.IN_PROGRESS

    def complete(self, key: str, ttl_seconds: int, budget_seconds: float) -> None:
        reply = self._run("complete", budget_seconds, lambda r: r.set(key, COMPLETED, ex=max(1, ttl_seconds)))
        if reply is not True:
            raise StoreUnavailable(unexpected_reply("complete", reply).reason)

    def release(self, key: str, token: str, budget_seconds: float) -> None:
        reply = self._run("release", budget_seconds, lambda r: r.eval(_RELEASE_SCRIPT, 1, key, token))
        if type(reply) is not int:
            raise StoreUnavailable(unexpected_reply("release", reply).reason)

    def _run(self, operation: str, budget_seconds: float, command: Callable[[Any], Any]) -> Any:
        try:
            return self.link.run(operation, budget_seconds, command)
        except RedisUnavailable as exc:
            raise StoreUnavailable(exc.reason) from None


class IdempotencyGuard:
    """The whole protocol for one conversion, owned in one place (Powertools' IdempotencyHandler): claim the
    key in progress, make the call, then mark it completed if reported or release it otherwise, whatever the
    call did. A store that fails is asked no more for the rest of the run, said once: a duplicate report is
    better than a lost conversion.
    """

    def __init__(self, store: IdempotencyStore | None, ttl_seconds: int) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._down = threading.Event()
        self._lock = threading.Lock()

    def run(
        self, conversion_key: str, claim_seconds: float, deadline: Deadline, call: Callable[[], Outcome]
    ) -> Outcome:
        """`call`'s outcome, or a duplicate / in-progress one without calling. `claim_seconds`: how long the
        in-progress mark lasts (until the invocation can no longer report: no other instance reports it
        meanwhile, and a crashed invocation blocks a redelivery no longer). The claim must be over by the
        deadline; marking it done or releasing it afterwards has the time the deadline keeps back for it."""
        key, token = store_key(conversion_key), new_token()
        claimed = self._claim(key, token, claim_seconds, deadline.remaining())
        if logs.debugging():
            _say(conversion_key, claimed.value, f"for {claim_seconds:.1f} s" if claimed is Claim.ACQUIRED else "")
        if claimed is Claim.COMPLETED:
            return duplicate("already reported within the idempotency TTL")
        if claimed is Claim.IN_PROGRESS:
            return not_attempted("another invocation is reporting this SerialNo now", code=codes.IN_PROGRESS)
        outcome: Outcome | None = None
        try:
            outcome = call()
            return outcome
        finally:
            if claimed is Claim.ACQUIRED:
                self._settle(conversion_key, token, outcome, deadline.until_end())

    def _claim(self, key: str, token: str, claim_seconds: float, budget: float) -> Claim:
        if self._store is None or self._down.is_set():
            return Claim.UNAVAILABLE
        try:
            return self._store.claim(key, token, int(claim_seconds * 1000), budget)
        except Exception as exc:  # StoreUnavailable, or anything else a store may raise: never fail for it
            self._degrade(exc)
            return Claim.UNAVAILABLE

    def _settle(self, conversion_key: str, token: str, outcome: Outcome | None, budget: float) -> None:
        if self._store is None or self._down.is_set():
            return
        key = store_key(conversion_key)
        try:
            if outcome is not None and outcome.status is Status.REPORTED:
                self._store.complete(key, self._ttl, budget)
                settled = "completed"
            else:
                self._store.release(key, token, budget)
                settled = "released"
        except Exception as exc:
            self._degrade(exc)
            return
        if logs.debugging():
            _say(conversion_key, settled, f"for {self._ttl} s" if settled == "completed" else "")

    def _degrade(self, exc: Exception) -> None:
        with self._lock:
            if self._down.is_set():
                return
            self._down.set()
        logger.warning(
            "idempotency store unavailable: reporting without duplicate protection for the rest of this invocation",
            extra={
                "event": "idempotency_unavailable",
                "reason": str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__,
            },
        )


def _say(conversion_key: str, claim: str, detail: str) -> None:
    app_id, _, serial_no = conversion_key.partition(":")
    logs.debug(
        "idempotency",
        f"idempotency {claim}: {serial_no}{' ' + detail if detail else ''}",
        claim=claim,
        serial_no=serial_no,
        sms_sdk_app_id=app_id,
    )

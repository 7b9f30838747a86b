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

from . import codes
from .clock import Clock
from .logs import LOGGER_NAME
from .outcome import Outcome, Status, duplicate, not_attempted

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
    def claim(self, key: str, token: str, in_progress_ms: int) -> Claim: ...

    def complete(self, key: str, ttl_seconds: int) -> None: ...

    def release(self, key: str, token: str) -> None: ...


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

    def claim(self, key: str, token: str, in_progress_ms: int) -> Claim:
        now = self._clock.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] > now:
                return Claim.COMPLETED if entry[0] == COMPLETED else Claim.IN_PROGRESS
            self._put(key, token, now + in_progress_ms / 1000)
            return Claim.ACQUIRED

    def complete(self, key: str, ttl_seconds: int) -> None:
        with self._lock:
            self._put(key, COMPLETED, self._clock.monotonic() + ttl_seconds)

    def release(self, key: str, token: str) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == token:
                del self._entries[key]

    def _put(self, key: str, value: str, expires: float) -> None:
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


# Delete only our own in-progress mark: after an expiry another invocation may own the key.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def redis_client(url: str, timeout_seconds: float) -> Any:
    """A Redis client whose every command ends within `timeout_seconds`. Imported here, not at
    module load: Redis costs no cold start unless REDIS_URL is set."""
    import redis

    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry_on_timeout=False,
        decode_responses=True,
        health_check_interval=30,
    )


class RedisStore:
    """Shared by every instance. Any Redis failure surfaces as StoreUnavailable."""

    def __init__(self, client: Any) -> None:
        import redis

        self.client = client
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._release = client.register_script(_RELEASE_SCRIPT)

    @classmethod
    def from_url(cls, url: str, timeout_seconds: float) -> RedisStore:
        return cls(redis_client(url, timeout_seconds))

    def claim(self, key: str, token: str, in_progress_ms: int) -> Claim:
        try:
            for _ in range(3):
                if self.client.set(key, token, nx=True, px=max(1, in_progress_ms)):
                    return Claim.ACQUIRED
                current = self.client.get(key)
                if current == COMPLETED:
                    return Claim.COMPLETED
                if current is not None:
                    return Claim.IN_PROGRESS
                # Expired between SET and GET: try to take it again.
            return Claim.IN_PROGRESS
        except self._errors as exc:
            raise StoreUnavailable(type(exc).__name__) from None

    def complete(self, key: str, ttl_seconds: int) -> None:
        try:
            self.client.set(key, COMPLETED, ex=max(1, ttl_seconds))
        except self._errors as exc:
            raise StoreUnavailable(type(exc).__name__) from None

    def release(self, key: str, token: str) -> None:
        try:
            self._release(keys=[key], args=[token])
        except self._errors as exc:
            raise StoreUnavailable(type(exc).__name__) from None


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

    def run(self, conversion_key: str, claim_seconds: float, call: Callable[[], Outcome]) -> Outcome:
        """`call`'s outcome, or a duplicate / in-progress one without calling. `claim_seconds`: how long the
        in-progress mark lasts (past the end of the invocation: no other instance reports it meanwhile; soon
        after it: a crashed invocation never blocks a redelivery for long)."""
        key, token = store_key(conversion_key), new_token()
        claimed = self._claim(key, token, claim_seconds)
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
                self._settle(key, token, outcome)

    def _claim(self, key: str, token: str, claim_seconds: float) -> Claim:
        if self._store is None or self._down.is_set():
            return Claim.UNAVAILABLE
        try:
            return self._store.claim(key, token, int(claim_seconds * 1000))
        except Exception as exc:  # StoreUnavailable, or anything else a store may raise: never fail for it
            self._degrade(exc)
            return Claim.UNAVAILABLE

    def _settle(self, key: str, token: str, outcome: Outcome | None) -> None:
        if self._store is None or self._down.is_set():
            return
        try:
            if outcome is not None and outcome.status is Status.REPORTED:
                self._store.complete(key, self._ttl)
            else:
                self._store.release(key, token)
        except Exception as exc:
            self._degrade(exc)

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

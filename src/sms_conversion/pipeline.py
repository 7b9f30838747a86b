"""The reporting pipeline every entry point goes through: allowlist, idempotency, deployment faults, rate, call.

The HTTP, queue and direct flows and the backfill all hand it `Conversion`
objects and read back each one's `outcome`: no path reports a message without
its policies. One owner per protocol, as in Powertools' idempotency handler:
claim → call → complete, or release on any failure, in `_report_one`.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from . import codes
from .clock import Deadline
from .faults import Breaker, FaultMemory
from .idempotency import Claim, IdempotencyStore, StoreUnavailable, new_token, store_key
from .logs import LOGGER_NAME, safe_traceback
from .message import ConversionMessage
from .outcome import (
    DeploymentFault,
    Outcome,
    Status,
    duplicate,
    not_allowed,
    not_attempted,
    stopped_by,
    unexpected,
)
from .reporter import ConversionReporter, CredentialSource
from .settings import Settings

logger = logging.getLogger(LOGGER_NAME)
IN_PROGRESS_GRACE_SECONDS = 1.0


class Conversion:
    """One message on its way through the pipeline, and, once reported, what happened to it.

    `origin` is whatever the caller needs to find it again (a queue record's coordinates, a
    backfill row); the pipeline never reads it.
    """

    __slots__ = ("item", "message", "origin", "outcome")

    def __init__(self, message: ConversionMessage, origin: Any = None, item: int | None = None) -> None:
        self.message = message
        self.origin = origin
        self.item = item
        self.outcome: Outcome | None = None


class AppPolicy(NamedTuple):
    """Which app ids this function reports for, and which are the operator's own."""

    allowed: frozenset[str] | None
    default_app_id: str | None

    @classmethod
    def of(cls, settings: Settings) -> AppPolicy:
        return cls(settings.allowed_app_ids, settings.SMS_SDK_APP_ID)

    def allows(self, app_id: str) -> bool:
        return self.allowed is None or app_id in self.allowed

    def is_own(self, app_id: str) -> bool:
        """The operator's app: listed in SMS_ALLOWED_SDK_APP_IDS, or SMS_SDK_APP_ID (the default)."""
        return (self.allowed is not None and app_id in self.allowed) or app_id == self.default_app_id

    def refused(self, messages: Sequence[ConversionMessage]) -> list[int]:
        """Indexes of the messages the allowlist refuses."""
        return [index for index, message in enumerate(messages) if not self.allows(message.SmsSdkAppId)]


OnOutcome = Callable[[Conversion], None]


class _Run:
    __slots__ = ("breaker", "deadline", "lock", "on_outcome", "queue", "stop")

    def __init__(
        self, deadline: Deadline, breaker: Breaker, on_outcome: OnOutcome | None, stop: threading.Event | None
    ) -> None:
        self.deadline = deadline
        self.breaker = breaker
        self.on_outcome = on_outcome
        self.stop = stop
        self.queue: deque[Conversion] = deque()
        self.lock = threading.Lock()

    def next(self) -> Conversion | None:
        with self.lock:
            if not self.queue or (self.stop is not None and self.stop.is_set()):
                return None
            return self.queue.popleft()


class ReportingPipeline:
    """One per invocation (or backfill run): its store falls back once, its breaker trips once."""

    def __init__(
        self,
        reporter: ConversionReporter,
        credential: CredentialSource,
        policy: AppPolicy,
        store: IdempotencyStore | None,
        ttl_seconds: int,
        concurrency: int,
        memory: FaultMemory,
    ) -> None:
        self._reporter = reporter
        self._credential = credential
        self.policy = policy
        self._store = store
        self._ttl = ttl_seconds
        self._concurrency = concurrency
        self._memory = memory
        self._store_down = threading.Event()
        self._degrade_lock = threading.Lock()

    def report(
        self,
        conversions: Iterable[Conversion],
        deadline: Deadline,
        on_outcome: OnOutcome | None = None,
        stop: threading.Event | None = None,
    ) -> list[DeploymentFault]:
        """Give every conversion its outcome; the deployment faults met, in the order they tripped.

        `on_outcome` is called (from a worker thread) as each outcome arrives; once `stop` is set no
        further call starts and what was not reached keeps `outcome` None. Raises
        MissingCredentialsError before any call when there are no credentials at all.
        """
        run = _Run(deadline, Breaker(self._memory), on_outcome, stop)
        first_of: dict[str, Conversion] = {}
        copies: list[tuple[Conversion, Conversion]] = []
        for conversion in conversions:
            if not self.policy.allows(conversion.message.SmsSdkAppId):
                self._settle(run, conversion, not_allowed())
                continue
            first = first_of.setdefault(conversion.message.key, conversion)
            if first is conversion:
                run.queue.append(conversion)
            else:
                copies.append((conversion, first))
        if run.queue:
            self._credential.get_credential_info()
            self._probe(run)
            self._fan_out(run)
        for conversion, first in copies:
            # A copy shares its first occurrence's fate; "duplicate" only when that one is reported.
            if first.outcome is not None:
                shared = first.outcome
                if shared.ok:
                    shared = duplicate("same SmsSdkAppId and SerialNo as an earlier message of this batch")
                self._settle(run, conversion, shared)
        return run.breaker.faults

    # ---- deployment faults remembered from earlier invocations ------------------------------------

    def _probe(self, run: _Run) -> None:
        """One call first for each fault the warm instance remembers; the rest fan out only if it got through."""
        remembered = self._memory.account_fault()
        if remembered is not None and run.queue:
            self._probe_one(run, run.queue[0], remembered)
        for app_id in dict.fromkeys(conversion.message.SmsSdkAppId for conversion in run.queue):
            remembered = self._memory.app_fault(app_id)
            if remembered is not None and run.breaker.blocking(app_id) is None:
                probe = next(c for c in run.queue if c.message.SmsSdkAppId == app_id)
                self._probe_one(run, probe, remembered)

    def _probe_one(self, run: _Run, probe: Conversion, remembered: DeploymentFault) -> None:
        run.queue.remove(probe)
        self._report_one(run, probe)
        outcome = probe.outcome
        if outcome is not None and outcome.fault is None and outcome.attempted:
            # The API answered something else: what was remembered is fixed.
            self._memory.clear(remembered.scope, remembered.app_id)
        elif outcome is None or outcome.fault is None:
            # The probe never reached the API (no time, in progress elsewhere): keep to the fault.
            run.breaker.trip(remembered)

    # ---- the fan-out ------------------------------------------------------------------------------

    def _fan_out(self, run: _Run) -> None:
        workers = min(self._concurrency, len(run.queue))
        if workers <= 1:
            self._work(run)
            return
        # Each worker runs in a copy of the invocation's context: its lines carry the invocation's fields.
        threads = [
            threading.Thread(target=contextvars.copy_context().run, args=(self._work, run), name=f"report-{n}")
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _work(self, run: _Run) -> None:
        while (conversion := run.next()) is not None:
            self._report_one(run, conversion)

    def _report_one(self, run: _Run, conversion: Conversion) -> None:
        message = conversion.message
        fault = run.breaker.blocking(message.SmsSdkAppId)
        if fault is not None:
            self._settle(run, conversion, stopped_by(fault))
            return
        if not run.deadline.allows_call():
            self._settle(run, conversion, not_attempted("no time left before the invocation's deadline"))
            return
        key = store_key(message.key)
        token = new_token()
        claimed = self._claim(key, token, run.deadline)
        if claimed is Claim.COMPLETED:
            self._settle(run, conversion, duplicate("already reported within the idempotency TTL"))
            return
        if claimed is Claim.IN_PROGRESS:
            elsewhere = not_attempted("another invocation is reporting this SerialNo now", code=codes.IN_PROGRESS)
            self._settle(run, conversion, elsewhere)
            return
        outcome: Outcome | None = None
        try:
            outcome = self._reporter.report(message, run.deadline, run.breaker, self.policy.is_own(message.SmsSdkAppId))
        except Exception as exc:  # a fault of our own: this message is failed, the batch goes on
            logger.error(
                "unexpected error reporting one message",
                extra={"event": "unexpected_error", "exception": type(exc).__name__, "traceback": safe_traceback(exc)},
            )
            outcome = unexpected(exc)
        finally:
            # Whatever happened, the claim is settled: released unless reported.
            if claimed is Claim.ACQUIRED:
                self._release_or_complete(key, token, outcome)
        self._settle(run, conversion, outcome)

    def _settle(self, run: _Run, conversion: Conversion, outcome: Outcome) -> None:
        conversion.outcome = outcome
        if run.on_outcome is not None:
            run.on_outcome(conversion)

    # ---- idempotency --------------------------------------------------------------------------------

    def _claim(self, key: str, token: str, deadline: Deadline) -> Claim:
        if self._store is None or self._store_down.is_set():
            return Claim.UNAVAILABLE
        # The mark outlives the invocation (by one second), so no other instance can
        # report the same conversion while this one may still be calling; and it
        # expires soon after, so a crashed invocation never blocks a redelivery for long.
        in_progress_ms = int((deadline.until_end() + IN_PROGRESS_GRACE_SECONDS) * 1000)
        try:
            return self._store.claim(key, token, in_progress_ms)
        except Exception as exc:  # StoreUnavailable, or anything else a store may raise: never fail for it
            self._degrade(exc)
            return Claim.UNAVAILABLE

    def _release_or_complete(self, key: str, token: str, outcome: Outcome | None) -> None:
        if self._store is None or self._store_down.is_set():
            return
        try:
            if outcome is not None and outcome.status is Status.REPORTED:
                self._store.complete(key, self._ttl)
            else:
                self._store.release(key, token)
        except Exception as exc:
            self._degrade(exc)

    def _degrade(self, exc: Exception) -> None:
        # Once per pipeline: stop asking a store that fails, and say so once.
        with self._degrade_lock:
            if self._store_down.is_set():
                return
            self._store_down.set()
        logger.warning(
            "idempotency store unavailable: reporting without duplicate protection for the rest of this invocation",
            extra={
                "event": "idempotency_unavailable",
                "reason": str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__,
            },
        )

"""The reporting pipeline every entry point goes through: allowlist, idempotency, the gate, the call.

The HTTP, queue and direct flows and the backfill all hand it `Conversion`
objects and read back each one's `outcome`: no path reports a message without
its policies. Each decision has one owner: the allowlist is `AppPolicy.refused`,
the idempotency protocol is `IdempotencyGuard`, whether a call may start (the
deadline, a deployment fault, the rate) is the `Gate`, and the reporter only
calls the API and classifies the answer; a fault it answers trips the breaker
here.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from .clock import Deadline
from .faults import Breaker, FaultMemory
from .idempotency import IdempotencyGuard, IdempotencyStore
from .logs import LOGGER_NAME, safe_traceback
from .message import ConversionMessage
from .outcome import DeploymentFault, Outcome, duplicate, not_allowed, not_attempted, stopped_by, unexpected
from .ratelimit import Limiter
from .reporter import ConversionReporter, CredentialSource
from .settings import Settings

logger = logging.getLogger(LOGGER_NAME)


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

    def is_own(self, app_id: str) -> bool:
        """The operator's app: listed in SMS_ALLOWED_SDK_APP_IDS, or SMS_SDK_APP_ID (the default)."""
        return (self.allowed is not None and app_id in self.allowed) or app_id == self.default_app_id

    def refused(self, messages: Sequence[ConversionMessage]) -> list[int]:
        """The allowlist's one check: indexes of the messages SMS_ALLOWED_SDK_APP_IDS refuses (the HTTP
        pre-check, the pipeline and the backfill all ask it)."""
        if self.allowed is None:
            return []
        return [index for index, message in enumerate(messages) if message.SmsSdkAppId not in self.allowed]


class Gate:
    """Whether a call may start, in one place: the deadline, a deployment fault, then the rate slot.

    `refuse` is asked before a conversion is claimed; `admit` with a client in hand, just before each
    attempt (the rate slot is taken last, so the call starts right after it; the breaker is asked again
    after the wait: another worker may have met a fault meanwhile).
    """

    __slots__ = ("breaker", "deadline", "limiters")

    def __init__(self, deadline: Deadline, breaker: Breaker, limiters: Sequence[Limiter]) -> None:
        self.deadline = deadline
        self.breaker = breaker
        self.limiters = limiters

    def refuse(self, app_id: str) -> Outcome | None:
        fault = self.breaker.blocking(app_id)
        if fault is not None:
            return stopped_by(fault)
        if not self.deadline.allows_call():
            return not_attempted("no time left before the invocation's deadline")
        return None

    def admit(self, app_id: str) -> Outcome | None:
        refusal = self.refuse(app_id)
        if refusal is not None:
            return refusal
        if not all(limiter.acquire(self.deadline) for limiter in self.limiters):
            return not_attempted("no time left before the invocation's deadline")
        fault = self.breaker.blocking(app_id)
        return stopped_by(fault) if fault is not None else None


OnOutcome = Callable[[Conversion], None]


class _Run:
    __slots__ = ("breaker", "claim_seconds", "deadline", "gate", "lock", "on_outcome", "queue", "stop")

    def __init__(
        self,
        gate: Gate,
        claim_seconds: float | None,
        on_outcome: OnOutcome | None,
        stop: threading.Event | None,
    ) -> None:
        self.gate = gate
        self.deadline = gate.deadline
        self.breaker = gate.breaker
        self.claim_seconds = claim_seconds
        self.on_outcome = on_outcome
        self.stop = stop
        self.queue: deque[Conversion] = deque()
        self.lock = threading.Lock()

    def next(self) -> Conversion | None:
        with self.lock:
            if not self.queue or (self.stop is not None and self.stop.is_set()):
                return None
            return self.queue.popleft()

    def claim_lifetime(self) -> float:
        """How long a claim lasts: the run's own (a backfill), else until the invocation ends. No longer: past
        its end an invocation can report nothing, and a claim it left (killed, or Redis lost before "done")
        would only hold back the redelivery (docs/behaviour.md#orphaned-claims)."""
        if self.claim_seconds is not None:
            return self.claim_seconds
        return max(0.001, self.deadline.until_end())


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
        limiters: Sequence[Limiter] = (),
    ) -> None:
        self._reporter = reporter
        self._credential = credential
        self.policy = policy
        self._guard = IdempotencyGuard(store, ttl_seconds)
        self._concurrency = concurrency
        self._memory = memory
        self._limiters = limiters

    def report(
        self,
        conversions: Iterable[Conversion],
        deadline: Deadline,
        on_outcome: OnOutcome | None = None,
        stop: threading.Event | None = None,
        claim_seconds: float | None = None,
    ) -> list[DeploymentFault]:
        """Give every conversion its outcome; the deployment faults met, in the order they tripped.

        `on_outcome` is called (from a worker thread) as each outcome arrives; once `stop` is set no
        further call starts and what was not reached keeps `outcome` None. `claim_seconds`: how long a
        conversion stays claimed while it is reported (default: until the invocation's end, and a grace).
        Raises MissingCredentialsError before any call when there are no credentials at all.
        """
        run = _Run(Gate(deadline, Breaker(self._memory), self._limiters), claim_seconds, on_outcome, stop)
        items = list(conversions)
        refused = set(self.policy.refused([conversion.message for conversion in items]))
        first_of: dict[str, Conversion] = {}
        copies: list[tuple[Conversion, Conversion]] = []
        for index, conversion in enumerate(items):
            if index in refused:
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
        app_id = conversion.message.SmsSdkAppId
        refusal = run.gate.refuse(app_id)
        if refusal is not None:
            self._settle(run, conversion, refusal)
            return
        outcome = self._guard.run(
            conversion.message.key, run.claim_lifetime(), run.deadline, lambda: self._call(run, conversion)
        )
        self._settle(run, conversion, outcome)

    def _call(self, run: _Run, conversion: Conversion) -> Outcome:
        """The reporter's outcome; a deployment fault it answers stops the rest of the run (the breaker)."""
        message = conversion.message
        try:
            own = self.policy.is_own(message.SmsSdkAppId)
            outcome = self._reporter.report(message, run.deadline, own, lambda: run.gate.admit(message.SmsSdkAppId))
        except Exception as exc:  # a fault of our own: this message is failed, the batch goes on
            logger.error(
                "unexpected error reporting one message",
                extra={"event": "unexpected_error", "exception": type(exc).__name__, "traceback": safe_traceback(exc)},
            )
            return unexpected(exc)
        if outcome.fault is not None and outcome.attempted:
            run.breaker.trip(outcome.fault)
        return outcome

    def _settle(self, run: _Run, conversion: Conversion, outcome: Outcome) -> None:
        conversion.outcome = outcome
        if run.on_outcome is not None:
            run.on_outcome(conversion)

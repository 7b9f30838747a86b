"""Report many messages at once: de-duplicated, concurrent, idempotent, within the deadline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from .clock import Deadline
from .idempotency import Claim, IdempotencyStore, StoreUnavailable, new_token, store_key
from .message import ConversionMessage
from .outcome import Outcome, Status, duplicate, not_attempted
from .reporter import ConversionReporter

logger = logging.getLogger("sms_conversion")


class BatchReporter:
    """One per invocation: reports `messages` and returns one outcome per message, in order."""

    def __init__(
        self,
        reporter: ConversionReporter,
        store: IdempotencyStore | None,
        ttl_seconds: int,
        concurrency: int,
    ) -> None:
        self._reporter = reporter
        self._store = store
        self._ttl = ttl_seconds
        self._concurrency = concurrency
        self._store_down = threading.Event()
        self._degrade_lock = threading.Lock()

    @property
    def store_degraded(self) -> bool:
        return self._store_down.is_set()

    def report_all(self, messages: Sequence[ConversionMessage], deadline: Deadline) -> list[Outcome]:
        first_index: dict[str, int] = {}
        unique: list[int] = []
        outcomes: list[Outcome | None] = [None] * len(messages)
        for index, message in enumerate(messages):
            seen = first_index.setdefault(message.key, index)
            if seen == index:
                unique.append(index)
            else:
                outcomes[index] = duplicate(f"same SmsSdkAppId and SerialNo as message {seen} of this batch")
        workers = min(self._concurrency, len(unique))
        if workers <= 1:
            for index in unique:
                outcomes[index] = self._report_once(messages[index], deadline)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report") as pool:
                futures = {index: pool.submit(self._report_once, messages[index], deadline) for index in unique}
                for index, future in futures.items():
                    outcomes[index] = future.result()
        return [outcome for outcome in outcomes if outcome is not None]

    def _report_once(self, message: ConversionMessage, deadline: Deadline) -> Outcome:
        if not deadline.allows_call():
            return not_attempted("no time left before the invocation's deadline")
        key = store_key(message.key)
        token = new_token()
        claimed = self._claim(key, token, deadline)
        if claimed is Claim.COMPLETED:
            return duplicate("already reported within the idempotency TTL")
        if claimed is Claim.IN_PROGRESS:
            return not_attempted(
                "another invocation is reporting this SerialNo now", code="ResourceUnavailable.InProgress"
            )
        outcome = self._reporter.report(message, deadline)
        if claimed is Claim.ACQUIRED:
            self._settle(key, token, outcome)
        return outcome

    def _claim(self, key: str, token: str, deadline: Deadline) -> Claim:
        if self._store is None or self._store_down.is_set():
            return Claim.UNAVAILABLE
        # The mark outlives the invocation by the answer margin at most, so a
        # crashed or timed-out invocation never blocks a redelivery for long.
        in_progress_ms = int((deadline.remaining() + 1.0) * 1000)
        try:
            return self._store.claim(key, token, in_progress_ms)
        except StoreUnavailable as exc:
            self._degrade(str(exc))
            return Claim.UNAVAILABLE

    def _settle(self, key: str, token: str, outcome: Outcome) -> None:
        if self._store is None or self._store_down.is_set():
            return
        try:
            if outcome.status is Status.REPORTED:
                self._store.complete(key, self._ttl)
            else:
                self._store.release(key, token)
        except StoreUnavailable as exc:
            self._degrade(str(exc))

    def _degrade(self, reason: str) -> None:
        # Once per invocation: stop asking a store that fails, and say so once.
        with self._degrade_lock:
            if self._store_down.is_set():
                return
            self._store_down.set()
        logger.warning(
            "idempotency store unavailable: reporting without duplicate protection for the rest of this invocation",
            extra={"event": "idempotency_unavailable", "reason": reason},
        )

"""Report many messages at once: de-duplicated, concurrent, idempotent, within the deadline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from .clock import Deadline
from .idempotency import Claim, IdempotencyStore, StoreUnavailable, new_token, store_key
from .logs import LOGGER_NAME, safe_traceback
from .message import ConversionMessage
from .outcome import IN_PROGRESS, Outcome, Status, duplicate, not_attempted, unexpected
from .reporter import ConversionReporter

logger = logging.getLogger(LOGGER_NAME)
IN_PROGRESS_GRACE_SECONDS = 1.0


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

    def report_all(self, messages: Sequence[ConversionMessage], deadline: Deadline) -> list[Outcome]:
        first_index: dict[str, int] = {}
        unique: list[int] = []
        copies: list[tuple[int, int]] = []
        outcomes: list[Outcome | None] = [None] * len(messages)
        for index, message in enumerate(messages):
            seen = first_index.setdefault(message.key, index)
            if seen == index:
                unique.append(index)
            else:
                copies.append((index, seen))
        workers = min(self._concurrency, len(unique))
        if workers <= 1:
            for index in unique:
                outcomes[index] = self._report_once(messages[index], deadline)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report") as pool:
                futures = {index: pool.submit(self._report_once, messages[index], deadline) for index in unique}
                for index, future in futures.items():
                    outcomes[index] = future.result()
        for index, seen in copies:
            # A copy shares its first occurrence's fate; "duplicate" only when that one is reported.
            first = outcomes[seen]
            assert first is not None
            if first.ok:
                outcomes[index] = duplicate(f"same SmsSdkAppId and SerialNo as message {seen} of this batch")
            else:
                outcomes[index] = first
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
            return not_attempted("another invocation is reporting this SerialNo now", code=IN_PROGRESS)
        outcome: Outcome | None = None
        try:
            outcome = self._reporter.report(message, deadline)
        except Exception as exc:  # a fault of our own: this record is retryable, the batch goes on
            logger.error(
                "unexpected error reporting one message",
                extra={"event": "unexpected_error", "exception": type(exc).__name__, "traceback": safe_traceback(exc)},
            )
            outcome = unexpected(exc)
        finally:
            # Whatever happened, the claim is settled: released unless reported.
            if claimed is Claim.ACQUIRED:
                self._settle(key, token, outcome)
        return outcome

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
            self._degrade(str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__)
            return Claim.UNAVAILABLE

    def _settle(self, key: str, token: str, outcome: Outcome | None) -> None:
        if self._store is None or self._store_down.is_set():
            return
        try:
            if outcome is not None and outcome.status is Status.REPORTED:
                self._store.complete(key, self._ttl)
            else:
                self._store.release(key, token)
        except Exception as exc:
            self._degrade(str(exc) if isinstance(exc, StoreUnavailable) else type(exc).__name__)

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

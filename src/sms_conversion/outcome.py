"""What happened to one message, and how each kind of result is answered."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(str, enum.Enum):
    REPORTED = "reported"
    # Already reported: earlier in this batch, or within the idempotency TTL.
    DUPLICATE = "duplicate"
    # Will never succeed as sent (invalid, or refused by the API): do not redeliver.
    SKIPPED = "skipped"
    # May succeed later: the platform (or the HTTP caller) should try again.
    RETRYABLE = "retryable"


@dataclass(frozen=True)
class Outcome:
    status: Status
    http_status: int = 200
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    attempts: int = 0
    latency_ms: float = 0.0
    # Seconds after which a retry can help (for 429/503 answers).
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in (Status.REPORTED, Status.DUPLICATE)


def reported(request_id: str | None, attempts: int, latency_ms: float) -> Outcome:
    return Outcome(Status.REPORTED, 200, request_id=request_id, attempts=attempts, latency_ms=latency_ms)


def duplicate(reason: str) -> Outcome:
    return Outcome(Status.DUPLICATE, 200, message=reason)


def not_attempted(reason: str, code: str = "ResourceUnavailable.DeadlineExceeded", retry_after: int = 1) -> Outcome:
    return Outcome(Status.RETRYABLE, 503, code=code, message=reason, retry_after=retry_after)

"""What happened to one message."""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Codes of our own for messages never sent to the API.
DEADLINE_EXCEEDED = "ResourceUnavailable.DeadlineExceeded"
IN_PROGRESS = "ResourceUnavailable.InProgress"
UNEXPECTED = "InternalError.Unexpected"


class Status(str, enum.Enum):
    REPORTED = "reported"
    # Already reported: earlier in this batch, or within the idempotency TTL.
    DUPLICATE = "duplicate"
    # Will never succeed as sent (invalid, refused by the API or by the allowlist): do not redeliver.
    SKIPPED = "skipped"
    # May succeed later: the platform (or the HTTP caller) should try again.
    RETRYABLE = "retryable"


@dataclass(frozen=True)
class Outcome:
    status: Status
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    attempts: int = 0
    latency_ms: float = 0.0
    # False when the message never reached the API (no time left, in progress elsewhere).
    attempted: bool = True

    @property
    def ok(self) -> bool:
        return self.status in (Status.REPORTED, Status.DUPLICATE)


def reported(request_id: str | None, attempts: int, latency_ms: float) -> Outcome:
    return Outcome(Status.REPORTED, request_id=request_id, attempts=attempts, latency_ms=latency_ms)


def duplicate(reason: str) -> Outcome:
    return Outcome(Status.DUPLICATE, message=reason, attempted=False)


def not_attempted(reason: str, code: str = DEADLINE_EXCEEDED, attempts: int = 0) -> Outcome:
    return Outcome(Status.RETRYABLE, code=code, message=reason, attempts=attempts, attempted=False)


def unexpected(exc: BaseException) -> Outcome:
    """An error of this function's own while reporting one message: safe to retry, text never shown."""
    return Outcome(Status.RETRYABLE, code=UNEXPECTED, message=f"unexpected {type(exc).__name__}")

"""What happened to one message, in the one vocabulary of answers, summaries and log lines."""

from __future__ import annotations

import enum
from typing import NamedTuple

from . import codes
from .classifier import Scope

# The allowlist's one wording (the pipeline's check, the HTTP answer, the backfill's line).
NOT_IN_ALLOWLIST = "SmsSdkAppId is not in SMS_ALLOWED_SDK_APP_IDS"


class Status(str, enum.Enum):
    REPORTED = "reported"
    # Already reported: earlier in this batch, or within the idempotency TTL.
    DUPLICATE = "duplicate"
    # Will never succeed as sent (invalid, refused by the API or by the allowlist): not redelivered.
    SKIPPED = "skipped"
    # May succeed later (a retry, a redelivery, a fixed deployment): the platform or the caller tries again.
    FAILED = "failed"


class DeploymentFault(NamedTuple):
    """The function, its role or the account is at fault: what the API said and what to check."""

    code: str
    message: str
    hint: str
    scope: Scope
    # The app id it concerns, for an app-level fault.
    app_id: str | None = None


class Outcome(NamedTuple):
    status: Status
    # The HTTP status this outcome stands for (the classifier's, or our own for what never reached the API).
    http_status: int
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    attempts: int = 0
    latency_ms: float = 0.0
    # False when the message never reached the API (no time left, in progress elsewhere, a fault).
    attempted: bool = True
    # Set when a deployment fault was answered for it, or stopped it before a call.
    fault: DeploymentFault | None = None

    @property
    def ok(self) -> bool:
        return self.status in (Status.REPORTED, Status.DUPLICATE)


def duplicate(reason: str) -> Outcome:
    return Outcome(Status.DUPLICATE, codes.OK, message=reason, attempted=False)


def not_attempted(reason: str, code: str = codes.DEADLINE_EXCEEDED, attempts: int = 0) -> Outcome:
    return Outcome(Status.FAILED, codes.DEPLOYMENT_FAULT, code=code, message=reason, attempts=attempts, attempted=False)


def stopped_by(fault: DeploymentFault) -> Outcome:
    """Not called: a deployment fault stopped the reporting it belongs to."""
    return Outcome(
        Status.FAILED,
        codes.DEPLOYMENT_FAULT,
        code=fault.code,
        message=f"not attempted: {fault.code} stopped the reporting ({fault.hint})",
        attempted=False,
        fault=fault,
    )


def not_allowed() -> Outcome:
    return Outcome(
        Status.SKIPPED, codes.FORBIDDEN, code=codes.APP_ID_NOT_ALLOWED, message=NOT_IN_ALLOWLIST, attempted=False
    )


def unexpected(exc: BaseException) -> Outcome:
    """An error of this function's own while reporting one message: safe to retry, text never shown."""
    return Outcome(Status.FAILED, codes.INTERNAL, code=codes.UNEXPECTED, message=f"unexpected {type(exc).__name__}")

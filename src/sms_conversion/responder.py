"""Every answer the function gives, and the one mapping from outcome to HTTP status.

HTTP callers get an API Gateway / Function URL integration response whose
error bodies mirror the API's own `{"Error": {...}, "RequestId": ...}`. Direct
invocations get the same body with `StatusCode` inside. Queue triggers get a
summary, or an exception when a retry can help, because raising is the only
way to make SCF redeliver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .logs import one_line
from .message import ConversionMessage, FieldError
from .outcome import UNEXPECTED, Outcome, Status
from .sources import BodyProblem

APP_ID_VERIFY_FAIL = "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
APP_ID_NOT_ALLOWED = "UnauthorizedOperation.SmsSdkAppIdNotAllowed"
_FORBIDDEN_CODES = frozenset({APP_ID_VERIFY_FAIL, APP_ID_NOT_ALLOWED})
RETRY_AFTER_SECONDS = 1

# When messages of one request fail differently, the answer is the failure the
# caller must act on first: our own fault, a permission problem, then an
# upstream fault, then "slow down", then "try again shortly".
_URGENCY = (500, 403, 502, 429, 503)


class RetryLater(Exception):
    """Raised to make the platform redeliver; the message is a safe summary."""


class InvocationFailed(Exception):
    """Raised after an unexpected error on a queue so SCF redelivers; names only the exception's type."""


def http_status(outcome: Outcome) -> int:
    """The HTTP status one message's outcome stands for."""
    if outcome.ok:
        return 200
    if outcome.status is Status.RETRYABLE:
        if outcome.code == UNEXPECTED:
            return 500
        if not outcome.attempted:
            return 503
        if (outcome.code or "").startswith("RequestLimitExceeded"):
            return 429
        return 502
    return 403 if outcome.code in _FORBIDDEN_CODES else 502


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        return self.status in (429, 503) or self.body.get("Retryable") is True

    def as_http(self) -> dict[str, Any]:
        return {
            "isBase64Encoded": False,
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json", **self.headers},
            "body": one_line(json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))),
        }

    def as_direct(self) -> dict[str, Any]:
        return {"StatusCode": self.status, **self.body}


def error(status: int, code: str, message: str, request_id: str, **extra: Any) -> Answer:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (429, 503) else {}
    return Answer(status, {"Error": {"Code": code, "Message": message}, "RequestId": request_id, **extra}, headers)


def method_not_allowed(request_id: str) -> Answer:
    answer = error(405, "UnsupportedOperation.MethodNotAllowed", "use POST", request_id)
    return Answer(answer.status, answer.body, {"Allow": "POST"})


def body_problem(problem: BodyProblem, request_id: str) -> Answer:
    return error(problem.status, problem.code, problem.message, request_id)


def unrecognised(reason: str, request_id: str) -> Answer:
    return error(400, "InvalidParameter.UnrecognisedEvent", reason, request_id)


def misconfigured(code: str, reason: str, request_id: str) -> Answer:
    return error(500, code, reason, request_id)


def unexpected(request_id: str) -> Answer:
    # No exception text: it could carry input or secrets. The log line has the type and traceback.
    return error(500, UNEXPECTED, "the function failed unexpectedly; see its logs for this RequestId", request_id)


def unauthorized(code: str, message: str, request_id: str) -> Answer:
    return error(401, code, message, request_id)


def invalid_message(errors: Sequence[FieldError], request_id: str, too_large: bool) -> Answer:
    if too_large:
        return error(413, "LimitExceeded.TooManyMessages", errors[0].message, request_id)
    missing_only = all(item.message.startswith("is required") for item in errors)
    return error(
        400,
        "MissingParameter" if missing_only else "InvalidParameterValue",
        "; ".join(item.render() for item in errors),
        request_id,
        Errors=[{"Index": item.index, "Field": item.field, "Message": item.message} for item in errors],
    )


def not_allowed(indexes: Sequence[int | None], request_id: str) -> Answer:
    """Messages whose SmsSdkAppId is not in SMS_ALLOWED_SDK_APP_IDS: nothing of the request is reported."""
    return error(
        403,
        APP_ID_NOT_ALLOWED,
        "SmsSdkAppId is not allowed for this function (SMS_ALLOWED_SDK_APP_IDS)",
        request_id,
        Errors=[
            {"Index": index, "Field": "SmsSdkAppId", "Message": "is not in SMS_ALLOWED_SDK_APP_IDS"}
            for index in indexes
        ],
    )


def outcome_label(status: Status, queue: bool) -> str:
    """Queue records that cannot succeed are "skipped" (acknowledged); an HTTP caller sees "failed"."""
    return "failed" if status is Status.SKIPPED and not queue else status.value


def _result_entry(message: ConversionMessage, outcome: Outcome) -> dict[str, Any]:
    entry: dict[str, Any] = {"SerialNo": message.SerialNo, "Outcome": outcome_label(outcome.status, queue=False)}
    if outcome.request_id:
        entry["RequestId"] = outcome.request_id
    if outcome.code:
        entry["Code"] = outcome.code
    if outcome.message and outcome.status is not Status.REPORTED:
        entry["Message"] = outcome.message
    return entry


def results(
    messages: Sequence[ConversionMessage],
    outcomes: Sequence[Outcome],
    request_id: str,
    queue_semantics: bool = False,
) -> Answer:
    """The answer for a set of reported messages.

    With queue semantics (TDMQ-CMQ push), only a retryable failure is non-2xx:
    anything else would make the queue redeliver a message that cannot succeed.
    """
    entries = [_result_entry(message, outcome) for message, outcome in zip(messages, outcomes, strict=True)]
    failing = [
        outcome
        for outcome in outcomes
        if not outcome.ok and (not queue_semantics or outcome.status is Status.RETRYABLE)
    ]
    if not failing:
        return Answer(200, {"Results": entries, "RequestId": request_id})
    worst = min(failing, key=lambda outcome: _URGENCY.index(http_status(outcome)))
    return error(
        http_status(worst),
        worst.code or "InternalError",
        worst.message or "report failed",
        worst.request_id or request_id,
        Retryable=any(outcome.status is Status.RETRYABLE for outcome in outcomes),
        Results=entries,
    )


def push_skipped(coordinates: dict[str, Any], reason: str, request_id: str) -> Answer:
    # 2xx on purpose: the queue would redeliver a poison message for a day.
    return Answer(
        200, {"Outcome": "skipped", "MsgId": coordinates.get("msgId"), "Reason": reason, "RequestId": request_id}
    )


def record_status(outcomes: Sequence[Outcome]) -> Status:
    """One queue record's status from its messages' (a record may carry an array): the most urgent."""
    statuses = {outcome.status for outcome in outcomes}
    for status in (Status.RETRYABLE, Status.SKIPPED, Status.REPORTED):
        if status in statuses:
            return status
    return Status.DUPLICATE


def queue_summary(trigger: str, record_statuses: Sequence[Status]) -> dict[str, Any]:
    """Counts of records (not messages): each record counted once, under its most urgent outcome."""
    return {
        "Trigger": trigger,
        "Records": len(record_statuses),
        "Reported": record_statuses.count(Status.REPORTED),
        "Duplicates": record_statuses.count(Status.DUPLICATE),
        "Skipped": record_statuses.count(Status.SKIPPED),
        "Failed": record_statuses.count(Status.RETRYABLE),
    }

"""Every answer the function gives.

HTTP callers get an API Gateway / Function URL integration response whose
error bodies mirror the API's own `{"Error": {...}, "RequestId": ...}`. Direct
invocations get the same body with `StatusCode` inside. Queue triggers get a
summary, or an exception when a retry can help, because raising is the only
way to make SCF redeliver. Each outcome already carries its HTTP status (the
classifier's verdict, or ours for what never reached the API): this module only
picks which one a request answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from . import codes
from .faults import COOL_DOWN_SECONDS
from .logs import one_line
from .message import FieldError
from .outcome import NOT_IN_ALLOWLIST, Outcome, Status
from .sources import BodyProblem, Coordinates

if TYPE_CHECKING:
    from .pipeline import Conversion

RETRY_AFTER_SECONDS = 1


class RetryLater(Exception):
    """Raised to make the platform redeliver; the message is a safe summary."""


class DeploymentFaultRaised(RetryLater):
    """Raised when a deployment fault stopped the reporting: redelivered once the operator fixes it."""


class InvocationFailed(Exception):
    """Raised after an unexpected error on a queue so SCF redelivers; names only the exception's type."""


class Answer(NamedTuple):
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = MappingProxyType({})

    @property
    def retryable(self) -> bool:
        return self.status in codes.RETRY_LATER or self.body.get("Retryable") is True

    def as_http(self) -> dict[str, Any]:
        return {
            "isBase64Encoded": False,
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json", **self.headers},
            "body": one_line(json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))),
        }

    def as_direct(self) -> dict[str, Any]:
        return {"StatusCode": self.status, **self.body}


def error(
    status: int, code: str, message: str, request_id: str, retry_after: float | None = None, **extra: Any
) -> Answer:
    if retry_after is None and status in codes.RETRY_LATER:
        retry_after = RETRY_AFTER_SECONDS
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
    return Answer(status, {"Error": {"Code": code, "Message": message}, "RequestId": request_id, **extra}, headers)


def method_not_allowed(request_id: str) -> Answer:
    answer = error(codes.METHOD_NOT_ALLOWED, codes.UNSUPPORTED_METHOD, "use POST", request_id)
    return Answer(answer.status, answer.body, {"Allow": "POST"})


def body_problem(problem: BodyProblem, request_id: str) -> Answer:
    return error(problem.status, problem.code, problem.message, request_id)


def unrecognised(reason: str, request_id: str) -> Answer:
    return error(codes.BAD_REQUEST, codes.UNRECOGNISED_EVENT, reason, request_id)


def misconfigured(code: str, reason: str, request_id: str) -> Answer:
    return error(codes.INTERNAL, code, reason, request_id)


def unexpected(request_id: str) -> Answer:
    # No exception text: it could carry input or secrets. The log line has the type and traceback.
    message = "the function failed unexpectedly; see its logs for this RequestId"
    return error(codes.INTERNAL, codes.UNEXPECTED, message, request_id)


def unauthorized(code: str, message: str, request_id: str) -> Answer:
    return error(codes.UNAUTHORIZED, code, message, request_id)


def invalid_message(errors: Sequence[FieldError], request_id: str, too_large: bool) -> Answer:
    if too_large:
        return error(codes.PAYLOAD_TOO_LARGE, codes.TOO_MANY_MESSAGES, errors[0].message, request_id)
    missing_only = all(item.message.startswith("is required") for item in errors)
    return error(
        codes.BAD_REQUEST,
        codes.MISSING_PARAMETER if missing_only else codes.INVALID_PARAMETER_VALUE,
        "; ".join(item.render() for item in errors),
        request_id,
        Errors=[{"Index": item.index, "Field": item.field, "Message": item.message} for item in errors],
    )


def not_allowed(indexes: Sequence[int | None], request_id: str) -> Answer:
    """Messages whose SmsSdkAppId is not in SMS_ALLOWED_SDK_APP_IDS: nothing of the request is reported."""
    return error(
        codes.FORBIDDEN,
        codes.APP_ID_NOT_ALLOWED,
        NOT_IN_ALLOWLIST,
        request_id,
        Errors=[
            {"Index": index, "Field": "SmsSdkAppId", "Message": NOT_IN_ALLOWLIST.removeprefix("SmsSdkAppId ")}
            for index in indexes
        ],
    )


def _urgency(outcome: Outcome) -> int:
    """Which failure a request answers first (codes.URGENCY); a deployment fault stopped the rest."""
    status = codes.DEPLOYMENT_FAULT if outcome.fault is not None and outcome.http_status != codes.INTERNAL else None
    return codes.URGENCY.get(status or outcome.http_status, len(codes.URGENCY))


def _result_entry(conversion: Conversion) -> dict[str, Any]:
    outcome = conversion.outcome
    assert outcome is not None
    entry: dict[str, Any] = {"SerialNo": conversion.message.SerialNo, "Outcome": outcome.status.value}
    if outcome.request_id:
        entry["RequestId"] = outcome.request_id
    if outcome.code:
        entry["Code"] = outcome.code
    if outcome.message and outcome.status is not Status.REPORTED:
        entry["Message"] = outcome.message
    return entry


def results(
    conversions: Sequence[Conversion],
    request_id: str,
    queue_semantics: bool = False,
) -> Answer:
    """The answer for a set of reported messages: 200, or the most urgent failure with every message's outcome.

    With queue semantics (TDMQ-CMQ push), only a failure a retry can fix is non-2xx:
    anything else would make the queue redeliver a message that cannot succeed.
    """
    outcomes = [conversion.outcome for conversion in conversions if conversion.outcome is not None]
    entries = [_result_entry(conversion) for conversion in conversions]
    failing = [
        outcome for outcome in outcomes if not outcome.ok and (not queue_semantics or outcome.status is Status.FAILED)
    ]
    if not failing:
        return Answer(codes.OK, {"Results": entries, "RequestId": request_id})
    worst = min(failing, key=_urgency)
    extra: dict[str, Any] = {"Hint": worst.fault.hint} if worst.fault is not None else {}
    return error(
        worst.http_status,
        worst.code or codes.INTERNAL_ERROR,
        worst.message or "report failed",
        worst.request_id or request_id,
        retry_after=COOL_DOWN_SECONDS if worst.fault is not None else None,
        Retryable=any(outcome.status is Status.FAILED for outcome in outcomes),
        **extra,
        Results=entries,
    )


def push_skipped(coordinates: Coordinates, reason: str, request_id: str) -> Answer:
    # 2xx on purpose: the queue would redeliver a poison message for a day.
    body = {"Outcome": Status.SKIPPED.value, "MsgId": coordinates.msg_id, "Reason": reason, "RequestId": request_id}
    return Answer(codes.OK, body)


def queue_summary(trigger: str, records: int, statuses: Sequence[Status]) -> dict[str, Any]:
    """Counts of conversions (messages): a record carrying 100 messages counts 100; a poison record, one."""
    return {
        "Trigger": trigger,
        "Records": records,
        "Messages": len(statuses),
        "Reported": statuses.count(Status.REPORTED),
        "Duplicates": statuses.count(Status.DUPLICATE),
        "Skipped": statuses.count(Status.SKIPPED),
        "Failed": statuses.count(Status.FAILED),
    }

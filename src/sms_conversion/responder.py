"""Turn outcomes into what each trigger expects back.

HTTP callers get an API Gateway / Function URL integration response whose
error bodies mirror the API's own `{"Error": {...}, "RequestId": ...}`. Queue
triggers get a summary, or an exception when a retry can help, because raising
is the only way to make SCF redeliver.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .message import ConversionMessage, FieldError
from .outcome import Outcome, Status

# When messages of one request fail differently, the answer is the failure the
# caller must act on first: a permission problem, then an upstream fault, then
# "slow down", then "try again shortly".
_PRIORITY = {500: 0, 403: 1, 502: 2, 429: 3, 503: 4}


class RetryLater(Exception):
    """Raised to make the platform redeliver; the message is a safe summary."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: int | None = None

    @property
    def retryable(self) -> bool:
        return self.status in (429, 503) or self.body.get("Retryable") is True

    def as_http(self, allow: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if allow:
            headers["Allow"] = allow
        return {
            "isBase64Encoded": False,
            "statusCode": self.status,
            "headers": headers,
            "body": json.dumps(self.body, ensure_ascii=False, separators=(",", ":")),
        }

    def as_direct(self) -> dict[str, Any]:
        return {"StatusCode": self.status, **self.body}


def error(status: int, code: str, message: str, request_id: str, **extra: Any) -> Answer:
    return Answer(status, {"Error": {"Code": code, "Message": message}, "RequestId": request_id, **extra})


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


def outcome_label(status: Status, queue: bool) -> str:
    """Queue records that cannot succeed are "skipped" (acknowledged); an HTTP caller sees "failed"."""
    return "failed" if status is Status.SKIPPED and not queue else status.value


def result_entry(message: ConversionMessage, outcome: Outcome) -> dict[str, Any]:
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
    entries = [result_entry(message, outcome) for message, outcome in zip(messages, outcomes, strict=True)]
    failing = [
        outcome
        for outcome in outcomes
        if not outcome.ok and (not queue_semantics or outcome.status is Status.RETRYABLE)
    ]
    if not failing:
        return Answer(200, {"Results": entries, "RequestId": request_id})
    worst = min(failing, key=lambda outcome: _PRIORITY.get(outcome.http_status, 2))
    retryable = any(outcome.status is Status.RETRYABLE for outcome in outcomes)
    retry_after = max((outcome.retry_after or 0 for outcome in failing), default=0) or None
    body = {
        "Error": {"Code": worst.code or "InternalError", "Message": worst.message or "report failed"},
        "RequestId": worst.request_id or request_id,
        "Retryable": retryable,
        "Results": entries,
    }
    return Answer(worst.http_status, body, retry_after if worst.http_status in (429, 503) else None)


def queue_summary(trigger: str, counts: dict[Status, int], records: int) -> dict[str, Any]:
    return {
        "Trigger": trigger,
        "Records": records,
        "Reported": counts.get(Status.REPORTED, 0),
        "Duplicates": counts.get(Status.DUPLICATE, 0),
        "Skipped": counts.get(Status.SKIPPED, 0),
        "Failed": counts.get(Status.RETRYABLE, 0),
    }

"""One small flow per trigger kind: HTTP, queue, direct. Each goes down the stages once:
adapted event → messages → allowlist → reports → answer."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import responder
from .auth import authenticate
from .clock import Deadline
from .credentials import MissingCredentialsError
from .instance import WarmInstance
from .logs import LOGGER_NAME, safe_traceback
from .message import ConversionMessage, InvalidMessage, parse_messages
from .outcome import Outcome, Status
from .responder import APP_ID_NOT_ALLOWED, Answer, RetryLater
from .settings import ConfigurationError, Settings
from .sources import DirectInvocation, HttpRequest, QueueBatch, SourceRecord

logger = logging.getLogger(LOGGER_NAME)

MISCONFIGURED = "InternalError.Misconfiguration"
MISSING_CREDENTIALS = "InternalError.MissingCredentials"


@dataclass
class Invocation:
    """One invocation's state, shared by the flows: who, when, with which settings."""

    instance: WarmInstance
    request_id: str
    started: float
    time_limit: float
    settings: Settings | None
    config_problem: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    _misconfiguration_logged: bool = False

    def misconfigured(self, reason: str, code: str = MISCONFIGURED) -> Answer:
        """Log the `misconfigured` event (once per invocation) and build the 500 answer."""
        if not self._misconfiguration_logged:
            self._misconfiguration_logged = True
            logger.error("misconfigured", extra={"event": "misconfigured", "code": code, "reason": reason})
        return responder.misconfigured(code, reason, self.request_id)

    def deadline(self, messages: int) -> Deadline:
        settings = self.settings
        # A Redis that stops answering may hold the last record's "done" mark for
        # up to its timeout: keep that time too, so the platform never kills us.
        reserve = settings.REDIS_TIMEOUT_SECONDS if settings is not None and settings.REDIS_URL else 0.0
        return Deadline.for_invocation(self.instance.clock, self.started, self.time_limit, reserve, messages)

    def report(self, settings: Settings, messages: Sequence[ConversionMessage]) -> list[Outcome]:
        """Report what the allowlist lets through. Raises MissingCredentialsError before any call."""
        allowed = settings.allowed_app_ids
        outcomes: list[Outcome | None] = [None] * len(messages)
        to_report: list[int] = []
        for index, message in enumerate(messages):
            if allowed is not None and message.SmsSdkAppId not in allowed:
                outcomes[index] = _not_allowed()
            else:
                to_report.append(index)
        if to_report:
            self.instance.credential.get_credential_info()
            reported = self.instance.batch_reporter(settings).report_all(
                [messages[index] for index in to_report], self.deadline(len(messages))
            )
            for index, outcome in zip(to_report, reported, strict=True):
                outcomes[index] = outcome
        return [outcome for outcome in outcomes if outcome is not None]


def _not_allowed() -> Outcome:
    return Outcome(
        Status.SKIPPED,
        code=APP_ID_NOT_ALLOWED,
        message="SmsSdkAppId is not in SMS_ALLOWED_SDK_APP_IDS",
        attempted=False,
    )


# ---- HTTP ----------------------------------------------------------------------------------


def http_flow(request: HttpRequest, invocation: Invocation) -> Answer:
    """405, then 413, then configuration, then 401, then the body (400), then the messages."""
    request_id = invocation.request_id
    if request.method != "POST":
        return responder.method_not_allowed(request_id)
    if request.problem is not None and request.problem.status == 413 and not request.is_queue_push:
        return responder.body_problem(request.problem, request_id)
    settings = invocation.settings
    if settings is None:
        return invocation.misconfigured(str(invocation.config_problem))
    if not settings.signing_secrets and not settings.CMQ_PUSH_TOKEN and invocation.instance.first_open_request():
        logger.warning(
            "HTTP route is open to anyone: set REPORT_SIGNING_SECRET (see README, Security)",
            extra={"event": "unauthenticated_endpoint"},
        )
    failure = authenticate(request, settings.signing_secrets, settings.CMQ_PUSH_TOKEN, invocation.instance.clock.now())
    if failure is not None:
        logger.warning(
            "unauthenticated request refused",
            extra={"event": "unauthorized", "code": failure.code, "trigger": request.trigger},
        )
        return responder.unauthorized(failure.code, failure.message, request_id)
    if request.is_queue_push and request.push is not None:
        return _push(request.push, settings, invocation)
    if request.problem is not None:
        return responder.body_problem(request.problem, request_id)
    return report_payload(request.payload, settings, invocation)


def _push(record: SourceRecord, settings: Settings, invocation: Invocation) -> Answer:
    """A TDMQ-CMQ push has queue semantics over HTTP: a poison message is acknowledged (200)."""
    messages, reason = _record_messages(record, settings, invocation)
    if messages is None:
        return responder.push_skipped(record.coordinates, str(reason), invocation.request_id)
    try:
        outcomes = invocation.report(settings, messages)
    except MissingCredentialsError as exc:
        return invocation.misconfigured(str(exc), MISSING_CREDENTIALS)
    for message, outcome in zip(messages, outcomes, strict=True):
        log_outcome(message, outcome, record.coordinates)
    return responder.results(messages, outcomes, invocation.request_id, queue_semantics=True)


def report_payload(payload: Any, settings: Settings, invocation: Invocation) -> Answer:
    """An HTTP body or a direct invocation: validated whole, allowlisted whole, then reported."""
    request_id = invocation.request_id
    try:
        messages = parse_messages(payload, now=invocation.instance.clock.now(), default_app_id=settings.SMS_SDK_APP_ID)
    except InvalidMessage as exc:
        logger.warning("invalid message", extra={"event": "invalid_message", "reason": str(exc)})
        return responder.invalid_message(exc.errors, request_id, exc.too_large)
    allowed = settings.allowed_app_ids
    if allowed is not None:
        refused = [index for index, message in enumerate(messages) if message.SmsSdkAppId not in allowed]
        if refused:
            # Arrays are all or nothing, as for validation.
            indexes = refused if isinstance(payload, list) else [None]
            logger.warning("app id not allowed", extra={"event": "app_id_not_allowed", "indexes": indexes})
            return responder.not_allowed(indexes, request_id)
    try:
        outcomes = invocation.report(settings, messages)
    except MissingCredentialsError as exc:
        return invocation.misconfigured(str(exc), MISSING_CREDENTIALS)
    for message, outcome in zip(messages, outcomes, strict=True):
        log_outcome(message, outcome, None)
    return responder.results(messages, outcomes, request_id)


# ---- queues --------------------------------------------------------------------------------


def queue_flow(batch: QueueBatch, invocation: Invocation) -> dict[str, Any]:
    """Every record processed; raises RetryLater (after the whole batch) when a retry can help."""
    settings = invocation.settings
    if settings is None:
        invocation.misconfigured(str(invocation.config_problem))
        # Raise: the batch is redelivered once the operator fixes the variable.
        raise ConfigurationError(str(invocation.config_problem))
    messages: list[ConversionMessage] = []
    owners: list[int] = []  # the record each message came from
    statuses: list[Status | None] = []
    for number, record in enumerate(batch.records):
        decoded, _ = _record_messages(record, settings, invocation)
        if decoded is None:
            statuses.append(Status.SKIPPED)
            continue
        statuses.append(None)
        messages.extend(decoded)
        owners.extend([number] * len(decoded))
    try:
        outcomes = invocation.report(settings, messages) if messages else []
    except MissingCredentialsError as exc:
        invocation.misconfigured(str(exc), MISSING_CREDENTIALS)
        raise ConfigurationError(str(exc)) from None
    per_record: dict[int, list[Outcome]] = {}
    messages_of = Counter(owners)
    for message, owner, outcome in zip(messages, owners, outcomes, strict=True):
        coordinates = batch.records[owner].coordinates
        if messages_of[owner] > 1:
            coordinates = {**coordinates, "item": len(per_record.get(owner, []))}
        log_outcome(message, outcome, coordinates)
        per_record.setdefault(owner, []).append(outcome)
    final = [
        status if status is not None else responder.record_status(per_record[number])
        for number, status in enumerate(statuses)
    ]
    summary = responder.queue_summary(batch.trigger, final)
    invocation.summary.update({name.lower(): value for name, value in summary.items()})
    left = [batch.records[number].coordinates for number, status in enumerate(final) if status is Status.RETRYABLE]
    if left:
        logger.error(
            "records left for redelivery: raising so SCF retries the batch",
            extra={"event": "batch_retry", "records_left": left[:100], "records_left_count": len(left)},
        )
        raise RetryLater(json.dumps(summary))
    return summary


def _record_messages(
    record: SourceRecord, settings: Settings, invocation: Invocation
) -> tuple[list[ConversionMessage] | None, str | None]:
    """A record's messages, or (None, reason) after logging it as skipped. Never raises."""
    reason = record.problem
    exception: str | None = None
    if reason is None:
        try:
            return (
                parse_messages(
                    record.payload,
                    now=invocation.instance.clock.now(),
                    default_app_id=settings.SMS_SDK_APP_ID,
                    publish_time=record.publish_time,
                ),
                None,
            )
        except InvalidMessage as exc:
            reason = str(exc)
        except Exception as exc:  # the per-record boundary: one bad record never fails the batch
            exception = type(exc).__name__
            reason = f"unexpected {exception} while validating the record"
            logger.error(
                "unexpected error validating a record",
                extra={"event": "unexpected_error", "exception": exception, "traceback": safe_traceback(exc)},
            )
    fields: dict[str, Any] = {
        "event": "record",
        "outcome": "skipped",
        "coordinates": record.coordinates,
        "reason": reason,
    }
    if exception is not None:
        fields["exception"] = exception
    logger.warning("record skipped", extra=fields)
    return None, reason


# ---- direct --------------------------------------------------------------------------------


def direct_flow(direct: DirectInvocation, invocation: Invocation) -> dict[str, Any]:
    """The HTTP body with StatusCode inside; raises RetryLater only when a retry can help."""
    settings = invocation.settings
    if settings is None:
        return invocation.misconfigured(str(invocation.config_problem)).as_direct()
    answer = report_payload(direct.payload, settings, invocation)
    invocation.summary["status"] = answer.status
    if answer.retryable:
        raise RetryLater(json.dumps(answer.as_direct(), ensure_ascii=False))
    return answer.as_direct()


# ---- per-message log lines -----------------------------------------------------------------

_LEVELS = {
    Status.REPORTED: logging.INFO,
    Status.DUPLICATE: logging.INFO,
    Status.SKIPPED: logging.WARNING,
    Status.RETRYABLE: logging.WARNING,
}


def log_outcome(message: ConversionMessage, outcome: Outcome, coordinates: dict[str, Any] | None) -> None:
    fields: dict[str, Any] = {
        "event": "record",
        "outcome": responder.outcome_label(outcome.status, queue=coordinates is not None),
        "serial_no": message.SerialNo,
        "sms_sdk_app_id": message.SmsSdkAppId,
        "api_request_id": outcome.request_id,
        "latency_ms": round(outcome.latency_ms, 1),
        "attempts": outcome.attempts,
    }
    if coordinates is not None:
        fields["coordinates"] = coordinates
    if outcome.code:
        fields["code"] = outcome.code
    if outcome.message and outcome.status is not Status.REPORTED:
        fields["reason"] = outcome.message
    logger.log(_LEVELS[outcome.status], "record %s", fields["outcome"], extra=fields)

"""One small flow per answer kind: HTTP, queue, direct. Each goes down the stages once:
adapted event → messages → the reporting pipeline → log lines → answer.

Results are objects (a record, its conversions, their outcomes), never parallel
lists matched back by index. Configuration problems and missing credentials are
raised to the handler, whose exception map answers them in the trigger's shape.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from . import codes, logs, responder
from .auth import authenticate
from .clock import Deadline
from .instance import WarmInstance
from .logs import LOGGER_NAME, safe_traceback
from .message import ConversionMessage, InvalidMessage, parse_messages
from .outcome import DeploymentFault, Status
from .pipeline import Conversion
from .responder import Answer, DeploymentFaultRaised, RetryLater
from .settings import ConfigurationError, Settings
from .sources import CmqPush, Coordinates, DirectInvocation, EventBridgeBatch, HttpRequest, QueueBatch, SourceRecord

logger = logging.getLogger(LOGGER_NAME)

MAX_RECORDS_LEFT_TEXT = 300


class Invocation:
    """One invocation's state, shared by the flows: who, when, with which settings."""

    __slots__ = (
        "_misconfiguration_logged",
        "config_problem",
        "instance",
        "request_id",
        "settings",
        "started",
        "summary",
        "time_limit",
    )

    def __init__(
        self,
        instance: WarmInstance,
        request_id: str,
        started: float,
        time_limit: float,
        settings: Settings | None,
        config_problem: str | None = None,
    ) -> None:
        self.instance = instance
        self.request_id = request_id
        self.started = started
        self.time_limit = time_limit
        self.settings = settings
        self.config_problem = config_problem
        self.summary: dict[str, Any] = {}
        self._misconfiguration_logged = False

    def configured(self) -> Settings:
        """The settings, or ConfigurationError naming the bad variable (the handler answers it)."""
        if self.settings is None:
            raise ConfigurationError(str(self.config_problem))
        return self.settings

    def answered(self, answer: Answer) -> dict[str, Any]:
        """An HTTP answer, its status kept for the invocation's line."""
        self.summary["status"] = answer.status
        return answer.as_http()

    def misconfigured(self, reason: str, code: str = codes.MISCONFIGURED) -> Answer:
        """Log the `misconfigured` event (once per invocation) and build the 500 answer."""
        if not self._misconfiguration_logged:
            self._misconfiguration_logged = True
            logger.error("misconfigured", extra={"event": "misconfigured", "code": code, "reason": reason})
        return responder.misconfigured(code, reason, self.request_id)

    def deadline(self, messages: int) -> Deadline:
        settings = self.settings
        # Marking the last record done is one Redis operation, every step within REDIS_TIMEOUT_SECONDS
        # (redislink): keep that time too, so the platform never kills us.
        reserve = settings.REDIS_TIMEOUT_SECONDS if settings is not None and settings.REDIS_URL else 0.0
        deadline = Deadline.for_invocation(self.instance.clock, self.started, self.time_limit, reserve, messages)
        if logs.debugging():
            budget = deadline.remaining()
            logs.debug(
                "deadline",
                f"{budget * 1000:.0f} ms to report {messages} message(s) of a {self.time_limit * 1000:.0f} ms limit "
                f"(kept back: the answer, the wind-down{', one Redis operation' if reserve else ''})",
                budget_ms=round(budget * 1000, 1),
                time_limit_ms=round(self.time_limit * 1000, 1),
                messages=messages,
            )
        return deadline

    def report(self, settings: Settings, conversions: Sequence[Conversion]) -> list[DeploymentFault]:
        """Through the pipeline, then one log line per message and one per deployment fault met."""
        faults: list[DeploymentFault] = []
        if conversions:
            pipeline = self.instance.pipeline(settings)
            faults = pipeline.report(conversions, self.deadline(len(conversions)))
        now = self.instance.clock.now()
        for conversion in conversions:
            log_conversion(conversion, now)
        if faults:
            log_deployment_fault(faults)
        return faults


# ---- HTTP ----------------------------------------------------------------------------------


def http_flow(request: HttpRequest, invocation: Invocation) -> dict[str, Any]:
    """405, then 413, then configuration, then 401, then the body (400), then the messages."""
    request_id = invocation.request_id
    if request.method != "POST":
        return invocation.answered(responder.method_not_allowed(request_id))
    if request.problem is not None and request.problem.status == codes.PAYLOAD_TOO_LARGE:
        return invocation.answered(responder.body_problem(request.problem, request_id))
    settings = invocation.configured()
    refusal = _admitted(request, settings, invocation, push=False)
    if refusal is not None:
        return invocation.answered(refusal)
    if request.problem is not None:
        return invocation.answered(responder.body_problem(request.problem, request_id))
    return invocation.answered(report_payload(request.payload, settings, invocation))


def push_flow(push: CmqPush, invocation: Invocation) -> dict[str, Any]:
    """A TDMQ-CMQ push: HTTP on the way in (405, configuration, its token), queue semantics for its message."""
    if push.request.method != "POST":
        return invocation.answered(responder.method_not_allowed(invocation.request_id))
    settings = invocation.configured()
    refusal = _admitted(push.request, settings, invocation, push=True)
    if refusal is not None:
        return invocation.answered(refusal)
    return invocation.answered(_push(push.record, settings, invocation))


def _admitted(request: HttpRequest, settings: Settings, invocation: Invocation, push: bool) -> Answer | None:
    """None when the caller proves who it is (or nothing is configured to ask: said once); the 401 otherwise."""
    if not settings.signing_secrets and not settings.CMQ_PUSH_TOKEN and invocation.instance.first_open_request():
        logger.warning(
            "HTTP route is open to anyone: set REPORT_SIGNING_SECRET (see docs/security.md#signing)",
            extra={"event": "unauthenticated_endpoint"},
        )
    now = invocation.instance.clock.now()
    failure = authenticate(request, settings.signing_secrets, settings.CMQ_PUSH_TOKEN, now, push=push)
    if failure is None:
        return None
    logger.warning("unauthenticated request refused", extra={"event": "unauthorized", "code": failure.code})
    return responder.unauthorized(failure.code, failure.message, invocation.request_id)


def _push(record: SourceRecord, settings: Settings, invocation: Invocation) -> Answer:
    """A poison message is acknowledged (200): the queue would redeliver it for a day."""
    result = RecordResult.of(record, settings, invocation)
    if result.problem is not None:
        return responder.push_skipped(record.coordinates, result.problem, invocation.request_id)
    invocation.report(settings, result.conversions)
    return responder.results(result.conversions, invocation.request_id, queue_semantics=True)


def report_payload(payload: Any, settings: Settings, invocation: Invocation) -> Answer:
    """An HTTP body or a direct invocation: validated whole, allowlisted whole, then reported."""
    request_id = invocation.request_id
    try:
        messages = parse_messages(payload, now=invocation.instance.clock.now(), default_app_id=settings.SMS_SDK_APP_ID)
    except InvalidMessage as exc:
        logger.warning("invalid message", extra={"event": "invalid_message", "reason": str(exc)})
        return responder.invalid_message(exc.errors, request_id, exc.too_large)
    refused = invocation.instance.app_policy(settings).refused(messages)
    if refused:
        # Arrays are all or nothing, as for validation.
        indexes = refused if isinstance(payload, list) else [None]
        logger.warning(
            "app id not allowed",
            extra={"event": "app_id_not_allowed", "indexes": ",".join(str(index) for index in refused)},
        )
        return responder.not_allowed(indexes, request_id)
    items = range(len(messages)) if isinstance(payload, list) else [None]
    conversions = [Conversion(message, item=item) for message, item in zip(messages, items, strict=True)]
    invocation.report(settings, conversions)
    return responder.results(conversions, request_id)


# ---- queues --------------------------------------------------------------------------------


class RecordResult:
    """One queue record: its conversions, or why it is poison."""

    __slots__ = ("conversions", "problem", "record")

    def __init__(
        self, record: SourceRecord, conversions: list[Conversion] | None = None, problem: str | None = None
    ) -> None:
        self.record = record
        self.conversions = conversions or []
        self.problem = problem

    @classmethod
    def of(cls, record: SourceRecord, settings: Settings, invocation: Invocation) -> RecordResult:
        """A record's conversions, or its problem after logging it as skipped. Never raises."""
        messages, problem = _record_messages(record, settings, invocation)
        if messages is None:
            return cls(record, problem=problem)
        several = len(messages) > 1
        conversions = [
            Conversion(message, origin=record.coordinates, item=item if several else None)
            for item, message in enumerate(messages)
        ]
        return cls(record, conversions)

    @property
    def statuses(self) -> list[Status]:
        """Its messages' statuses; a poison record counts as one skipped message."""
        if self.problem is not None:
            return [Status.SKIPPED]
        return [conversion.outcome.status for conversion in self.conversions if conversion.outcome is not None]

    @property
    def failed(self) -> bool:
        return Status.FAILED in self.statuses


def queue_flow(batch: QueueBatch | EventBridgeBatch, invocation: Invocation) -> dict[str, Any]:
    """Every record processed; raises RetryLater (after the whole batch) when a retry can help."""
    settings = invocation.configured()
    records = [RecordResult.of(record, settings, invocation) for record in batch.records]
    faults = invocation.report(settings, [conversion for result in records for conversion in result.conversions])
    summary = responder.queue_summary(
        batch.trigger, len(records), [status for result in records for status in result.statuses]
    )
    invocation.summary.update({name.lower(): value for name, value in summary.items() if name != "Trigger"})
    left = [result.record.coordinates for result in records if result.failed]
    if left:
        text = ", ".join(coordinates.short() for coordinates in left)
        if len(text) > MAX_RECORDS_LEFT_TEXT:
            text = text[: MAX_RECORDS_LEFT_TEXT - 1] + "…"
        logger.warning(
            "records left for redelivery: raising so SCF retries the batch",
            extra={"event": "batch_retry", "records_left_count": len(left), "records_left": text},
        )
        if faults:
            first = faults[0]
            raise DeploymentFaultRaised(f"{first.code}: {first.hint}; {json.dumps(summary)}")
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
    fields: dict[str, Any] = {"event": "record", "outcome": "skipped", **record.coordinates.fields(), "reason": reason}
    if exception is not None:
        fields["exception"] = exception
    logger.warning("record skipped", extra=fields)
    return None, reason


# ---- direct --------------------------------------------------------------------------------


def direct_flow(direct: DirectInvocation, invocation: Invocation) -> dict[str, Any]:
    """The HTTP body with StatusCode inside; raises RetryLater only when a retry can help."""
    answer = report_payload(direct.payload, invocation.configured(), invocation)
    invocation.summary["status"] = answer.status
    if answer.retryable:
        raise RetryLater(json.dumps(answer.as_direct(), ensure_ascii=False))
    return answer.as_direct()


# ---- log lines -----------------------------------------------------------------------------

_LEVELS = {
    Status.REPORTED: logging.INFO,
    Status.DUPLICATE: logging.INFO,
    Status.SKIPPED: logging.WARNING,
    Status.FAILED: logging.WARNING,
}


def log_conversion(conversion: Conversion, now: float) -> None:
    """One line per message, carrying what is needed to report it again (`make backfill --from-logs`)."""
    message, outcome = conversion.message, conversion.outcome
    if outcome is None:
        return
    fields: dict[str, Any] = {
        "event": "record",
        "outcome": outcome.status.value,
        "serial_no": message.SerialNo,
        "sms_sdk_app_id": message.SmsSdkAppId,
        "attempts": outcome.attempts,
        "latency_ms": round(outcome.latency_ms, 1),
    }
    if message.ConversionTime is not None:
        fields["conversion_time"] = message.ConversionTime
        if outcome.status is Status.REPORTED:
            fields["lag_seconds"] = max(0, round(now - message.ConversionTime))
    if outcome.request_id:
        fields["api_request_id"] = outcome.request_id
    if isinstance(conversion.origin, Coordinates):
        fields.update(conversion.origin.fields())
    if conversion.item is not None:
        fields["item"] = conversion.item
    if outcome.code:
        fields["code"] = outcome.code
    if outcome.message and outcome.status is not Status.REPORTED:
        fields["reason"] = outcome.message
    logger.log(_LEVELS[outcome.status], "record %s", fields["outcome"], extra=fields)


def log_deployment_fault(faults: Sequence[DeploymentFault]) -> None:
    """One ERROR line per invocation: the first fault met, and how many there were."""
    first = faults[0]
    fields: dict[str, Any] = {
        "event": "deployment_fault",
        "code": first.code,
        "scope": first.scope.value,
        "hint": first.hint,
        "reason": first.message,
        "faults": len(faults),
    }
    if first.app_id is not None:
        fields["sms_sdk_app_id"] = first.app_id
    logger.error("deployment fault: reporting stopped; %s", first.hint, extra=fields)

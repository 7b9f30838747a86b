"""One invocation, end to end: event → source adapter → messages → reports → answer.

`Application` also owns what a warm instance keeps between invocations: SDK
clients (and their connections), the rate limiter's window and the in-memory
idempotency store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import logs
from .batch import BatchReporter
from .clock import Clock, Deadline, SystemClock, time_limit_seconds
from .credentials import MissingCredentialsError, RoleCredential
from .idempotency import IdempotencyStore, MemoryStore, RedisStore
from .message import ConversionMessage, InvalidMessage, parse_messages, plausible_publish_time
from .outcome import Outcome, Status
from .ratelimit import RateLimiter
from .reporter import ClientPool, ConversionReporter, CredentialSource
from .responder import Answer, RetryLater, error, invalid_message, outcome_label, queue_summary, results
from .settings import ConfigurationError, Settings, load_settings
from .sources import (
    BadRequest,
    DirectInvocation,
    HttpRequest,
    QueueBatch,
    SourceRecord,
    UnrecognisedEvent,
    cmq_push_record,
    decode_record_body,
    recognise,
)

logger = logging.getLogger(logs.LOGGER_NAME)

# Triggers whose messages carry a publish time that may stand in for ConversionTime.
_PUBLISH_TIME_TRIGGERS = ("cmq", "cmq_push")


@dataclass
class _Batch:
    """A queue batch after validation and reporting."""

    messages: list[ConversionMessage] = field(default_factory=list)
    coordinates: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    skipped_records: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def counts(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        for outcome in self.outcomes:
            counts[outcome.status] += 1
        counts[Status.SKIPPED] += len(self.skipped_records)
        return counts


class Application:
    def __init__(
        self,
        clock: Clock | None = None,
        credential: CredentialSource | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.environ = environ
        self.credential = credential or RoleCredential(environ)
        self.rate_limiter = RateLimiter(self.clock, 1000)
        self.memory_store = MemoryStore(self.clock)
        self._pool: ClientPool | None = None
        self._redis: tuple[tuple[str, float], RedisStore] | None = None
        self._cold = True

    # ---- warm-instance collaborators -------------------------------------------------

    def client_pool(self, settings: Settings) -> ClientPool:
        key = (settings.endpoint, settings.SMS_REGION, settings.SMS_LANGUAGE)
        if self._pool is None or self._pool.key != key:
            self._pool = ClientPool(self.credential, *key)
        return self._pool

    def idempotency_store(self, settings: Settings) -> IdempotencyStore | None:
        if settings.IDEMPOTENCY_TTL_SECONDS == 0:
            return None
        if settings.REDIS_URL is None:
            return self.memory_store
        key = (settings.REDIS_URL, settings.REDIS_TIMEOUT_SECONDS)
        if self._redis is None or self._redis[0] != key:
            self._redis = (key, RedisStore.from_url(*key))
        return self._redis[1]

    def batch_reporter(self, settings: Settings) -> BatchReporter:
        self.rate_limiter.set_limit(settings.SMS_MAX_RPS)
        reporter = ConversionReporter(
            self.client_pool(settings),
            self.clock,
            self.rate_limiter,
            settings.SMS_TIMEOUT_SECONDS,
            settings.SMS_MAX_ATTEMPTS,
        )
        return BatchReporter(
            reporter, self.idempotency_store(settings), settings.IDEMPOTENCY_TTL_SECONDS, settings.SMS_CONCURRENCY
        )

    # ---- one invocation --------------------------------------------------------------

    def handle(self, event: Any, context: Any) -> Any:
        started = self.clock.monotonic()
        context = context if isinstance(context, dict) else {}
        request_id = str(context.get("request_id") or "local")
        cold, self._cold = self._cold, False
        logs.invocation_fields.fields = {"request_id": request_id, "cold_start": cold}
        summary: dict[str, Any] = {}
        try:
            try:
                settings: Settings | None = load_settings(self.environ)
                config_problem = None
            except ConfigurationError as exc:
                settings, config_problem = None, str(exc)
            logs.configure(settings.LOG_LEVEL if settings else "INFO")
            # A Redis that stops answering may hold the last record's "done" mark for
            # up to its timeout: keep that time too, so the platform never kills us.
            reserve = settings.REDIS_TIMEOUT_SECONDS if settings and settings.REDIS_URL else 0.0
            limit = time_limit_seconds(context.get("time_limit_in_ms"))
            deadline = Deadline.for_invocation(self.clock, started, limit, reserve)
            try:
                invocation = recognise(event)
            except UnrecognisedEvent as exc:
                summary["trigger"] = "unknown"
                logger.error("unrecognised event", extra={"event": "unrecognised_event", "reason": str(exc)})
                return error(400, "InvalidParameter.UnrecognisedEvent", str(exc), request_id).as_direct()
            trigger = _trigger_name(invocation)
            summary["trigger"] = logs.invocation_fields.fields["trigger"] = trigger
            if isinstance(invocation, HttpRequest):
                answer = self._http(invocation, settings, config_problem, deadline, request_id)
                summary["status"] = answer.status
                return answer.as_http(allow="POST" if answer.status == 405 else None)
            if settings is None:
                if isinstance(invocation, QueueBatch):
                    # Raise: the batch is redelivered once the operator fixes the variable.
                    logger.error("misconfigured", extra={"event": "misconfigured", "reason": config_problem})
                    raise ConfigurationError(str(config_problem))
                return self._misconfigured(str(config_problem), request_id).as_direct()
            if isinstance(invocation, QueueBatch):
                return self._queue(invocation, settings, deadline, summary)
            answer = self._report_payload(invocation.payload, settings, deadline, request_id)
            summary["status"] = answer.status
            if answer.retryable:
                raise RetryLater(json.dumps(answer.as_direct(), ensure_ascii=False))
            return answer.as_direct()
        finally:
            logger.info(
                "invocation finished",
                extra={
                    "event": "invocation",
                    **summary,
                    "duration_ms": round((self.clock.monotonic() - started) * 1000, 1),
                },
            )
            logs.invocation_fields.fields = {}

    # ---- per trigger -----------------------------------------------------------------

    def _http(
        self,
        request: HttpRequest,
        settings: Settings | None,
        config_problem: str | None,
        deadline: Deadline,
        request_id: str,
    ) -> Answer:
        if request.method != "POST":
            return error(405, "UnsupportedOperation.MethodNotAllowed", "use POST", request_id)
        try:
            text = request.body_bytes().decode("utf-8")
        except BadRequest as exc:
            return error(exc.status, exc.code, str(exc), request_id)
        except UnicodeDecodeError:
            return error(400, "InvalidParameter.MalformedBody", "body is not UTF-8 text", request_id)
        if settings is None:
            return self._misconfigured(str(config_problem), request_id)
        if request.is_queue_push:
            return self._cmq_push(request, text, settings, deadline, request_id)
        try:
            payload = json.loads(text)
        except ValueError as exc:
            return error(
                400, "InvalidParameter.MalformedJson", f"body is not valid JSON: {_json_error(exc)}", request_id
            )
        return self._report_payload(payload, settings, deadline, request_id)

    def _report_payload(self, payload: Any, settings: Settings, deadline: Deadline, request_id: str) -> Answer:
        try:
            messages = parse_messages(payload, now=self.clock.now(), default_app_id=settings.SMS_SDK_APP_ID)
        except InvalidMessage as exc:
            logger.warning("invalid message", extra={"event": "invalid_message", "reason": str(exc)})
            return invalid_message(exc.errors, request_id, exc.too_large)
        try:
            self.credential.get_credential_info()
        except MissingCredentialsError as exc:
            return self._misconfigured(str(exc), request_id, code="InternalError.MissingCredentials")
        outcomes = self.batch_reporter(settings).report_all(messages, deadline)
        for message, outcome in zip(messages, outcomes, strict=True):
            _log_outcome(message, outcome, None)
        return results(messages, outcomes, request_id)

    def _cmq_push(
        self, request: HttpRequest, text: str, settings: Settings, deadline: Deadline, request_id: str
    ) -> Answer:
        try:
            batch = self._process_records("cmq_push", [cmq_push_record(request, text)], settings, deadline)
        except MissingCredentialsError as exc:
            return self._misconfigured(str(exc), request_id, code="InternalError.MissingCredentials")
        if batch.skipped_records:
            coordinates, reason = batch.skipped_records[0]
            # 2xx on purpose: the queue would redeliver a poison message for a day.
            body = {"Outcome": "skipped", "MsgId": coordinates.get("msgId"), "Reason": reason, "RequestId": request_id}
            return Answer(200, body)
        return results(batch.messages, batch.outcomes, request_id, queue_semantics=True)

    def _queue(
        self, invocation: QueueBatch, settings: Settings, deadline: Deadline, summary: dict[str, Any]
    ) -> dict[str, Any]:
        batch = self._process_records(invocation.trigger, invocation.records, settings, deadline)
        counts = batch.counts()
        answer = queue_summary(invocation.trigger, counts, len(invocation.records))
        summary.update({name.lower(): value for name, value in answer.items()})
        if counts[Status.RETRYABLE]:
            left = [
                coordinates
                for coordinates, outcome in zip(batch.coordinates, batch.outcomes, strict=True)
                if outcome.status is Status.RETRYABLE
            ]
            logger.error(
                "records left for redelivery: raising so SCF retries the batch",
                extra={"event": "batch_retry", "records_left": left[:100], "records_left_count": len(left)},
            )
            raise RetryLater(json.dumps(answer))
        return answer

    def _process_records(
        self, trigger: str, records: list[SourceRecord], settings: Settings, deadline: Deadline
    ) -> _Batch:
        batch = _Batch()
        now = self.clock.now()
        for record in records:
            reason = record.problem
            if reason is None:
                try:
                    payload = decode_record_body(record.body)
                    publish_time = (
                        plausible_publish_time(record.publish_time, now) if trigger in _PUBLISH_TIME_TRIGGERS else None
                    )
                    messages = parse_messages(
                        payload, now=now, default_app_id=settings.SMS_SDK_APP_ID, publish_time=publish_time
                    )
                except (ValueError, InvalidMessage) as exc:
                    reason = str(exc)
                else:
                    batch.messages.extend(messages)
                    for index in range(len(messages)):
                        batch.coordinates.append(
                            {**record.coordinates, "item": index} if len(messages) > 1 else record.coordinates
                        )
            if reason is not None:
                batch.skipped_records.append((record.coordinates, reason))
                logger.warning(
                    "record skipped",
                    extra={
                        "event": "record",
                        "outcome": "skipped",
                        "coordinates": record.coordinates,
                        "reason": reason,
                    },
                )
        if not batch.messages:
            return batch
        self.credential.get_credential_info()
        batch.outcomes = self.batch_reporter(settings).report_all(batch.messages, deadline)
        for message, coordinates, outcome in zip(batch.messages, batch.coordinates, batch.outcomes, strict=True):
            _log_outcome(message, outcome, coordinates)
        return batch

    def _misconfigured(self, reason: str, request_id: str, code: str = "InternalError.Misconfiguration") -> Answer:
        logger.error("misconfigured", extra={"event": "misconfigured", "reason": reason})
        return error(500, code, reason, request_id)


def _trigger_name(invocation: HttpRequest | QueueBatch | DirectInvocation) -> str:
    if isinstance(invocation, (HttpRequest, QueueBatch)):
        return invocation.trigger
    return "direct"


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "cannot decode"


_LEVELS = {
    Status.REPORTED: logging.INFO,
    Status.DUPLICATE: logging.INFO,
    Status.SKIPPED: logging.WARNING,
    Status.RETRYABLE: logging.WARNING,
}


def _log_outcome(message: ConversionMessage, outcome: Outcome, coordinates: dict[str, Any] | None) -> None:
    fields: dict[str, Any] = {
        "event": "record",
        "outcome": outcome_label(outcome.status, queue=coordinates is not None),
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

"""Every field a log line of this function can carry, with the type CLS indexes it as.

One list for the code (the formatter's contract), the tests (every line they
capture holds only these, each a scalar) and the deployment (the CLS topic's
key-value index, and the alarm and dashboard queries, are built from it). CLS
splits a JSON line into fields only at the top level, so no value is an object
or an array. Types are CLS's key-value index types: `text`, `long`, `double`.
"""

from __future__ import annotations

LOG_FIELDS: dict[str, str] = {
    # every line
    "time": "text",
    "level": "text",
    "message": "text",
    "event": "text",
    "request_id": "text",
    "cold_start": "text",
    "trigger": "text",
    # one message's outcome (event "record")
    "outcome": "text",
    "serial_no": "text",
    "sms_sdk_app_id": "text",
    "conversion_time": "long",
    "api_request_id": "text",
    "latency_ms": "double",
    "attempts": "long",
    "lag_seconds": "long",
    "code": "text",
    "reason": "text",
    "exception": "text",
    # where a queue message came from
    "topic": "text",
    "partition": "long",
    "offset": "long",
    "msg_id": "text",
    # an EventBridge event's own id, source and type (CloudEvents)
    "event_id": "text",
    "event_source": "text",
    "event_type": "text",
    "record": "long",
    "item": "long",
    # event "deployment_fault"
    "hint": "text",
    "scope": "text",
    "faults": "long",
    # event "invocation"
    "status": "long",
    "records": "long",
    "messages": "long",
    "reported": "long",
    "duplicates": "long",
    "skipped": "long",
    "failed": "long",
    "duration_ms": "double",
    "raised": "text",
    # event "batch_retry"
    "records_left_count": "long",
    "records_left": "text",
    # event "unexpected_error"
    "traceback": "text",
    # event "app_id_not_allowed"
    "indexes": "text",
    # DEBUG lines (LOG_LEVEL=DEBUG): adapter, call_attempt, idempotency, rate_wait, deadline
    "connection": "text",
    "verdict": "text",
    "claim": "text",
    "limiter": "text",
    "wait_ms": "double",
    "budget_ms": "double",
    "time_limit_ms": "double",
    "resolve_ms": "double",
}

# The `event` values, for queries and alarms.
EVENTS = (
    "record",
    "invocation",
    "deployment_fault",
    "batch_retry",
    "misconfigured",
    "unexpected_error",
    "unrecognised_event",
    "invalid_message",
    "app_id_not_allowed",
    "unauthorized",
    "unauthenticated_endpoint",
    "idempotency_unavailable",
    "fleet_limit_unavailable",
    "redis_misconfigured",
    # at DEBUG only
    "adapter",
    "call_attempt",
    "idempotency",
    "rate_wait",
    "deadline",
)

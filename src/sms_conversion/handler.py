"""One invocation's lifecycle: context, settings, adapter, the flow for its trigger, and the last-resort boundary.

Whatever goes wrong, an HTTP event gets a well-formed integration response, a
queue event raises (so SCF redelivers) and a direct invocation gets the 500
body; the `unexpected_error` log line holds the exception's type and a
redacted traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from . import logs, responder
from .clock import time_limit_seconds
from .flows import Invocation, direct_flow, http_flow, queue_flow
from .instance import WarmInstance
from .responder import InvocationFailed, RetryLater
from .settings import ConfigurationError, Settings, load_settings
from .sources import HttpRequest, QueueBatch, UnrecognisedEvent, adapt

logger = logging.getLogger(logs.LOGGER_NAME)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
HTTP, QUEUE, DIRECT = "http", "queue", "direct"


class Application:
    """One warm instance's handler. Collaborators (clock, credentials, environment, store) are given
    to the WarmInstance: `Application(WarmInstance(clock=...))` in tests, `Application()` on SCF."""

    def __init__(self, instance: WarmInstance | None = None) -> None:
        self.instance = instance or WarmInstance()
        # The first stage, as an attribute: where a test injects a fault into the adapter.
        self.adapt = adapt

    def handle(self, event: Any, context: Any) -> Any:
        clock = self.instance.clock
        started = clock.monotonic()
        context = context if isinstance(context, dict) else {}
        request_id = _request_id(context.get("request_id"))
        logs.invocation_fields.fields = {"request_id": request_id, "cold_start": self.instance.take_cold_start()}
        kind = _kind(event)
        invocation: Invocation | None = None
        try:
            invocation = self._begin(context, started, request_id)
            return self._run(event, kind, invocation)
        except (RetryLater, ConfigurationError):
            raise  # deliberate: the platform redelivers, and the reason was logged
        except Exception as exc:
            logger.error(
                "unexpected error",
                extra={
                    "event": "unexpected_error",
                    "exception": type(exc).__name__,
                    "traceback": logs.safe_traceback(exc),
                },
            )
            if kind == QUEUE:
                raise InvocationFailed(f"unexpected {type(exc).__name__}; see the unexpected_error log line") from None
            answer = responder.unexpected(request_id)
            return answer.as_http() if kind == HTTP else answer.as_direct()
        finally:
            summary = invocation.summary if invocation is not None else {}
            logger.info(
                "invocation finished",
                extra={
                    "event": "invocation",
                    **summary,
                    "duration_ms": round((clock.monotonic() - started) * 1000, 1),
                },
            )
            logs.invocation_fields.fields = {}

    def _begin(self, context: dict[str, Any], started: float, request_id: str) -> Invocation:
        limit = time_limit_seconds(context.get("time_limit_in_ms"))
        settings: Settings | None
        try:
            settings = load_settings(self.instance.environ)
            _check_against_limit(settings, limit)
            # Built now (it connects to nothing) so a URL redis-py refuses is a named misconfiguration.
            self.instance.idempotency_store(settings)
            problem = None
        except ConfigurationError as exc:
            settings, problem = None, str(exc)
        except Exception as exc:
            settings, problem = (
                None,
                f"invalid configuration: REDIS_URL: rejected by the Redis client ({type(exc).__name__})",
            )
        logs.configure(settings.LOG_LEVEL if settings else "INFO")
        return Invocation(self.instance, request_id, started, limit, settings, problem)

    def _run(self, event: Any, kind: str, invocation: Invocation) -> Any:
        try:
            adapted = self.adapt(event, self.instance.clock.now())
        except UnrecognisedEvent as exc:
            invocation.summary["trigger"] = "unknown"
            logger.error("unrecognised event", extra={"event": "unrecognised_event", "reason": str(exc)})
            answer = responder.unrecognised(str(exc), invocation.request_id)
            return answer.as_http() if kind == HTTP else answer.as_direct()
        trigger = adapted.trigger if isinstance(adapted, (HttpRequest, QueueBatch)) else "direct"
        invocation.summary["trigger"] = logs.invocation_fields.fields["trigger"] = trigger
        if isinstance(adapted, HttpRequest):
            answer = http_flow(adapted, invocation)
            invocation.summary["status"] = answer.status
            return answer.as_http()
        if isinstance(adapted, QueueBatch):
            return queue_flow(adapted, invocation)
        return direct_flow(adapted, invocation)


def _kind(event: object) -> str:
    """What answer shape the event needs, decided before anything can fail."""
    if isinstance(event, dict):
        if "Records" in event or event.get("type") == "connector:tdmq":
            return QUEUE
        if "httpMethod" in event:
            return HTTP
    return DIRECT


def _check_against_limit(settings: Settings, limit: float) -> None:
    if settings.REDIS_URL and limit < settings.REDIS_TIMEOUT_SECONDS * 2:
        raise ConfigurationError(
            "invalid configuration: REDIS_TIMEOUT_SECONDS: must be at most half the function's time limit "
            f"({limit:g} s), or a silent Redis would outlast the invocation"
        )


def _request_id(raw: object) -> str:
    """The SCF request id, if it looks like one: it is echoed in answers and every log line."""
    if isinstance(raw, str) and _REQUEST_ID.fullmatch(raw):
        return raw
    return "local"

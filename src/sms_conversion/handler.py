"""One invocation's lifecycle: context, settings, the adapter, the flow for its answer kind, and the boundary.

The adapter that recognises the event decides the answer kind once. Whatever
goes wrong after that, the exception map below answers in that kind's shape:
an HTTP event gets a well-formed integration response, a queue event raises
(so SCF redelivers) and a direct invocation gets the 500 body; the
`unexpected_error` log line holds the exception's type and a redacted traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from . import codes, logs, responder
from .clock import time_limit_seconds
from .credentials import MissingCredentialsError
from .flows import Invocation, direct_flow, http_flow, push_flow, queue_flow
from .instance import WarmInstance
from .responder import DeploymentFaultRaised, InvocationFailed, RetryLater
from .settings import ConfigurationError, Settings, check_against_limit, load_settings
from .sources import (
    DIRECT,
    AnswerKind,
    CmqPush,
    DirectInvocation,
    EventBridgeBatch,
    HttpRequest,
    QueueBatch,
    Source,
    UnrecognisedEvent,
    adapt,
    recognise,
)

logger = logging.getLogger(logs.LOGGER_NAME)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


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
        source = _recognised(event)
        fields = {"request_id": request_id, "cold_start": self.instance.take_cold_start(), "trigger": source.trigger}
        with logs.invocation(fields):
            return self._handle(event, context, source, request_id, started)

    def _handle(self, event: Any, context: dict[str, Any], source: Source, request_id: str, started: float) -> Any:
        clock = self.instance.clock
        invocation: Invocation | None = None
        raised: str | None = None
        try:
            invocation = self._begin(context, started, request_id)
            return self._run(source, event, invocation)
        except Exception as exc:
            try:
                return self._answer_exception(exc, source.answer, invocation, request_id)
            except Exception as final:
                raised = _raise_reason(final)
                raise
        finally:
            summary = invocation.summary if invocation is not None else {}
            fields: dict[str, Any] = {
                "event": "invocation",
                **summary,
                "duration_ms": round((clock.monotonic() - started) * 1000, 1),
            }
            if raised is not None:
                fields["raised"] = True
                fields["reason"] = raised
            # The reason of a raise was logged at ERROR by its own event (or is a retry): this line is the summary.
            logger.log(logging.WARNING if "raised" in fields else logging.INFO, "invocation finished", extra=fields)

    def _begin(self, context: dict[str, Any], started: float, request_id: str) -> Invocation:
        limit = time_limit_seconds(context.get("time_limit_in_ms"))
        settings: Settings | None
        try:
            settings = load_settings(self.instance.environ)
            check_against_limit(settings, limit)
            _check_redis_url(self.instance, settings)
            problem = None
        except ConfigurationError as exc:
            settings, problem = None, str(exc)
        logs.configure(settings.LOG_LEVEL if settings else "INFO")
        return Invocation(self.instance, request_id, started, limit, settings, problem)

    def _run(self, source: Source, event: Any, invocation: Invocation) -> Any:
        if logs.debugging():
            logs.debug("adapter", f"{source.trigger} adapter: the event has {source.shape}", reason=source.shape)
        try:
            adapted = self.adapt(source, event, self.instance.clock.now())
        except UnrecognisedEvent as exc:
            logger.error("unrecognised event", extra={"event": "unrecognised_event", "reason": str(exc)})
            return _shaped(responder.unrecognised(str(exc), invocation.request_id), source.answer, invocation)
        # The adapter's type decides the flow (and with it the answer's shape): nothing guesses again.
        flow: Callable[[Any, Invocation], Any] = FLOWS[type(adapted)]
        return flow(adapted, invocation)

    def _answer_exception(
        self, exc: Exception, kind: AnswerKind, invocation: Invocation | None, request_id: str
    ) -> Any:
        """The boundary: the registry's answer for the exception, in the shape the trigger needs (or a raise)."""
        answer_for: ExceptionAnswer = _lookup(EXCEPTION_ANSWERS, exc)
        return answer_for(exc, kind, invocation, request_id)


# ---- the flow of each adapted type ----------------------------------------------------------------

FLOWS: dict[type, Callable[[Any, Invocation], Any]] = {
    HttpRequest: http_flow,
    CmqPush: push_flow,
    QueueBatch: queue_flow,
    EventBridgeBatch: queue_flow,
    DirectInvocation: direct_flow,
}


# ---- the exception registry: one answer per exception type, in each answer kind's shape ------------------

ExceptionAnswer = Callable[[Exception, AnswerKind, "Invocation | None", str], Any]


def _shaped(answer: responder.Answer, kind: AnswerKind, invocation: Invocation | None) -> Any:
    """An answer in the kind's shape; a queue raises instead (redelivery is the only answer it has)."""
    if invocation is not None:
        invocation.summary["status"] = answer.status
    return answer.as_http() if kind is AnswerKind.HTTP else answer.as_direct()


def _redeliver(exc: Exception, kind: AnswerKind, invocation: Invocation | None, request_id: str) -> Any:
    raise exc  # deliberate: the platform redelivers, and the reason was logged


def _misconfigured(exc: Exception, kind: AnswerKind, invocation: Invocation | None, request_id: str) -> Any:
    if invocation is None:  # never met: a configuration problem is known once the invocation exists
        return _unexpected(exc, kind, invocation, request_id)
    code = codes.MISSING_CREDENTIALS if isinstance(exc, MissingCredentialsError) else codes.MISCONFIGURED
    answer = invocation.misconfigured(str(exc), code)
    if kind is AnswerKind.QUEUE:
        # Raise: the batch is redelivered once the operator fixes the variable.
        raise ConfigurationError(str(exc)) from None
    return _shaped(answer, kind, invocation)


def _unexpected(exc: Exception, kind: AnswerKind, invocation: Invocation | None, request_id: str) -> Any:
    logger.error(
        "unexpected error",
        extra={"event": "unexpected_error", "exception": type(exc).__name__, "traceback": logs.safe_traceback(exc)},
    )
    if kind is AnswerKind.QUEUE:
        raise InvocationFailed(f"unexpected {type(exc).__name__}; see the unexpected_error log line") from None
    return _shaped(responder.unexpected(request_id), kind, invocation)


EXCEPTION_ANSWERS: dict[type[Exception], ExceptionAnswer] = {
    RetryLater: _redeliver,
    ConfigurationError: _misconfigured,
    MissingCredentialsError: _misconfigured,
    Exception: _unexpected,
}
# Why an invocation raised, for its `invocation` line.
RAISE_REASONS: dict[type[Exception], str] = {
    DeploymentFaultRaised: "deployment_fault",
    RetryLater: "retry",
    ConfigurationError: "misconfigured",
    Exception: "unexpected_error",
}


def _lookup(table: dict[type[Exception], Any], exc: Exception) -> Any:
    """The entry of the nearest class in the exception's hierarchy (Exception catches the rest)."""
    return next(table[cls] for cls in type(exc).__mro__ if cls in table)


def _raise_reason(exc: Exception) -> str:
    return str(_lookup(RAISE_REASONS, exc))


def _check_redis_url(instance: WarmInstance, settings: Settings) -> None:
    """Builds the Redis client now (it connects to nothing), so a URL redis-py refuses is a named misconfiguration."""
    try:
        instance.idempotency_store(settings)
    except ValueError as exc:  # redis-py's word for a URL it cannot read; its text may hold the password
        raise ConfigurationError(
            f"invalid configuration: REDIS_URL: rejected by the Redis client ({type(exc).__name__})"
        ) from None


def _recognised(event: object) -> Source:
    try:
        return recognise(event)
    except Exception:  # recognise reads only top-level keys; a hostile mapping type could still raise
        return DIRECT


def _request_id(raw: object) -> str:
    """The SCF request id, if it looks like one: it is echoed in answers and every log line."""
    if isinstance(raw, str) and _REQUEST_ID.fullmatch(raw):
        return raw
    return "local"

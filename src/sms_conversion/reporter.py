"""Report one conversion through the official SDK: retries, deadline, classification.

Clients: the SDK's client holds one `requests.Session` and is not thread-safe
(its maintainers say "one client per thread"), so a `ClientPool` lends each
worker a client of its own for the length of one report and takes it back
afterwards. The pool lives for the warm instance, so connections are reused
across records and invocations: N reports open at most `SMS_CONCURRENCY`
connections, not N.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import RetryCallState, Retrying, stop_after_attempt, stop_any, wait_random_exponential
from tenacity.stop import stop_base
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from . import transport
from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline
from .logs import redact
from .message import ConversionMessage
from .outcome import Outcome, Status, not_attempted, reported
from .ratelimit import Limiter
from .settings import Endpoint

RETRYABLE_API_PREFIXES = (
    "RequestLimitExceeded",
    "InternalError",
    "ServiceUnavailable",
    "ResourceUnavailable",
)
TOKEN_FAILURE = "AuthFailure.TokenFailure"  # noqa: S105 - an error code, not a password
# Codes the SDK raises itself for a request it refuses to send: retrying cannot help.
SDK_CLIENT_CODES = frozenset({"ClientError", "ClientParamsError", "ClientSideError", "InvalidCredential"})
# The SDK wraps an unexpected Python exception (a garbled body, say) with the
# exception's class name as the code: the API's answer could not be read.
_PYTHON_EXCEPTION_NAME = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception)$")
UNREADABLE_ANSWER = "InternalError.UnreadableAnswer"
MAX_ERROR_MESSAGE = 300


class CredentialSource(Protocol):
    def get_credential_info(self) -> tuple[str, str, str | None]: ...


class UpstreamError(Exception):
    """A failed attempt, reduced to what may be shown: code, message, request id, and whether to retry."""

    def __init__(self, code: str, message: str, request_id: str | None, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id
        self.retryable = retryable


class _NoTimeLeft(Exception):
    pass


class _StopBeforeDeadline(stop_base):
    """Stop when the next attempt, after its backoff, would have no time for a useful call."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._deadline.remaining() - retry_state.upcoming_sleep < MIN_USEFUL_CALL_SECONDS


def is_retryable_api_code(code: str) -> bool:
    """An error code answered by the API (or wrapped by the SDK) that a later attempt may not get."""
    if code == TOKEN_FAILURE or code.startswith(RETRYABLE_API_PREFIXES):
        return True
    return code not in SDK_CLIENT_CODES and bool(_PYTHON_EXCEPTION_NAME.match(code))


@dataclass
class _Client:
    sdk: sms_client.SmsClient
    transport: transport.BoundedAdapter


class ClientPool:
    """SDK clients for one endpoint and region, each used by one thread at a time."""

    def __init__(self, credential: CredentialSource, endpoint: Endpoint, region: str, language: str) -> None:
        self.key = (endpoint, region, language)
        self.credential = credential
        self._idle: list[_Client] = []
        self._lock = threading.Lock()

    @contextmanager
    def lease(self) -> Iterator[_Client]:
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._new_client()
        try:
            yield client
        finally:
            with self._lock:
                self._idle.append(client)

    def _new_client(self) -> _Client:
        endpoint, region, language = self.key
        http = HttpProfile(protocol=endpoint.protocol, endpoint=endpoint.host, reqTimeout=60, keepAlive=True)
        # Never the SDK's StandardRetryer: it re-raises a stale error after a success
        # and sleeps after the last attempt. Retries are ours (tenacity, below).
        profile = ClientProfile(httpProfile=http, language=language)
        client = sms_client.SmsClient(self.credential, region, profile)
        session = client.request.conn._session
        # The SDK already resolved HTTP(S)_PROXY / NO_PROXY for this host when the
        # client was built and passes them explicitly; left on, `requests` scans the
        # whole environment again on every call (a quarter of a call's CPU, measured).
        session.trust_env = False
        return _Client(client, transport.install(session))


class ConversionReporter:
    """Calls ReportConversion for one message, retrying what a retry can fix."""

    def __init__(
        self,
        pool: ClientPool,
        clock: Clock,
        limiters: Sequence[Limiter],
        timeout_seconds: float,
        max_attempts: int,
        backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._limiters = limiters
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds

    def report(self, message: ConversionMessage, deadline: Deadline) -> Outcome:
        started = self._clock.monotonic()
        token_failures = 0

        def should_retry(state: RetryCallState) -> bool:
            nonlocal token_failures
            error = state.outcome.exception() if state.outcome else None
            if not isinstance(error, UpstreamError):
                return False
            if error.code == TOKEN_FAILURE:
                # An expired role token: the next request re-reads the variables; once is enough.
                token_failures += 1
                return token_failures == 1
            return error.retryable

        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self._max_attempts), _StopBeforeDeadline(deadline)),
            wait=wait_random_exponential(multiplier=self._backoff, max=self._max_backoff),
            retry=should_retry,
            sleep=self._clock.sleep,
            reraise=True,
        )
        attempts = 0

        def attempt() -> str | None:
            nonlocal attempts
            attempts += 1
            return self._call(message, deadline)

        try:
            request_id = retrying(attempt)
        except _NoTimeLeft:
            return not_attempted("no time left before the invocation's deadline", attempts=attempts - 1)
        except UpstreamError as error:
            # A token failure is never final: the role's next token may work (and a
            # redelivery re-reads it), so it is always left for a retry.
            return Outcome(
                Status.RETRYABLE if error.retryable else Status.SKIPPED,
                code=error.code,
                message=error.message,
                request_id=error.request_id,
                attempts=attempts,
                latency_ms=(self._clock.monotonic() - started) * 1000,
            )
        return reported(request_id, attempts, (self._clock.monotonic() - started) * 1000)

    def _call(self, message: ConversionMessage, deadline: Deadline) -> str | None:
        request = models.ReportConversionRequest()
        request.SmsSdkAppId = message.SmsSdkAppId
        request.SerialNo = message.SerialNo
        request.ConversionTime = message.ConversionTime
        with self._pool.lease() as client:
            # The rate slot is taken last, with the client in hand, so the call starts right after it.
            if not deadline.allows_call() or not all(limiter.acquire(deadline) for limiter in self._limiters):
                raise _NoTimeLeft()
            budget = max(MIN_USEFUL_CALL_SECONDS, min(self._timeout, deadline.remaining()))
            # The SDK's timeout bounds each socket operation; the adapter bounds the whole call.
            client.sdk.request.conn.timeout = budget
            client.transport.budget = budget
            try:
                response = client.sdk.ReportConversion(request)
            except TencentCloudSDKException as exc:
                raise self._upstream_error(exc, client.transport) from None
        return self._accepted(response)

    def _accepted(self, response: Any) -> str | None:
        """The API's request id when the answer says "ok"; an UpstreamError otherwise."""
        request_id = response.RequestId if isinstance(response.RequestId, str) else None
        status = response.ReportConversionStatus
        code = getattr(status, "Code", None)
        if not isinstance(code, str):
            # The SDK reads an error body only under an exact Content-Type; any
            # other answer without a status is a failure we cannot interpret.
            raise UpstreamError(
                "InternalError.MissingStatus", "the API answered without ReportConversionStatus", request_id, True
            )
        if code.lower() != "ok":
            refused = f"FailedOperation.{code}" if "." not in code else code
            return_message = self._clean(getattr(status, "Message", None)) or "report refused"
            raise UpstreamError(self._clean(refused), return_message, request_id, False)
        return request_id

    def _upstream_error(self, exc: TencentCloudSDKException, adapter: transport.BoundedAdapter) -> UpstreamError:
        raw_code = exc.get_code()
        request_id = exc.get_request_id()
        request_id = request_id if isinstance(request_id, str) and request_id else None
        if not isinstance(raw_code, str) or not raw_code:
            # An error body the SDK passed through without a usable code: unreadable, so retry.
            return UpstreamError(UNREADABLE_ANSWER, "the API answered with an unreadable error", request_id, True)
        code = self._clean(raw_code)
        if code == "ServerNetworkError":
            status = adapter.last_status
            retryable = status is None or status >= 500 or status in (408, 429)
            shown = f"HTTP {status}" if status is not None else "an HTTP error status"
            return UpstreamError(code, f"the API answered with {shown}", None, retryable)
        if code == "ClientNetworkError":
            failure = adapter.last_failure
            reason = type(failure).__name__ if failure is not None else "network error"
            if isinstance(failure, transport.CallTimedOut):
                reason = str(failure)
            return UpstreamError(
                code, f"network error calling the API: {reason}", None, transport.is_transient(failure)
            )
        return UpstreamError(code, self._clean(exc.get_message()), request_id, is_retryable_api_code(code))

    def _clean(self, value: object) -> str:
        """Upstream text made safe to show: credential values and signatures redacted, then shortened."""
        try:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
        except Exception:  # a value whose str() fails (an int of 5000 digits) says nothing useful
            text = f"<{type(value).__name__}>"
        try:
            secrets = self._pool.credential.get_credential_info()
        except Exception:  # no credentials now: nothing of theirs to redact
            secrets = ("", "", None)
        return redact(text, extra=secrets)[:MAX_ERROR_MESSAGE]

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Protocol

from tenacity import RetryCallState, Retrying, stop_after_attempt, stop_any, wait_random_exponential
from tenacity.stop import stop_base
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline
from .message import ConversionMessage
from .outcome import Outcome, Status, not_attempted, reported
from .ratelimit import RateLimiter
from .settings import Endpoint

RETRYABLE_PREFIXES = (
    "ClientNetworkError",
    "ServerNetworkError",
    "RequestLimitExceeded",
    "InternalError",
    "ServiceUnavailable",
    "ResourceUnavailable",
)
TOKEN_FAILURE = "AuthFailure.TokenFailure"  # noqa: S105 - an error code, not a password
APP_ID_VERIFY_FAIL = "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
# The SDK wraps an unexpected Python exception (a garbled body, say) with the
# exception's class name as the code: the API's answer never arrived.
_PYTHON_EXCEPTION_NAME = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception)$")
_MAX_ERROR_MESSAGE = 300


class CredentialSource(Protocol):
    def get_credential_info(self) -> tuple[str, str, str | None]: ...


class UpstreamError(Exception):
    """A failed attempt, reduced to what may be shown: code, message, request id."""

    def __init__(self, code: str, message: str, request_id: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


class _NoTimeLeft(Exception):
    pass


class _StopBeforeDeadline(stop_base):
    """Stop when the next attempt, after its backoff, would have no time for a useful call."""

    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._deadline.remaining() - retry_state.upcoming_sleep < MIN_USEFUL_CALL_SECONDS


def is_retryable(code: str) -> bool:
    if code.startswith(RETRYABLE_PREFIXES):
        return True
    return bool(_PYTHON_EXCEPTION_NAME.match(code)) and "." not in code


def http_status_for(code: str) -> int:
    if code == APP_ID_VERIFY_FAIL:
        return 403
    if code.startswith("RequestLimitExceeded"):
        return 429
    return 502


class ClientPool:
    """SDK clients for one endpoint and region, each used by one thread at a time."""

    def __init__(self, credential: CredentialSource, endpoint: Endpoint, region: str, language: str) -> None:
        self.key = (endpoint, region, language)
        self._credential = credential
        self._idle: list[sms_client.SmsClient] = []
        self._lock = threading.Lock()
        self.created = 0

    @contextmanager
    def lease(self) -> Iterator[sms_client.SmsClient]:
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._new_client()
        try:
            yield client
        finally:
            with self._lock:
                self._idle.append(client)

    def _new_client(self) -> sms_client.SmsClient:
        endpoint, region, language = self.key
        http = HttpProfile(protocol=endpoint.protocol, endpoint=endpoint.host, reqTimeout=60, keepAlive=True)
        # Never the SDK's StandardRetryer: it re-raises a stale error after a success
        # and sleeps after the last attempt. Retries are ours (tenacity, below).
        profile = ClientProfile(httpProfile=http, language=language)
        with self._lock:
            self.created += 1
        client = sms_client.SmsClient(self._credential, region, profile)
        # The SDK already resolved HTTP(S)_PROXY / NO_PROXY for this host when the
        # client was built and passes them explicitly; left on, `requests` scans the
        # whole environment again on every call (a quarter of a call's CPU, measured).
        client.request.conn._session.trust_env = False
        return client


def _set_call_timeout(client: sms_client.SmsClient, seconds: float) -> None:
    # The SDK fixes its timeout when the client is built; the connection object
    # it passes to `requests` on every call is where a per-call value goes.
    client.request.conn.timeout = seconds


class ConversionReporter:
    """Calls ReportConversion for one message, retrying what a retry can fix."""

    def __init__(
        self,
        pool: ClientPool,
        clock: Clock,
        rate_limiter: RateLimiter,
        timeout_seconds: float,
        max_attempts: int,
        backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._rate_limiter = rate_limiter
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
            return is_retryable(error.code)

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
            return replace(not_attempted("no time left before the invocation's deadline"), attempts=attempts - 1)
        except UpstreamError as error:
            latency = (self._clock.monotonic() - started) * 1000
            retryable = is_retryable(error.code) or (error.code == TOKEN_FAILURE and token_failures > 1)
            return Outcome(
                Status.RETRYABLE if retryable else Status.SKIPPED,
                http_status_for(error.code),
                code=error.code,
                message=error.message,
                request_id=error.request_id,
                attempts=attempts,
                latency_ms=latency,
                retry_after=1 if error.code.startswith("RequestLimitExceeded") else None,
            )
        return reported(request_id, attempts, (self._clock.monotonic() - started) * 1000)

    def _call(self, message: ConversionMessage, deadline: Deadline) -> str | None:
        if not deadline.allows_call() or not self._rate_limiter.acquire(deadline):
            raise _NoTimeLeft()
        request = models.ReportConversionRequest()
        request.SmsSdkAppId = message.SmsSdkAppId
        request.SerialNo = message.SerialNo
        request.ConversionTime = message.ConversionTime
        with self._pool.lease() as client:
            _set_call_timeout(client, max(MIN_USEFUL_CALL_SECONDS, min(self._timeout, deadline.remaining())))
            try:
                response = client.ReportConversion(request)
            except TencentCloudSDKException as exc:
                raise _upstream_error(exc) from None
        status = response.ReportConversionStatus
        if status is None or not isinstance(status.Code, str):
            # The SDK reads an error body only under an exact Content-Type; any
            # other answer without a status is a failure we cannot interpret.
            raise UpstreamError(
                "InternalError.MissingStatus", "the API answered without ReportConversionStatus", response.RequestId
            )
        if status.Code.lower() != "ok":
            code = f"FailedOperation.{status.Code}" if "." not in status.Code else status.Code
            raise UpstreamError(code, _clean(status.Message) or "report refused", response.RequestId)
        return response.RequestId if isinstance(response.RequestId, str) else None


def _upstream_error(exc: TencentCloudSDKException) -> UpstreamError:
    code = exc.get_code() or "InternalError"
    message: Any = exc.get_message()
    if code == "ServerNetworkError":
        # The SDK puts the raw HTTP body here (bytes); keep it short.
        message = "the API answered with an HTTP error status"
    elif code == "ClientNetworkError":
        message = "network error calling the API: " + _clean(message).split(" (Caused by")[0]
    return UpstreamError(code, _clean(message), exc.get_request_id() or None)


def _clean(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
    return text[:_MAX_ERROR_MESSAGE]

"""Report one conversion through the official SDK: the call, its retries, and the classifier's verdict.

Clients: the SDK's client is not thread-safe (its maintainers say "one client
per thread", and each holds one connection: `transport.Connection`), so a
`ClientPool` lends each worker a client of its own for the length of one report
and takes it back afterwards. The pool lives for the warm instance, so connections are reused
across records and invocations: N reports open at most `SMS_CONCURRENCY`
connections, not N.

Retries are a loop of a dozen lines (docs/development.md#dependencies): jittered
exponential backoff, attempts and the deadline as the stop conditions.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol

from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from . import classifier, logs, transport
from .classifier import Kind, Verdict
from .clock import MIN_USEFUL_CALL_SECONDS, Clock, Deadline
from .logs import redact
from .message import ConversionMessage
from .outcome import DeploymentFault, Outcome, Status
from .settings import Endpoint

MAX_ERROR_MESSAGE = 300
_STATUS_OF = {Kind.REPORTED: Status.REPORTED, Kind.REFUSED: Status.SKIPPED}


class CredentialSource(Protocol):
    def get_credential_info(self) -> tuple[str, str, str | None]: ...


class _Client(NamedTuple):
    sdk: sms_client.SmsClient
    transport: transport.Transport


class ClientPool:
    """SDK clients for one endpoint and region, each used by one thread at a time.

    `transport`: makes what carries each client's requests, from the SDK's own connection object (the
    keep-alive `transport.Connection`; tests give an in-process one).
    """

    def __init__(
        self,
        credential: CredentialSource,
        endpoint: Endpoint,
        region: str,
        language: str,
        transport_factory: transport.TransportFactory = transport.Connection.replacing,
    ) -> None:
        self.key = (endpoint, region, language)
        self.credential = credential
        self._transport = transport_factory
        self._idle: list[_Client] = []
        self._lock = threading.Lock()
        # A proxy the transport cannot use is the operator's to fix: ConfigurationError naming the variable.
        transport.check_proxy(endpoint.host, endpoint.protocol == "http")

    def close(self) -> None:
        """Close every idle client's connection (the pool is being replaced: another endpoint or region)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.transport.close()

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
        # and sleeps after the last attempt. Retries are ours (below).
        profile = ClientProfile(httpProfile=http, language=language)
        client = sms_client.SmsClient(self.credential, region, profile)
        # The SDK resolved the proxy (HTTPS_PROXY / NO_PROXY) and the CA bundle for this host when the
        # client was built; the transport takes them from its connection object and replaces it.
        return _Client(client, transport.install(client, self._transport))


class _Stopped(Exception):
    """No call was made: the gate refused it (no time left, a deployment fault stopped this app id)."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


Admit = Callable[[], Outcome | None]


class ConversionReporter:
    """Calls ReportConversion for one message, retrying what the classifier says a retry can fix, and returns
    its outcome. Whether each attempt may start is the pipeline's gate (`admit`); the breaker is the
    pipeline's too: a deployment fault comes back in `outcome.fault`."""

    def __init__(
        self,
        pool: ClientPool,
        clock: Clock,
        timeout_seconds: float,
        max_attempts: int,
        backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 2.0,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self._timeout = timeout_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds

    def report(self, message: ConversionMessage, deadline: Deadline, own_app: bool, admit: Admit) -> Outcome:
        """One message's outcome. `own_app`: its app id is the operator's (see `classifier.classify_code`);
        `admit`: the gate, asked with a client in hand before each attempt (an outcome when it refuses)."""
        started = self._clock.monotonic()
        attempts = 0
        token_retried = False
        while True:
            try:
                attempts += 1
                verdict = self._call(message, deadline, own_app, admit, attempts)
            except _Stopped as stopped:
                if attempts == 1:
                    return stopped.outcome
                # Stopped before a retry: the last attempt's verdict stands, it was not "not attempted".
                attempts -= 1
                break
            if verdict.kind is not Kind.RETRY or attempts >= self._max_attempts:
                break
            if verdict.retry_once:
                # An expired role token: the next request re-reads the variables; once is enough.
                if token_retried:
                    break
                token_retried = True
            pause = random.uniform(0, min(self._max_backoff, self._backoff * 2 ** (attempts - 1)))
            if deadline.remaining() - pause < MIN_USEFUL_CALL_SECONDS:
                break
            self._clock.sleep(pause)
        return self._outcome(verdict, message, attempts, (self._clock.monotonic() - started) * 1000)

    def _outcome(self, verdict: Verdict, message: ConversionMessage, attempts: int, latency_ms: float) -> Outcome:
        fault = None
        if verdict.kind is Kind.DEPLOYMENT_FAULT:
            assert verdict.hint is not None
            assert verdict.scope is not None
            assert verdict.code is not None
            app_id = message.SmsSdkAppId if verdict.scope is classifier.Scope.APP else None
            fault = DeploymentFault(verdict.code, verdict.message, verdict.hint, verdict.scope, app_id)
        return Outcome(
            _STATUS_OF.get(verdict.kind, Status.FAILED),
            verdict.http_status,
            code=verdict.code,
            message=verdict.message if verdict.kind is not Kind.REPORTED else None,
            request_id=verdict.request_id,
            attempts=attempts,
            latency_ms=latency_ms,
            fault=fault,
        )

    def _call(
        self, message: ConversionMessage, deadline: Deadline, own_app: bool, admit: Admit, attempt: int
    ) -> Verdict:
        request = models.ReportConversionRequest()
        request.SmsSdkAppId = message.SmsSdkAppId
        request.SerialNo = message.SerialNo
        request.ConversionTime = message.ConversionTime
        with self._pool.lease() as client:
            refusal = admit()  # with the client in hand: the call starts right after the rate slot
            if refusal is not None:
                raise _Stopped(refusal)
            budget = max(MIN_USEFUL_CALL_SECONDS, min(self._timeout, deadline.remaining()))
            # The timeout bounds each socket operation; the budget, the whole call.
            client.transport.timeout = budget
            client.transport.budget = budget
            started = self._clock.monotonic()
            try:
                verdict = self._answer_verdict(client.sdk.ReportConversion(request))
            except TencentCloudSDKException as exc:
                verdict = self._error_verdict(exc, client.transport, own_app)
            if logs.debugging():
                self._say_attempt(message, attempt, client.transport, verdict, self._clock.monotonic() - started)
        return verdict

    def _say_attempt(
        self, message: ConversionMessage, attempt: int, wire: transport.Transport, verdict: Verdict, seconds: float
    ) -> None:
        connection = "reused" if wire.last_reused else "opened"
        logs.debug(
            "call_attempt",
            f"attempt {attempt} of {message.SerialNo}: {verdict.kind.value} ({verdict.code or 'ok'}) "
            f"in {seconds * 1000:.1f} ms on a connection {connection}",
            serial_no=message.SerialNo,
            attempts=attempt,
            connection=connection,
            latency_ms=round(seconds * 1000, 1),
            status=wire.last_status,
            verdict=verdict.kind.value,
            code=verdict.code,
            resolve_ms=None if wire.last_resolve_ms is None else round(wire.last_resolve_ms, 2),
        )

    def _answer_verdict(self, response: Any) -> Verdict:
        request_id = response.RequestId if isinstance(response.RequestId, str) else None
        status = response.ReportConversionStatus
        code = getattr(status, "Code", None)
        if not isinstance(code, str):
            return classifier.missing_status(request_id)
        if code.lower() == "ok":
            return classifier.reported(request_id)
        return classifier.classify_status(self._clean(code), self._clean(getattr(status, "Message", None)), request_id)

    def _error_verdict(self, exc: TencentCloudSDKException, adapter: transport.Transport, own_app: bool) -> Verdict:
        raw_code = exc.get_code()
        request_id = exc.get_request_id()
        request_id = request_id if isinstance(request_id, str) and request_id else None
        if not isinstance(raw_code, str) or not raw_code:
            # An error body the SDK passed through without a usable code: unreadable.
            return classifier.unreadable_error(request_id)
        code = self._clean(raw_code)
        if code == classifier.SERVER_NETWORK_ERROR:
            return classifier.classify_http_status(adapter.last_status)
        if code == classifier.CLIENT_NETWORK_ERROR:
            failure = adapter.last_failure
            # The cause in words (transport.failure_of): "certificate verify failed: self-signed certificate".
            reason = self._clean(str(failure) or type(failure).__name__) if failure is not None else "no answer"
            return classifier.classify_network_failure(reason, transport.is_transient(failure))
        return classifier.classify_code(code, self._clean(exc.get_message()), request_id, own_app)

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

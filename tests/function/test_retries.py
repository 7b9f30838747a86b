"""Retries: what the classifier says a retry can fix is retried, within the attempts and the deadline;
what it cannot, never."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import body_of, ckafka_event, http_event, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.responder import RetryLater


def report_one(app: Application, serial: str = "s-1", **context: Any) -> Any:
    return app.handle({"SerialNo": serial}, scf_context(**context))


@pytest.mark.parametrize(
    "fault",
    [
        Fault(error_code="InternalError.SendAndRecvFail", times=2),
        Fault(error_code="InternalError", times=2),
        Fault(error_code="RequestLimitExceeded.UinLimitExceeded", times=2),
        Fault(error_code="ServiceUnavailable", times=2),
        Fault(error_code="ResourceUnavailable", times=2),
        Fault(http_status=502, times=2),
        Fault(drop=True, times=2),
    ],
)
def test_transient_failures_are_retried_until_success(app: Application, scf_env: SmsEmulator, fault: Fault) -> None:
    scf_env.inject(fault)
    result = report_one(app)
    assert result["StatusCode"] == 200
    assert scf_env.snapshot()["requests"] == 3
    assert len(scf_env.reports) == 1


@pytest.mark.parametrize(
    "code", ["InvalidParameterValue", "InvalidParameter.X", "MissingParameter", "FailedOperation.X", "LimitExceeded.X"]
)
def test_a_refusal_of_the_message_is_never_retried(app: Application, scf_env: SmsEmulator, code: str) -> None:
    scf_env.inject(Fault(error_code=code, times=5))
    result = report_one(app)
    assert (result["StatusCode"], result["Error"]["Code"], result["Retryable"]) == (422, code, False)
    assert scf_env.snapshot()["requests"] == 1


def test_token_failure_is_retried_once(app: Application, scf_env: SmsEmulator) -> None:
    scf_env.inject(Fault(error_code="AuthFailure.TokenFailure"))
    assert report_one(app)["StatusCode"] == 200
    assert scf_env.snapshot()["requests"] == 2


def test_token_failure_twice_is_given_up_and_left_for_redelivery(app: Application, scf_env: SmsEmulator) -> None:
    scf_env.inject(Fault(error_code="AuthFailure.TokenFailure", times=5))
    with pytest.raises(RetryLater):
        report_one(app)
    assert scf_env.snapshot()["requests"] == 2


def test_attempts_are_bounded(app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "3")
    scf_env.inject(Fault(error_code="InternalError", times=10))
    with pytest.raises(RetryLater):
        report_one(app)
    assert scf_env.snapshot()["requests"] == 3


@pytest.mark.parametrize(
    ("attempts", "faults"),
    [
        ("1", [Fault(error_code="AuthFailure.TokenFailure")]),
        ("2", [Fault(error_code="InternalError"), Fault(error_code="AuthFailure.TokenFailure")]),
    ],
)
def test_a_token_failure_on_the_last_attempt_is_left_for_redelivery(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, attempts: str, faults: list[Fault]
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", attempts)
    scf_env.inject(*faults)
    with pytest.raises(RetryLater) as caught:
        app.handle(ckafka_event([{"SerialNo": "tok-1"}]), scf_context())
    assert json.loads(str(caught.value))["Failed"] == 1


@pytest.mark.parametrize(
    ("status", "requests", "answer"),
    [(404, 1, 503), (400, 1, 503), (403, 1, 503), (408, 3, 502), (429, 3, 502), (503, 3, 502)],
)
def test_only_transient_http_statuses_are_retried_and_a_4xx_is_the_endpoints_fault(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, status: int, requests: int, answer: int
) -> None:
    """The SMS API answers every error as HTTP 200: a 404 means SMS_ENDPOINT is not the API (a deployment fault)."""
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "3")
    scf_env.inject(Fault(http_status=status, times=9))
    response = app.handle(http_event({"SerialNo": "n-1"}), scf_context())
    assert scf_env.snapshot()["requests"] == requests
    body = body_of(response)
    assert response["statusCode"] == answer
    assert body["Error"] == {"Code": "ServerNetworkError", "Message": f"the API answered with HTTP {status}"}
    assert body["Retryable"] is True
    assert ("Hint" in body) is (answer == 503)


@pytest.mark.parametrize(
    "raw",
    [
        '{"Response": {"Error": {"Code": 123, "Message": "odd"}, "RequestId": "r"}}',
        '{"Response": {"Error": {"Code": null}, "RequestId": "r"}}',
        '{"Nothing": 1}',
        "[]",
    ],
)
def test_an_answer_the_sdk_cannot_interpret_is_retried_and_releases_the_claim(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(raw_body=raw))
    with pytest.raises(RetryLater):
        app.handle(ckafka_event([{"SerialNo": "odd-1"}]), scf_context())
    assert app.handle(ckafka_event([{"SerialNo": "odd-1"}]), scf_context())["Reported"] == 1

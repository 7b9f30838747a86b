"""Direct invocation (console test, Invoke API, local invoke): the HTTP body with its status inside."""

from __future__ import annotations

import json

import pytest
from conftest import load_event, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.responder import RetryLater


def test_single_message(app: Application, scf_env: SmsEmulator) -> None:
    result = app.handle(load_event("direct.json"), scf_context())
    assert result["StatusCode"] == 200
    assert result["Results"][0]["Outcome"] == "reported"
    assert result["Results"][0]["RequestId"] == scf_env.reports[0]["RequestId"]


def test_array_of_messages(app: Application, scf_env: SmsEmulator) -> None:
    result = app.handle(load_event("direct_batch.json"), scf_context())
    assert result["StatusCode"] == 200
    assert len(scf_env.reports) == 2


def test_invalid_message_returns_a_400_body_and_does_not_raise(app: Application, scf_env: SmsEmulator) -> None:
    result = app.handle({"SerialNo": "x", "ConversionTime": True}, scf_context())
    assert result["StatusCode"] == 400
    assert result["Errors"][0]["Field"] == "ConversionTime"
    assert scf_env.snapshot()["requests"] == 0


def test_non_retryable_upstream_failure_returns_without_raising(app: Application, scf_env: SmsEmulator) -> None:
    result = app.handle({"SerialNo": "x", "SmsSdkAppId": "1400009999"}, scf_context())
    assert result["StatusCode"] == 403


def test_retryable_failure_raises_so_an_async_invoke_is_retried(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(error_code="ServiceUnavailable"))
    with pytest.raises(RetryLater) as caught:
        app.handle({"SerialNo": "x"}, scf_context())
    assert json.loads(str(caught.value))["StatusCode"] == 502


@pytest.mark.parametrize("event", ["a string", 17, None])
def test_unrecognised_event_is_a_clear_400(app: Application, scf_env: SmsEmulator, event: object) -> None:
    result = app.handle(event, scf_context())
    assert result["StatusCode"] == 400
    assert result["Error"]["Code"] == "InvalidParameter.UnrecognisedEvent"
    assert "JSON object or array" in result["Error"]["Message"]


def test_timer_event_is_refused_by_name(app: Application, scf_env: SmsEmulator) -> None:
    result = app.handle(
        {"Type": "Timer", "TriggerName": "EveryDay", "Time": "2019-02-21T11:49:00Z", "Message": ""}, scf_context()
    )
    assert result["StatusCode"] == 400
    assert "timer" in result["Error"]["Message"]


def test_index_main_handler_is_the_wired_entry_point(scf_env: SmsEmulator) -> None:
    import index

    event = load_event("direct.json")
    index.main_handler(event, scf_context())
    # The module-level application is the warm instance: a second call is answered from its memory.
    result = index.main_handler(event, scf_context())
    assert result["StatusCode"] == 200
    assert result["Results"] == [
        {
            "SerialNo": event["SerialNo"],
            "Outcome": "duplicate",
            "Message": "already reported within the idempotency TTL",
        }
    ]
    assert isinstance(index.application, Application)

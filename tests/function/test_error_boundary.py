"""The error boundary: a fault injected at each stage (adapter, model, store, reporter, responder) is answered
in the trigger's documented shape, and nothing else is lost."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TEMPORARY_KEY, body_of, ckafka_event, events_named, http_event, log_lines, scf_context
from pytest_mock import MockerFixture

from emulator import SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.idempotency import MemoryStore
from sms_conversion.instance import WarmInstance
from sms_conversion.message import ConversionMessage
from sms_conversion.reporter import ConversionReporter
from sms_conversion.responder import Answer, InvocationFailed, RetryLater

SECRET_IN_ERROR = "boom " + TEMPORARY_KEY.secret_key


def test_a_fault_in_the_adapter_gives_http_a_500_integration_response(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    mocker.patch.object(app, "adapt", side_effect=RuntimeError(SECRET_IN_ERROR))
    response = app.handle(http_event({"SerialNo": "b-1"}), scf_context())
    assert response["statusCode"] == 500
    assert body_of(response) == {
        "Error": {
            "Code": "InternalError.Unexpected",
            "Message": "the function failed unexpectedly; see its logs for this RequestId",
        },
        "RequestId": "test-request",
    }
    output = capsys.readouterr().out
    [line] = events_named(output, "unexpected_error")
    assert line["exception"] == "RuntimeError"
    assert "Traceback (most recent call last)" in line["traceback"]
    assert TEMPORARY_KEY.secret_key not in output


def test_a_fault_in_the_adapter_makes_a_queue_raise_for_redelivery(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    mocker.patch.object(app, "adapt", side_effect=KeyError(SECRET_IN_ERROR))
    with pytest.raises(InvocationFailed) as caught:
        app.handle(ckafka_event([{"SerialNo": "b-2"}]), scf_context())
    assert str(caught.value) == "unexpected KeyError; see the unexpected_error log line"
    assert len(events_named(capsys.readouterr().out, "unexpected_error")) == 1


def test_a_fault_in_the_adapter_gives_a_direct_invocation_the_500_body(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture
) -> None:
    mocker.patch.object(app, "adapt", side_effect=MemoryError())
    result = app.handle({"SerialNo": "b-3"}, scf_context())
    assert result["StatusCode"] == 500
    assert result["Error"]["Code"] == "InternalError.Unexpected"


def test_a_fault_in_the_model_makes_one_poison_record_and_the_rest_are_reported(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    real = ConversionMessage.model_validate

    def validate(item: Any, **kwargs: Any) -> ConversionMessage:
        if item.get("SerialNo") == "poison":
            raise TypeError(SECRET_IN_ERROR)
        return real(item, **kwargs)

    mocker.patch.object(ConversionMessage, "model_validate", side_effect=validate)
    summary = app.handle(
        ckafka_event([{"SerialNo": "m-0"}, {"SerialNo": "poison"}, {"SerialNo": "m-2"}]), scf_context()
    )
    assert summary == {
        "Trigger": "ckafka",
        "Records": 3,
        "Messages": 3,
        "Reported": 2,
        "Duplicates": 0,
        "Skipped": 1,
        "Failed": 0,
    }
    output = capsys.readouterr().out
    [skipped] = [line for line in log_lines(output) if line.get("outcome") == "skipped"]
    assert (skipped["record"], skipped["topic"], skipped["partition"], skipped["offset"]) == (
        1,
        "verification-success",
        0,
        1,
    )
    assert skipped["exception"] == "TypeError"
    assert TEMPORARY_KEY.secret_key not in output


class BrokenStore(MemoryStore):
    def claim(self, key: str, token: str, in_progress_ms: int, budget_seconds: float = 0.0) -> Any:
        raise RuntimeError(SECRET_IN_ERROR)


def test_a_fault_in_the_store_never_fails_the_report(
    scf_env: SmsEmulator, clock: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Application(WarmInstance(clock, store=BrokenStore(clock)))
    result = app.handle({"SerialNo": "s-1"}, scf_context())
    assert result["StatusCode"] == 200
    assert len(scf_env.reports) == 1
    [warning] = events_named(capsys.readouterr().out, "idempotency_unavailable")
    assert warning["reason"] == "RuntimeError"


def test_a_fault_in_the_reporter_is_retryable_and_releases_the_claim(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    mocker.patch.object(ConversionReporter, "report", side_effect=ValueError(SECRET_IN_ERROR))
    with pytest.raises(RetryLater):
        app.handle(ckafka_event([{"SerialNo": "r-1"}]), scf_context())
    assert len(events_named(capsys.readouterr().out, "unexpected_error")) == 1
    mocker.stopall()
    # The claim was released: the redelivery reports it rather than answering "in progress".
    summary = app.handle(ckafka_event([{"SerialNo": "r-1"}]), scf_context())
    assert summary["Reported"] == 1


def test_a_fault_in_the_reporter_is_a_500_over_http(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture
) -> None:
    mocker.patch.object(ConversionReporter, "report", side_effect=ValueError(SECRET_IN_ERROR))
    response = app.handle(http_event({"SerialNo": "r-2"}), scf_context())
    assert response["statusCode"] == 500
    assert body_of(response)["Error"]["Code"] == "InternalError.Unexpected"
    assert TEMPORARY_KEY.secret_key not in response["body"]


def test_a_fault_in_the_responder_still_answers_http_in_the_documented_shape(
    app: Application, scf_env: SmsEmulator, mocker: MockerFixture
) -> None:
    real = Answer.as_http
    calls = {"n": 0}

    def as_http(self: Answer) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OverflowError(SECRET_IN_ERROR)
        return real(self)

    mocker.patch.object(Answer, "as_http", autospec=True, side_effect=as_http)
    response = app.handle(http_event({"SerialNo": "r-3"}), scf_context())
    assert response["statusCode"] == 500
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}


def test_invalid_input_never_reaches_the_client(app: Application, scf_env: SmsEmulator, mocker: MockerFixture) -> None:
    spy = mocker.spy(ConversionReporter, "report")
    app.handle(http_event({"SerialNo": ""}), scf_context())
    app.handle(ckafka_event(["{", {"SerialNo": "a\ud800"}]), scf_context())
    assert spy.call_count == 0
    assert scf_env.snapshot()["requests"] == 0


class ExplodingRecord(dict):  # type: ignore[type-arg]
    """A record that fails however it is read: what no JSON event can carry, and the adapter must survive."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(SECRET_IN_ERROR)


def test_a_record_the_adapter_cannot_read_is_poison_and_the_rest_are_reported(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    event = ckafka_event([{"SerialNo": "ok-0"}, {"SerialNo": "ok-1"}])
    event["Records"].insert(1, {"Ckafka": ExplodingRecord(msgBody="{}")})
    summary = app.handle(event, scf_context())
    assert (summary["Records"], summary["Reported"], summary["Skipped"]) == (3, 2, 1)
    output = capsys.readouterr().out
    [skipped] = [line for line in log_lines(output) if line.get("outcome") == "skipped"]
    assert (skipped["record"], "offset" in skipped) == (1, False)
    assert skipped["reason"] == "unexpected RuntimeError while decoding the record"
    assert TEMPORARY_KEY.secret_key not in output

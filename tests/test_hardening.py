"""Nothing escapes, nothing is dropped: the error boundary, and one regression test per defect of issue 6."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import TEMPORARY_KEY, RedisServer, body_of, ckafka_event, http_event, log_lines, scf_context
from pytest_mock import MockerFixture

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.idempotency import MemoryStore, store_key
from sms_conversion.instance import WarmInstance
from sms_conversion.message import ConversionMessage
from sms_conversion.reporter import ConversionReporter, is_retryable_api_code
from sms_conversion.responder import Answer, InvocationFailed, RetryLater
from sms_conversion.settings import ConfigurationError

SECRET_IN_ERROR = "boom " + TEMPORARY_KEY.secret_key


def cmq_event(body: Any, publish_time: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "CMQ": {
                    "type": "topic",
                    "topicName": "verification-success",
                    "msgId": "m-1",
                    "publishTime": publish_time,
                    "msgBody": json.dumps(body),
                }
            }
        ]
    }


def events_named(output: str, name: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(output) if line.get("event") == name]


# ---- the error boundary, one stage at a time ---------------------------------------------------


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
    assert summary == {"Trigger": "ckafka", "Records": 3, "Reported": 2, "Duplicates": 0, "Skipped": 1, "Failed": 0}
    output = capsys.readouterr().out
    [skipped] = [line for line in log_lines(output) if line.get("outcome") == "skipped"]
    assert skipped["coordinates"] == {"record": 1, "topic": "verification-success", "partition": 0, "offset": 1}
    assert skipped["exception"] == "TypeError"
    assert TEMPORARY_KEY.secret_key not in output


class BrokenStore(MemoryStore):
    def claim(self, key: str, token: str, in_progress_ms: int) -> Any:
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


# ---- the defects ---------------------------------------------------------------------------------


def test_defect_01_deeply_nested_json(app: Application, scf_env: SmsEmulator) -> None:
    response = app.handle(http_event("[" * 1000 + "]" * 1000), scf_context())
    assert response["statusCode"] == 400
    assert body_of(response)["Error"]["Code"] == "InvalidParameter.MalformedJson"
    summary = app.handle(ckafka_event([{"SerialNo": "d-0"}, "[" * 1000, {"SerialNo": "d-2"}]), scf_context())
    assert (summary["Reported"], summary["Skipped"]) == (2, 1)


@pytest.mark.parametrize(
    ("attempts", "faults"),
    [
        ("1", [Fault(error_code="AuthFailure.TokenFailure")]),
        ("2", [Fault(error_code="InternalError"), Fault(error_code="AuthFailure.TokenFailure")]),
    ],
)
def test_defect_02_token_failure_on_the_last_attempt_is_retryable(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, attempts: str, faults: list[Fault]
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", attempts)
    scf_env.inject(*faults)
    with pytest.raises(RetryLater) as caught:
        app.handle(ckafka_event([{"SerialNo": "tok-1"}]), scf_context())
    assert json.loads(str(caught.value))["Failed"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:notaport/0",
        "redis://:pa/ssw0rd-secret@127.0.0.1:6379/0",
        "redis://:pa@ss/w0rd-secret@127.0.0.1:6379/0",
        "http://127.0.0.1:6379/0",
    ],
)
def test_defect_03_a_malformed_redis_url_is_a_named_misconfiguration(
    app: Application,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    url: str,
) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    response = app.handle(http_event({"SerialNo": "x"}), scf_context())
    assert response["statusCode"] == 500
    error = body_of(response)["Error"]
    assert error["Code"] == "InternalError.Misconfiguration"
    assert "REDIS_URL" in error["Message"]
    with pytest.raises(ConfigurationError):
        app.handle(ckafka_event([{"SerialNo": "x"}]), scf_context())
    output = capsys.readouterr().out + response["body"]
    for fragment in ("pa/ss", "ssw0rd", "w0rd-secret", "notaport"):
        assert fragment not in output
    assert len(events_named(output, "misconfigured")) == 2  # once per invocation


def test_defect_04_a_queue_batch_without_credentials_logs_misconfigured(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError):
        app.handle(ckafka_event([{"SerialNo": "c-1"}]), scf_context())
    [line] = events_named(capsys.readouterr().out, "misconfigured")
    assert line["code"] == "InternalError.MissingCredentials"
    assert line["level"] == "ERROR"


@pytest.mark.parametrize("publish_time", ["²", 10**400, "1e400", "١٢٣", float("nan"), [1], {"a": 1}])
def test_defect_05_a_doubtful_publish_time_is_ignored(
    app: Application, scf_env: SmsEmulator, publish_time: Any
) -> None:
    summary = app.handle(cmq_event({"SerialNo": "p-1"}, publish_time), scf_context())
    assert summary["Reported"] == 1
    assert scf_env.reports[0]["ConversionTime"] is None


@pytest.mark.parametrize(("status", "requests"), [(404, 1), (400, 1), (403, 1), (408, 3), (429, 3), (503, 3)])
def test_defect_06_only_transient_http_statuses_are_retried(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, status: int, requests: int
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "3")
    scf_env.inject(Fault(http_status=status, times=9))
    response = app.handle(http_event({"SerialNo": "n-1"}), scf_context())
    assert scf_env.snapshot()["requests"] == requests
    body = body_of(response)
    assert body["Error"] == {"Code": "ServerNetworkError", "Message": f"the API answered with HTTP {status}"}
    assert body["Retryable"] is (requests > 1)


@pytest.mark.parametrize("code", ["ClientParamsError", "ClientError", "ClientSideError", "InvalidCredential"])
def test_defect_06_the_sdks_own_refusals_are_permanent(code: str) -> None:
    assert not is_retryable_api_code(code)
    assert is_retryable_api_code("JSONDecodeError")  # a garbled answer: the API's word never arrived


def test_defect_07_a_redis_timeout_longer_than_half_the_limit_is_refused(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "5")
    response = app.handle(http_event({"SerialNo": "x"}), scf_context(time_limit_in_ms=3000))
    assert response["statusCode"] == 500
    assert "REDIS_TIMEOUT_SECONDS" in body_of(response)["Error"]["Message"]
    assert app.handle(http_event({"SerialNo": "x"}), scf_context(time_limit_in_ms=30000))["statusCode"] == 200


def test_defect_08_a_copy_of_a_failed_message_fails_too(app: Application, scf_env: SmsEmulator) -> None:
    scf_env.inject(Fault(error_code="FailedOperation.X", serial_no="dup"))
    response = app.handle(http_event([{"SerialNo": "dup"}, {"SerialNo": "dup"}]), scf_context())
    assert [entry["Outcome"] for entry in body_of(response)["Results"]] == ["failed", "failed"]
    response = app.handle(http_event([{"SerialNo": "ok"}, {"SerialNo": "ok"}]), scf_context())
    assert [entry["Outcome"] for entry in body_of(response)["Results"]] == ["reported", "duplicate"]


def test_defect_11_the_in_progress_mark_outlives_the_invocation(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    import redis

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    seen: list[int] = []
    scf_env.on_request = lambda: seen.append(int(client.pttl(store_key("1400006666:mark-1"))))
    assert app.handle({"SerialNo": "mark-1"}, scf_context(time_limit_in_ms=3000))["StatusCode"] == 200
    [ttl_ms] = seen
    # Seen during the call: the whole 3 s limit plus the 1 s grace, less the little time already spent.
    assert 3500 < ttl_ms <= 4000


def test_defect_12_a_lone_surrogate_is_invalid_input(app: Application, scf_env: SmsEmulator) -> None:
    response = app.handle(http_event('{"SerialNo": "a\\ud800"}'), scf_context())
    assert response["statusCode"] == 400
    assert body_of(response)["Errors"][0]["Field"] == "SerialNo"
    assert app.handle({"SerialNo": "a\ud800"}, scf_context())["StatusCode"] == 400
    summary = app.handle(ckafka_event(['{"SerialNo": "a\\ud800"}', {"SerialNo": "fine"}]), scf_context())
    assert (summary["Skipped"], summary["Reported"]) == (1, 1)


@pytest.mark.parametrize(
    "raw",
    [
        '{"Response": {"Error": {"Code": 123, "Message": "odd"}, "RequestId": "r"}}',
        '{"Response": {"Error": {"Code": null}, "RequestId": "r"}}',
        '{"Nothing": 1}',
        "[]",
    ],
)
def test_defect_13_an_answer_the_sdk_cannot_interpret_is_retryable_and_releases_the_claim(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(raw_body=raw))
    with pytest.raises(RetryLater):
        app.handle(ckafka_event([{"SerialNo": "odd-1"}]), scf_context())
    assert app.handle(ckafka_event([{"SerialNo": "odd-1"}]), scf_context())["Reported"] == 1


@pytest.mark.parametrize(
    ("body", "base64_encoded"),
    [
        ("x" * (64 * 1024 + 1), False),
        ("not base64!", True),
        (base64.b64encode(b"\xff\xfe not utf-8").decode(), True),
        ("{not json", False),
    ],
)
def test_defect_15_an_unreadable_push_is_acknowledged(
    app: Application, scf_env: SmsEmulator, body: str, base64_encoded: bool
) -> None:
    event = http_event(body, headers={"x-cmq-message-id": "m-9", "content-type": "text/plain"})
    event["isBase64Encoded"] = base64_encoded
    response = app.handle(event, scf_context())
    assert response["statusCode"] == 200
    assert body_of(response)["Outcome"] == "skipped"
    assert body_of(response)["MsgId"] == "m-9"
    assert scf_env.snapshot()["requests"] == 0


def test_defect_16_upstream_text_echoing_credentials_is_redacted_before_truncation(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    echo = (
        "x" * 250
        + f" X-TC-Token: {TEMPORARY_KEY.token} Authorization: TC3-HMAC-SHA256 Signature={'ab' * 32} "
        + TEMPORARY_KEY.secret_key
    )
    scf_env.inject(Fault(error_code="InvalidParameterValue", error_message=echo))
    response = app.handle(http_event({"SerialNo": "echo"}), scf_context())
    output = capsys.readouterr().out + response["body"]
    assert TEMPORARY_KEY.token is not None
    for secret in (TEMPORARY_KEY.token, TEMPORARY_KEY.token[:20], "ab" * 32, "abababab", TEMPORARY_KEY.secret_key):
        assert secret not in output
    assert "[REDACTED]" in body_of(response)["Error"]["Message"]


def test_defect_09_an_http_event_with_a_non_string_body_gets_an_integration_response(
    app: Application, scf_env: SmsEmulator
) -> None:
    for body in ({"SerialNo": "x"}, ["x"], 5, True):
        response = app.handle({"httpMethod": "POST", "headers": {}, "body": body}, scf_context())
        assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
        assert body_of(response)["Error"]["Code"] == "InvalidParameter.MalformedBody"


def test_defect_10_every_queue_count_is_of_records(app: Application, scf_env: SmsEmulator) -> None:
    summary = app.handle(
        ckafka_event([[{"SerialNo": "u-1"}, {"SerialNo": "u-2"}, {"SerialNo": "u-3"}], {"SerialNo": "u-4"}, "{"]),
        scf_context(),
    )
    assert summary == {"Trigger": "ckafka", "Records": 3, "Reported": 2, "Duplicates": 0, "Skipped": 1, "Failed": 0}
    assert len(scf_env.reports) == 4


def test_defect_14_a_trickling_answer_never_lets_a_second_instance_report_the_same_serial(
    scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, redis_env: RedisServer
) -> None:
    monkeypatch.setenv("SMS_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    first, second = Application(), Application()
    answers: list[dict[str, Any]] = []

    def second_instance_tries_meanwhile() -> None:
        if not answers:
            answers.append(second.handle(http_event({"SerialNo": "slow-1"}), scf_context(time_limit_in_ms=3000)))

    scf_env.on_request = second_instance_tries_meanwhile
    scf_env.inject(Fault(trickle=0.02, serial_no="slow-1"))
    with pytest.raises(RetryLater):
        first.handle({"SerialNo": "slow-1"}, scf_context(time_limit_in_ms=3000))
    [meanwhile] = answers
    assert (meanwhile["statusCode"], body_of(meanwhile)["Error"]["Code"]) == (503, "ResourceUnavailable.InProgress")
    assert [report["SerialNo"] for report in scf_env.reports] == ["slow-1"]  # the API saw it once


@pytest.mark.parametrize("limit", [float("inf"), "inf", "1e400", float("nan"), -5, 10**400])
def test_defect_17_a_time_limit_that_is_not_a_finite_positive_number_is_ignored(
    app: Application, scf_env: SmsEmulator, limit: Any
) -> None:
    assert app.handle({"SerialNo": "lim-1"}, scf_context(time_limit_in_ms=limit))["StatusCode"] == 200


def test_defect_18_the_answer_margin_covers_the_batch_in_hand(
    app: Application, scf_env: SmsEmulator, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 3 s limit, 0.3 s margin, plus 0.1 ms per message: with 2,500 messages in hand the last call must
    # start 0.25 s earlier. Each call takes 0.25 s on the injected clock.
    monkeypatch.setenv("SMS_CONCURRENCY", "1")
    scf_env.on_request = lambda: clock.advance(0.25)
    records = [{"SerialNo": f"m-{i}"} for i in range(2_500)]
    with pytest.raises(RetryLater):
        app.handle(ckafka_event(records), scf_context(time_limit_in_ms=3000))
    # Deadline 3 - 0.3 - 0.25 = 2.45 s; calls need 0.2 s left: starts at 0, 0.25, ..., 2.25 -> 10 calls
    # (11 with the margin of a small batch).
    assert len(scf_env.reports) == 10


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
    assert skipped["coordinates"] == {"record": 1}
    assert skipped["reason"] == "unexpected RuntimeError while decoding the record"
    assert TEMPORARY_KEY.secret_key not in output

"""API Gateway and Function URL: the HTTP contract, through the real SDK to the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import body_of, ckafka_event, http_event, load_event, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application


def call(app: Application, event: dict[str, Any], **context: Any) -> dict[str, Any]:
    response: dict[str, Any] = app.handle(event, scf_context(**context))
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert response["isBase64Encoded"] is False
    assert isinstance(response["statusCode"], int)
    assert response["headers"]["Content-Type"] == "application/json"
    assert all(isinstance(value, str) for value in response["headers"].values())
    return response


@pytest.mark.parametrize("name", ["apigw.json", "function_url.json"])
def test_sample_http_event_is_reported(app: Application, scf_env: SmsEmulator, name: str) -> None:
    response = call(app, load_event(name))
    assert response["statusCode"] == 200
    [entry] = body_of(response)["Results"]
    [report] = scf_env.reports
    assert entry == {"SerialNo": report["SerialNo"], "Outcome": "reported", "RequestId": report["RequestId"]}
    assert report["ConversionTime"] == 1658310430
    assert report["SmsSdkAppId"] == "1400006666"


def test_base64_array_reports_every_item(app: Application, scf_env: SmsEmulator) -> None:
    response = call(app, load_event("apigw_base64.json"))
    assert response["statusCode"] == 200
    assert [entry["Outcome"] for entry in body_of(response)["Results"]] == ["reported", "reported"]
    assert sorted(report["SerialNo"][-3:] for report in scf_env.reports) == ["620", "621"]
    assert {report["ConversionTime"] for report in scf_env.reports} == {None, 1658310430}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "OPTIONS"])
def test_only_post_is_allowed(app: Application, scf_env: SmsEmulator, method: str) -> None:
    response = call(app, http_event({"SerialNo": "s-1"}, method=method))
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"
    assert body_of(response)["Error"]["Code"] == "UnsupportedOperation.MethodNotAllowed"
    assert scf_env.snapshot()["requests"] == 0


def test_invalid_json_is_a_400_without_a_call(app: Application, scf_env: SmsEmulator) -> None:
    response = call(app, http_event('{"SerialNo": "s-1",'))
    body = body_of(response)
    assert response["statusCode"] == 400
    assert body["Error"]["Code"] == "InvalidParameter.MalformedJson"
    assert "line 1" in body["Error"]["Message"]
    assert body["RequestId"] == "test-request"
    assert scf_env.snapshot()["requests"] == 0


def test_invalid_message_names_the_field(app: Application, scf_env: SmsEmulator) -> None:
    response = call(app, http_event({"SerialNo": "s 1", "ConversionTime": 1658310430123}, api_gateway=True))
    body = body_of(response)
    assert response["statusCode"] == 400
    assert body["Error"]["Code"] == "InvalidParameterValue"
    assert body["Errors"] == [
        {
            "Index": None,
            "Field": "SerialNo",
            "Message": "must not contain whitespace, control characters or lone surrogates",
        },
        {"Index": None, "Field": "ConversionTime", "Message": "looks like milliseconds: send a UNIX time in seconds"},
    ]
    assert scf_env.snapshot()["requests"] == 0


def test_missing_field_is_a_missing_parameter(app: Application, scf_env: SmsEmulator) -> None:
    body = body_of(call(app, http_event({"serial": "s-1"})))
    assert body["Error"] == {"Code": "MissingParameter", "Message": "SerialNo: is required"}


def test_one_bad_item_rejects_the_whole_array(app: Application, scf_env: SmsEmulator) -> None:
    response = call(app, http_event([{"SerialNo": "good-1"}, {"SerialNo": ""}, {"SerialNo": "good-2"}]))
    assert response["statusCode"] == 400
    assert body_of(response)["Errors"] == [{"Index": 1, "Field": "SerialNo", "Message": "must not be empty"}]
    assert scf_env.snapshot()["requests"] == 0


def test_body_over_64_kib_is_a_413(app: Application, scf_env: SmsEmulator) -> None:
    body = json.dumps({"SerialNo": "s-1", "Padding": "x" * (64 * 1024)})
    response = call(app, http_event(body))
    assert response["statusCode"] == 413
    assert body_of(response)["Error"]["Code"] == "LimitExceeded.PayloadTooLarge"
    encoded = base64.b64encode(body.encode()).decode()
    event = {**http_event(encoded, api_gateway=True), "isBase64Encoded": True}
    assert call(app, event)["statusCode"] == 413


def test_more_than_100_items_is_a_413(app: Application, scf_env: SmsEmulator) -> None:
    response = call(app, http_event([{"SerialNo": f"s-{i}"} for i in range(101)]))
    assert response["statusCode"] == 413
    assert "at most 100" in body_of(response)["Error"]["Message"]
    assert scf_env.snapshot()["requests"] == 0


def test_non_utf8_body_is_a_400(app: Application, scf_env: SmsEmulator) -> None:
    event = {
        **http_event("", api_gateway=True),
        "isBase64Encoded": True,
        "body": base64.b64encode(b"\xff\xfe{}").decode(),
    }
    response = call(app, event)
    assert response["statusCode"] == 400
    assert "UTF-8" in body_of(response)["Error"]["Message"]


def test_app_id_verify_fail_is_a_403_with_the_upstream_code(app: Application, scf_env: SmsEmulator) -> None:
    response = call(app, http_event({"SerialNo": "s-1", "SmsSdkAppId": "1400009999"}))
    body = body_of(response)
    assert response["statusCode"] == 403
    assert body["Error"]["Code"] == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    assert body["RequestId"] == body["Results"][0]["RequestId"]  # the API's own request id
    assert body["Results"][0]["Outcome"] == "skipped"
    assert body["Retryable"] is False
    assert len(scf_env.snapshot()["rejected"]) == 1  # never retried


def test_rate_limited_after_retries_is_a_429(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "3")
    scf_env.inject(Fault(error_code="RequestLimitExceeded", times=3))
    response = call(app, http_event({"SerialNo": "s-1"}))
    assert response["statusCode"] == 429
    assert response["headers"]["Retry-After"] == "1"
    assert body_of(response)["Error"]["Code"] == "RequestLimitExceeded"
    assert scf_env.snapshot()["requests"] == 3


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(error_code="InternalError.SendAndRecvFail", times=9), "InternalError.SendAndRecvFail"),
        (Fault(http_status=503, times=9), "ServerNetworkError"),
        (Fault(drop=True, times=9), "ClientNetworkError"),
        (
            Fault(error_code="InternalError.SendAndRecvFail", content_type="application/json; charset=utf-8", times=9),
            "InternalError.MissingStatus",
        ),
    ],
)
def test_upstream_failures_a_retry_may_fix_are_a_retryable_502(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, fault: Fault, code: str
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "2")
    scf_env.inject(fault)
    response = call(app, http_event({"SerialNo": "s-1"}))
    body = body_of(response)
    assert response["statusCode"] == 502
    assert (body["Error"]["Code"], body["Retryable"], body["Results"][0]["Outcome"]) == (code, True, "failed")
    assert scf_env.reports == []


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault(status_code="FailedOperation.ReportFail"), "FailedOperation.ReportFail"),
        (Fault(status_code="SerialNoNotFound"), "FailedOperation.SerialNoNotFound"),
        (Fault(error_code="InvalidParameterValue.SerialNo"), "InvalidParameterValue.SerialNo"),
    ],
)
def test_a_message_the_api_refuses_is_a_422_that_resending_cannot_fix(
    app: Application, scf_env: SmsEmulator, fault: Fault, code: str
) -> None:
    scf_env.inject(fault)
    response = call(app, http_event({"SerialNo": "s-1"}))
    body = body_of(response)
    assert response["statusCode"] == 422
    assert (body["Error"]["Code"], body["Retryable"], body["Results"][0]["Outcome"]) == (code, False, "skipped")
    assert scf_env.snapshot()["requests"] == 1


def test_no_credentials_is_a_500_that_says_how_to_fix(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"):
        monkeypatch.delenv(name)
    response = call(app, http_event({"SerialNo": "s-1"}))
    body = body_of(response)
    assert response["statusCode"] == 500
    assert body["Error"]["Code"] == "InternalError.MissingCredentials"
    assert "execution role" in body["Error"]["Message"]
    assert scf_env.snapshot()["requests"] == 0


def test_bad_configuration_is_a_500_naming_the_variable(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_TIMEOUT_SECONDS", "soon")
    body = body_of(call(app, http_event({"SerialNo": "s-1"})))
    assert body["Error"]["Code"] == "InternalError.Misconfiguration"
    assert "SMS_TIMEOUT_SECONDS" in body["Error"]["Message"]
    assert "soon" not in body["Error"]["Message"]


def test_mixed_outcomes_answer_the_most_urgent_failure(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(error_code="InternalError.SendAndRecvFail", serial_no="s-2"))
    response = call(
        app, http_event([{"SerialNo": "s-1"}, {"SerialNo": "s-2"}, {"SerialNo": "s-3", "SmsSdkAppId": "1400009999"}])
    )
    body = body_of(response)
    assert response["statusCode"] == 403
    assert [entry["Outcome"] for entry in body["Results"]] == ["reported", "failed", "skipped"]
    assert body["Retryable"] is True


def test_resending_a_reported_request_answers_duplicate(app: Application, scf_env: SmsEmulator) -> None:
    event = http_event({"SerialNo": "s-1"})
    assert call(app, event)["statusCode"] == 200
    again = call(app, event)
    assert again["statusCode"] == 200
    assert body_of(again)["Results"][0]["Outcome"] == "duplicate"
    assert len(scf_env.reports) == 1


def test_http_event_whose_body_is_not_a_string_gets_an_integration_response(
    app: Application, scf_env: SmsEmulator
) -> None:
    result = app.handle({"httpMethod": "POST", "body": {"SerialNo": "s-1"}}, scf_context())
    assert result["statusCode"] == 400
    assert body_of(result)["Error"] == {
        "Code": "InvalidParameter.MalformedBody",
        "Message": "the event's body must be a string, got an object",
    }
    assert scf_env.snapshot()["requests"] == 0


def test_deeply_nested_json_is_a_400_and_a_poison_record(app: Application, scf_env: SmsEmulator) -> None:
    response = app.handle(http_event("[" * 1000 + "]" * 1000), scf_context())
    assert response["statusCode"] == 400
    assert body_of(response)["Error"]["Code"] == "InvalidParameter.MalformedJson"
    summary = app.handle(ckafka_event([{"SerialNo": "d-0"}, "[" * 1000, {"SerialNo": "d-2"}]), scf_context())
    assert (summary["Reported"], summary["Skipped"]) == (2, 1)


def test_a_copy_of_a_failed_message_in_one_request_fails_too(app: Application, scf_env: SmsEmulator) -> None:
    scf_env.inject(Fault(error_code="FailedOperation.X", serial_no="dup"))
    response = app.handle(http_event([{"SerialNo": "dup"}, {"SerialNo": "dup"}]), scf_context())
    assert [entry["Outcome"] for entry in body_of(response)["Results"]] == ["skipped", "skipped"]
    response = app.handle(http_event([{"SerialNo": "ok"}, {"SerialNo": "ok"}]), scf_context())
    assert [entry["Outcome"] for entry in body_of(response)["Results"]] == ["reported", "duplicate"]


def test_a_lone_surrogate_is_invalid_input_on_every_trigger(app: Application, scf_env: SmsEmulator) -> None:
    response = app.handle(http_event('{"SerialNo": "a\\ud800"}'), scf_context())
    assert response["statusCode"] == 400
    assert body_of(response)["Errors"][0]["Field"] == "SerialNo"
    assert app.handle({"SerialNo": "a\ud800"}, scf_context())["StatusCode"] == 400
    summary = app.handle(ckafka_event(['{"SerialNo": "a\\ud800"}', {"SerialNo": "fine"}]), scf_context())
    assert (summary["Skipped"], summary["Reported"]) == (1, 1)


def test_any_non_string_body_gets_an_integration_response(app: Application, scf_env: SmsEmulator) -> None:
    for body in ({"SerialNo": "x"}, ["x"], 5, True):
        response = app.handle({"httpMethod": "POST", "headers": {}, "body": body}, scf_context())
        assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
        assert body_of(response)["Error"]["Code"] == "InvalidParameter.MalformedBody"

"""Nothing lost when the deployment is wrong: every deployment-fault code on every trigger, end to end.

The real SDK against the emulator: the function stops calling, keeps every message for redelivery
(a raise, or a 503 with Retry-After), and says once, at ERROR, what the operator must fix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import TEMPORARY_KEY, FakeClock, body_of, ckafka_event, events_named, http_event, log_lines, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.faults import COOL_DOWN_SECONDS
from sms_conversion.handler import Application
from sms_conversion.responder import DeploymentFaultRaised, RetryLater

ACCOUNT_FAULTS = [
    "AuthFailure.UnauthorizedOperation",
    "AuthFailure.SecretIdNotFound",
    "AuthFailure.SignatureFailure",
    "AuthFailure.SignatureExpire",
    "AuthFailure.InvalidSecretId",
    "UnauthorizedOperation.RequestPermissionDeny",
    "UnauthorizedOperation.RequestIpNotInWhitelist",
    "UnauthorizedOperation.ServiceSuspendDueToArrears",
    "UnsupportedOperation.UnsupportedRegion",
    "InvalidAction",
    "NoSuchVersion",
]
APP_FAULTS = [
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
    "UnauthorizedOperation.SdkAppIdIsDisabled",
    "InvalidParameterValue.SdkAppIdNotExist",
]
TRIGGERS = ["function_url", "apigw", "cmq_push", "ckafka", "cmq", "tdmq", "direct"]


def event_for(trigger: str, messages: list[dict[str, Any]]) -> Any:
    """An event of `trigger` carrying `messages` (one record each on a queue; one array for the others)."""
    if trigger == "function_url":
        return http_event(messages)
    if trigger == "apigw":
        return http_event(messages, api_gateway=True)
    if trigger == "cmq_push":
        envelope = {"topicName": "t", "msgId": "m-1", "msgBody": json.dumps(messages)}
        return {**http_event(envelope, headers={"x-cmq-message-id": "m-1"}), "queryString": {}}
    if trigger == "ckafka":
        return ckafka_event(messages)
    if trigger == "cmq":
        return {
            "Records": [
                {"CMQ": {"type": "topic", "topicName": "t", "msgId": f"m-{i}", "msgBody": json.dumps(message)}}
                for i, message in enumerate(messages)
            ]
        }
    if trigger == "tdmq":
        return {"type": "connector:tdmq", "data": {"topic": "t", "msgId": "m-1", "msgBody": json.dumps(messages)}}
    return messages


def outcome_of(app: Application, trigger: str, messages: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    """What the platform sees: the answer (HTTP) or the exception (queues, direct), in one shape."""
    try:
        result = app.handle(event_for(trigger, messages), scf_context(**context))
    except RetryLater as exc:
        return {"raised": exc, "message": str(exc)}
    if "statusCode" in result:
        return {"status": result["statusCode"], "headers": result["headers"], "body": body_of(result)}
    return {"result": result}


def assert_kept_for_redelivery(trigger: str, seen: dict[str, Any], code: str) -> None:
    if trigger in ("function_url", "apigw", "cmq_push"):
        assert seen["status"] == 503, seen
        assert seen["headers"]["Retry-After"] == str(int(COOL_DOWN_SECONDS))
        body = seen["body"]
        assert (body["Error"]["Code"], body["Retryable"]) == (code, True)
        assert body["Hint"]
        assert {entry["Outcome"] for entry in body["Results"]} == {"failed"}
    elif trigger == "direct":
        raised = seen["raised"]
        assert type(raised) is RetryLater  # an async Invoke retries it
        assert json.loads(seen["message"])["Error"]["Code"] == code
    else:
        assert isinstance(seen["raised"], DeploymentFaultRaised)
        assert seen["message"].startswith(f"{code}: ")


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("code", ACCOUNT_FAULTS + APP_FAULTS)
def test_a_deployment_fault_stops_reporting_and_keeps_every_message_for_redelivery(
    app: Application,
    scf_env: SmsEmulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    trigger: str,
    code: str,
) -> None:
    # The function's own app id (SMS_SDK_APP_ID), so an app-level code is the deployment's fault too.
    monkeypatch.setenv("SMS_CONCURRENCY", "2")
    scf_env.inject(Fault(error_code=code, times=1000))
    messages = [{"SerialNo": f"{trigger}-{i}"} for i in range(5)]
    seen = outcome_of(app, trigger, messages)
    assert_kept_for_redelivery(trigger, seen, code)
    assert scf_env.reports == []
    assert scf_env.snapshot()["requests"] <= 2  # SMS_CONCURRENCY, not 5
    output = capsys.readouterr().out
    [fault] = events_named(output, "deployment_fault")
    assert (fault["level"], fault["code"]) == ("ERROR", code)
    assert fault["hint"]
    assert fault.get("sms_sdk_app_id") == ("1400006666" if code in APP_FAULTS else None)
    assert [line["level"] for line in log_lines(output) if line["level"] == "ERROR"] == ["ERROR"]
    failed = [line for line in log_lines(output) if line.get("outcome") == "failed"]
    assert sorted(line["serial_no"] for line in failed) == sorted(message["SerialNo"] for message in messages)


def test_a_first_deployment_whose_role_lacks_the_cam_action_loses_nothing(
    app: Application, scf_env: SmsEmulator, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """The scenario of a first deployment: a CKafka batch of 50 and a role without name/sms:ReportConversion."""
    scf_env.account.denied.add(TEMPORARY_KEY.secret_id)
    event = ckafka_event([{"SerialNo": f"first-{i}", "ConversionTime": 1_700_000_000 + i} for i in range(50)])
    with pytest.raises(DeploymentFaultRaised, match=r"AuthFailure\.UnauthorizedOperation"):
        app.handle(event, scf_context())
    first_calls = scf_env.snapshot()["requests"]
    assert 1 <= first_calls <= 16
    output = capsys.readouterr().out
    [fault] = events_named(output, "deployment_fault")
    assert "name/sms:ReportConversion" in fault["hint"]
    [invocation] = events_named(output, "invocation")
    assert (invocation["raised"], invocation["reason"], invocation["failed"]) == (True, "deployment_fault", 50)
    # A redelivery within the cool-down: one probe call, the same fault, raise again.
    clock.advance(5)
    with pytest.raises(DeploymentFaultRaised):
        app.handle(event, scf_context(request_id="redelivery-1"))
    assert scf_env.snapshot()["requests"] == first_calls + 1
    # The operator attaches the policy; the next redelivery reports all 50, with their own ConversionTime.
    scf_env.account.denied.clear()
    summary = app.handle(event, scf_context(request_id="redelivery-2"))
    assert (summary["Reported"], summary["Failed"]) == (50, 0)
    assert sorted(report["ConversionTime"] for report in scf_env.reports) == [1_700_000_000 + i for i in range(50)]


@pytest.mark.parametrize(
    ("account", "code"),
    [
        ({"allowlisted": False}, "UnauthorizedOperation.RequestPermissionDeny"),
        ({"in_arrears": True}, "UnauthorizedOperation.ServiceSuspendDueToArrears"),
        ({"disabled_app_ids": {"1400006666"}}, "UnauthorizedOperation.SdkAppIdIsDisabled"),
    ],
)
def test_an_account_not_yet_enabled_in_arrears_or_with_its_app_disabled_is_a_503(
    app: Application, scf_env: SmsEmulator, account: dict[str, Any], code: str
) -> None:
    for name, value in account.items():
        setattr(scf_env.account, name, value)
    response = app.handle(http_event([{"SerialNo": "a"}, {"SerialNo": "b"}]), scf_context())
    assert (response["statusCode"], body_of(response)["Error"]["Code"]) == (503, code)


def test_a_producers_foreign_app_id_is_skipped_and_never_blocks_the_partition(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    event = ckafka_event([{"SerialNo": "mine-0"}, {"SerialNo": "theirs", "SmsSdkAppId": "1400009999"}])
    summary = app.handle(event, scf_context())
    assert (summary["Reported"], summary["Skipped"], summary["Failed"]) == (1, 1, 0)
    output = capsys.readouterr().out
    [skipped] = [line for line in log_lines(output) if line.get("outcome") == "skipped"]
    assert (skipped["code"], skipped["offset"], skipped["partition"]) == (
        "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
        1,
        0,
    )
    assert events_named(output, "deployment_fault") == []


def test_an_allowlisted_app_id_the_api_does_not_know_is_the_deployments_fault(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_ALLOWED_SDK_APP_IDS", "1400006666,1400009999")
    event = ckafka_event([{"SerialNo": "ok-0"}, {"SerialNo": "x-1", "SmsSdkAppId": "1400009999"}, {"SerialNo": "ok-2"}])
    with pytest.raises(DeploymentFaultRaised, match=r"SmsSdkAppIdVerifyFail"):
        app.handle(event, scf_context())
    # The other app id was reported: a queue batch processes what it can, then raises.
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["ok-0", "ok-2"]


def test_a_large_batch_under_a_deployment_fault_makes_at_most_the_concurrency_in_calls(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_CONCURRENCY", "8")
    scf_env.account.allowlisted = False
    with pytest.raises(DeploymentFaultRaised):
        # 10,000 messages on the unit layer (test_pipeline); here the same end to end, over real HTTP.
        app.handle(ckafka_event([{"SerialNo": f"big-{i}"} for i in range(1_000)]), scf_context())
    assert scf_env.snapshot()["requests"] <= 8

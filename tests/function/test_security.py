"""Keeping strangers out: signed HTTP callers, the push token, the app allowlist."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import FakeClock, body_of, ckafka_event, http_event, load_event, log_lines, scf_context

from emulator import SmsEmulator
from local.call import signed_headers
from sms_conversion.auth import sign
from sms_conversion.handler import Application

SECRET = "first-signing-secret-0001"
ROTATED = "second-signing-secret-002"
PUSH_TOKEN = "push-token-000000000001"


@pytest.fixture
def signing(monkeypatch: pytest.MonkeyPatch, scf_env: SmsEmulator) -> None:
    monkeypatch.setenv("REPORT_SIGNING_SECRET", f"{SECRET}, {ROTATED}")


def signed_event(body: Any, secret: str, timestamp: float, **options: Any) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    event = http_event(raw, **options)
    event["headers"].update(
        {"X-Timestamp": str(int(timestamp)), "X-Signature": sign(secret, int(timestamp), raw.encode())}
    )
    return event


def error_of(response: dict[str, Any]) -> tuple[int, str]:
    return response["statusCode"], body_of(response)["Error"]["Code"]


@pytest.mark.usefixtures("signing")
@pytest.mark.parametrize("secret", [SECRET, ROTATED])
def test_a_request_signed_with_any_configured_secret_is_reported(
    app: Application, scf_env: SmsEmulator, clock: FakeClock, secret: str
) -> None:
    response = app.handle(signed_event({"SerialNo": f"sig-{secret[:5]}"}, secret, clock.now()), scf_context())
    assert response["statusCode"] == 200
    assert len(scf_env.reports) == 1


@pytest.mark.usefixtures("signing")
def test_the_stdlib_caller_signs_the_same_way(app: Application, scf_env: SmsEmulator, clock: FakeClock) -> None:
    body = b'{"SerialNo": "stdlib-1"}'
    event = http_event(body.decode(), headers=signed_headers(SECRET, body, clock.now()))
    assert app.handle(event, scf_context())["statusCode"] == 200


@pytest.mark.usefixtures("signing")
def test_base64_bodies_are_signed_after_decoding(app: Application, scf_env: SmsEmulator, clock: FakeClock) -> None:
    raw = b'[{"SerialNo": "b64-1"}]'
    event = http_event(base64.b64encode(raw).decode(), api_gateway=True)
    event["isBase64Encoded"] = True
    event["headers"].update({"x-timestamp": str(int(clock.now())), "x-signature": sign(SECRET, int(clock.now()), raw)})
    assert app.handle(event, scf_context())["statusCode"] == 200


@pytest.mark.usefixtures("signing")
@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "AuthFailure.InvalidAuthorization"),
        ({"X-Timestamp": "now", "X-Signature": "sha256=" + "0" * 64}, "AuthFailure.InvalidAuthorization"),
        ({"X-Timestamp": "{now}", "X-Signature": "md5=abc"}, "AuthFailure.InvalidAuthorization"),
        ({"X-Timestamp": "{now}", "X-Signature": "sha256=" + "0" * 64}, "AuthFailure.SignatureFailure"),
        ({"X-Timestamp": "{now}", "X-Signature": "sha256=" + "é" * 64}, "AuthFailure.InvalidAuthorization"),
        ({"X-Timestamp": "{stale}", "X-Signature": "{stale_signature}"}, "AuthFailure.SignatureExpire"),
        ({"X-Timestamp": "{now}", "X-Signature": "{wrong_secret}"}, "AuthFailure.SignatureFailure"),
    ],
)
def test_unsigned_or_badly_signed_requests_are_401_without_a_call(
    app: Application, scf_env: SmsEmulator, clock: FakeClock, headers: dict[str, str], code: str
) -> None:
    body = '{"SerialNo": "intruder"}'
    now, stale = int(clock.now()), int(clock.now()) - 301
    values = {
        "now": str(now),
        "stale": str(stale),
        "stale_signature": sign(SECRET, stale, body.encode()),
        "wrong_secret": sign("not-the-secret-at-all", now, body.encode()),
    }
    event = http_event(body, headers={name: value.format(**values) for name, value in headers.items()})
    response = app.handle(event, scf_context())
    assert error_of(response) == (401, code)
    assert scf_env.snapshot()["requests"] == 0
    for secret in (SECRET, ROTATED, values["stale_signature"], values["wrong_secret"]):
        assert secret not in response["body"]


@pytest.mark.usefixtures("signing")
def test_checks_run_in_order_405_413_401_400(app: Application, scf_env: SmsEmulator, clock: FakeClock) -> None:
    assert app.handle(http_event("{", method="GET"), scf_context())["statusCode"] == 405
    assert app.handle(http_event("x" * (64 * 1024 + 1)), scf_context())["statusCode"] == 413
    assert error_of(app.handle(http_event("{"), scf_context())) == (401, "AuthFailure.InvalidAuthorization")
    malformed = signed_event("{", SECRET, clock.now())
    assert error_of(app.handle(malformed, scf_context())) == (400, "InvalidParameter.MalformedJson")


@pytest.mark.usefixtures("signing")
def test_a_replayed_signed_request_is_harmless(app: Application, scf_env: SmsEmulator, clock: FakeClock) -> None:
    event = signed_event({"SerialNo": "replay-1"}, SECRET, clock.now())
    app.handle(event, scf_context())
    replay = app.handle(event, scf_context())
    assert body_of(replay)["Results"][0]["Outcome"] == "duplicate"
    assert len(scf_env.reports) == 1


def push_event(name: str, token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = load_event(name)
    event["queryString"] = {"token": token} if token is not None else {}
    return event


@pytest.mark.usefixtures("signing")
def test_a_push_authenticates_with_its_token(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMQ_PUSH_TOKEN", PUSH_TOKEN)
    assert app.handle(push_event("cmq_push.json", PUSH_TOKEN), scf_context())["statusCode"] == 200
    # The x-cmq-* headers alone prove nothing: anyone can send them.
    assert error_of(app.handle(push_event("cmq_push.json", None), scf_context()))[0] == 401
    assert error_of(app.handle(push_event("cmq_push.json", "wrong-token-000000000"), scf_context()))[0] == 401
    assert len(scf_env.reports) == 1


@pytest.mark.parametrize(
    ("token", "configured", "code", "words"),
    [
        (None, PUSH_TOKEN, "AuthFailure.InvalidAuthorization", "carries no token"),
        ("wrong-token-000000000", PUSH_TOKEN, "AuthFailure.InvalidToken", "is not CMQ_PUSH_TOKEN"),
        (None, None, "AuthFailure.InvalidAuthorization", "cannot sign: set CMQ_PUSH_TOKEN"),
    ],
)
@pytest.mark.usefixtures("signing")
def test_a_push_refused_for_its_token_is_told_about_the_token_not_the_signature(
    app: Application,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    token: str | None,
    configured: str | None,
    code: str,
    words: str,
) -> None:
    if configured is not None:
        monkeypatch.setenv("CMQ_PUSH_TOKEN", configured)
    response = app.handle(push_event("cmq_push.json", token), scf_context())
    error = body_of(response)["Error"]
    assert (response["statusCode"], error["Code"]) == (401, code)
    assert words in error["Message"]
    assert "Signature" not in error["Message"]


@pytest.mark.usefixtures("signing")
def test_an_authenticated_unreadable_push_is_acknowledged_and_an_unauthenticated_one_refused(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMQ_PUSH_TOKEN", PUSH_TOKEN)
    event = push_event("cmq_push.json", PUSH_TOKEN)
    event["body"] = "x" * (64 * 1024 + 1)
    response = app.handle(event, scf_context())
    assert response["statusCode"] == 200
    assert body_of(response)["Outcome"] == "skipped"
    event["queryString"] = {}
    assert error_of(app.handle(event, scf_context()))[0] == 401


def test_without_a_secret_requests_pass_and_one_warning_per_instance(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    for serial in ("open-1", "open-2"):
        assert app.handle(http_event({"SerialNo": serial}), scf_context())["statusCode"] == 200
    warnings = [line for line in log_lines(capsys.readouterr().out) if line.get("event") == "unauthenticated_endpoint"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"


@pytest.mark.usefixtures("signing")
def test_queue_triggers_are_not_affected_by_signing(app: Application, scf_env: SmsEmulator) -> None:
    assert app.handle(ckafka_event([{"SerialNo": "q-1"}]), scf_context())["Reported"] == 1
    assert app.handle({"SerialNo": "d-1"}, scf_context())["StatusCode"] == 200


@pytest.mark.parametrize(
    ("name", "value"),
    [("REPORT_SIGNING_SECRET", "short"), ("REPORT_SIGNING_SECRET", f"{SECRET},tiny"), ("CMQ_PUSH_TOKEN", "tiny")],
)
def test_weak_secrets_are_a_misconfiguration_that_never_shows_them(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    response = app.handle(http_event({"SerialNo": "x"}), scf_context())
    assert error_of(response) == (500, "InternalError.Misconfiguration")
    assert name in body_of(response)["Error"]["Message"]
    assert "tiny" not in response["body"]
    assert SECRET not in response["body"]


# ---- the app allowlist -------------------------------------------------------------------------


@pytest.fixture
def allowlist(monkeypatch: pytest.MonkeyPatch, scf_env: SmsEmulator) -> None:
    monkeypatch.setenv("SMS_ALLOWED_SDK_APP_IDS", "1400006666, 1400000001")


@pytest.mark.usefixtures("allowlist")
def test_an_app_id_outside_the_allowlist_refuses_the_whole_request(app: Application, scf_env: SmsEmulator) -> None:
    response = app.handle(
        http_event([{"SerialNo": "a-0"}, {"SerialNo": "a-1", "SmsSdkAppId": "1400009999"}, {"SerialNo": "a-2"}]),
        scf_context(),
    )
    assert error_of(response) == (403, "UnauthorizedOperation.SmsSdkAppIdNotAllowed")
    assert body_of(response)["Errors"] == [
        {"Index": 1, "Field": "SmsSdkAppId", "Message": "is not in SMS_ALLOWED_SDK_APP_IDS"}
    ]
    assert scf_env.snapshot()["requests"] == 0
    direct = app.handle({"SerialNo": "a-3", "SmsSdkAppId": "1400009999"}, scf_context())
    assert (direct["StatusCode"], direct["Errors"][0]["Index"]) == (403, None)


@pytest.mark.usefixtures("allowlist")
def test_the_default_app_id_counts_and_allowed_ids_pass(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.handle(http_event({"SerialNo": "a-4", "SmsSdkAppId": "1400000001"}), scf_context())["statusCode"] == 200
    monkeypatch.setenv("SMS_SDK_APP_ID", "1400009999")
    assert error_of(app.handle(http_event({"SerialNo": "a-5"}), scf_context()))[0] == 403


@pytest.mark.usefixtures("allowlist")
def test_on_a_queue_a_refused_app_id_is_skipped_and_the_rest_reported(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = app.handle(
        ckafka_event([{"SerialNo": "q-0"}, {"SerialNo": "q-1", "SmsSdkAppId": "1400009999"}]), scf_context()
    )
    assert (summary["Reported"], summary["Skipped"], summary["Failed"]) == (1, 1, 0)
    [skipped] = [line for line in log_lines(capsys.readouterr().out) if line.get("outcome") == "skipped"]
    assert skipped["code"] == "UnauthorizedOperation.SmsSdkAppIdNotAllowed"
    assert skipped["offset"] == 1
    assert [report["SerialNo"] for report in scf_env.reports] == ["q-0"]


def test_an_invalid_allowlist_is_a_named_misconfiguration(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_ALLOWED_SDK_APP_IDS", "1400006666,abc")
    response = app.handle(http_event({"SerialNo": "x"}), scf_context())
    assert error_of(response) == (500, "InternalError.Misconfiguration")
    assert "SMS_ALLOWED_SDK_APP_IDS" in body_of(response)["Error"]["Message"]

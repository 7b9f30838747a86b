"""The function's own configuration: a bad variable is named (never its value), answered in the trigger's shape."""

from __future__ import annotations

import pytest
from conftest import RedisServer, body_of, ckafka_event, events_named, http_event, scf_context

from emulator import SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.settings import ConfigurationError


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:notaport/0",
        "redis://:pa/ssw0rd-secret@127.0.0.1:6379/0",
        "redis://:pa@ss/w0rd-secret@127.0.0.1:6379/0",
        "http://127.0.0.1:6379/0",
    ],
)
def test_a_malformed_redis_url_is_a_named_misconfiguration_that_never_shows_it(
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
    output = capsys.readouterr().out
    for fragment in ("pa/ss", "ssw0rd", "w0rd-secret", "notaport"):
        assert fragment not in output + response["body"]
    assert len(events_named(output, "misconfigured")) == 2  # once per invocation


def test_a_queue_batch_without_credentials_logs_misconfigured_and_raises(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError):
        app.handle(ckafka_event([{"SerialNo": "c-1"}]), scf_context())
    [line] = events_named(capsys.readouterr().out, "misconfigured")
    assert line["code"] == "InternalError.MissingCredentials"
    assert line["level"] == "ERROR"


def test_a_redis_timeout_longer_than_half_the_limit_is_refused(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "5")
    response = app.handle(http_event({"SerialNo": "x"}), scf_context(time_limit_in_ms=3000))
    assert response["statusCode"] == 500
    assert "REDIS_TIMEOUT_SECONDS" in body_of(response)["Error"]["Message"]
    assert app.handle(http_event({"SerialNo": "x"}), scf_context(time_limit_in_ms=30000))["statusCode"] == 200

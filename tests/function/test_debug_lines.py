"""LOG_LEVEL=DEBUG says what the function decided and why, one line each; INFO stays as it is."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import RedisServer, ckafka_event, log_lines, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application

DEBUG_EVENTS = {"adapter", "deadline", "idempotency", "rate_wait", "call_attempt"}


def run(app: Application, capsys: pytest.CaptureFixture[str], event: Any) -> list[dict[str, Any]]:
    app.handle(event, scf_context(time_limit_in_ms=3000))
    return log_lines(capsys.readouterr().out)


def named(lines: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == event]


def test_debug_says_the_adapter_the_deadline_every_claim_wait_and_attempt(
    scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SMS_MAX_RPS", "20")  # 50 ms apart: the second call waits for its slot
    monkeypatch.setenv("SMS_CONCURRENCY", "1")
    scf_env.inject(Fault(error_code="InternalError", serial_no="d-1"))
    lines = run(Application(), capsys, ckafka_event([{"SerialNo": "d-1"}, {"SerialNo": "d-2"}]))

    [adapter] = named(lines, "adapter")
    assert adapter["trigger"] == "ckafka"
    assert adapter["reason"] == "Records of Ckafka records"
    [deadline] = named(lines, "deadline")
    assert deadline["time_limit_ms"] == 3000
    assert 0 < deadline["budget_ms"] < 3000
    assert deadline["messages"] == 2

    claims = [(line["serial_no"], line["claim"]) for line in named(lines, "idempotency")]
    assert claims == [("d-1", "acquired"), ("d-1", "completed"), ("d-2", "acquired"), ("d-2", "completed")]

    attempts = [
        (line["serial_no"], line["attempts"], line["verdict"], line.get("code"), line["connection"], line["status"])
        for line in named(lines, "call_attempt")
    ]
    assert attempts == [
        ("d-1", 1, "retry", "InternalError", "opened", 200),
        ("d-1", 2, "reported", None, "reused", 200),
        ("d-2", 1, "reported", None, "reused", 200),
    ]
    assert all(line["latency_ms"] >= 0 for line in named(lines, "call_attempt"))
    # The resolver's time, measured for each connection opened (it is the one step no budget cuts).
    assert [("resolve_ms" in line) for line in named(lines, "call_attempt")] == [True, False, False]

    waits = named(lines, "rate_wait")
    assert waits
    assert {line["limiter"] for line in waits} == {"instance"}
    assert all(0 < line["wait_ms"] <= 50 for line in waits)
    assert all(line["level"] == "DEBUG" for line in lines if line["event"] in DEBUG_EVENTS)


def test_info_is_unchanged_by_the_debug_lines(
    scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    lines = run(Application(), capsys, ckafka_event([{"SerialNo": "i-1"}, {"SerialNo": "i-2"}]))
    assert [line["event"] for line in lines] == ["record", "record", "invocation"]


@pytest.mark.redis
def test_debug_says_every_wait_for_the_fleet_limit(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", "20")
    monkeypatch.setenv("SMS_CONCURRENCY", "1")
    lines = run(Application(), capsys, ckafka_event([{"SerialNo": f"f-{i}"} for i in range(3)]))
    fleet = [line for line in named(lines, "rate_wait") if line["limiter"] == "fleet"]
    assert len(fleet) >= 2
    assert all(line["wait_ms"] > 0 for line in fleet)
    assert "SMS_FLEET_MAX_RPS" in fleet[0]["message"]

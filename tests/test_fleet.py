"""SMS_FLEET_MAX_RPS: every instance together within one rate, counted in a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from conftest import ROOT, FakeClock, RedisServer, body_of, ckafka_event, http_event, log_lines, scf_context

from emulator import SmsEmulator
from sms_conversion.clock import Deadline
from sms_conversion.fleet import FleetLimiter
from sms_conversion.handler import Application
from sms_conversion.idempotency import redis_client

pytestmark = pytest.mark.redis

_PROCESS = """
import json, sys
sys.path[:0] = ["src", "."]
import index
event = json.loads(sys.stdin.read())
print(json.dumps(index.main_handler(event, {"request_id": sys.argv[1], "time_limit_in_ms": 30000})))
"""


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for other in times if start <= other < start + 1.0) for start in times)


def test_two_processes_together_stay_within_the_fleet_limit(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", "40")
    # Few threads per process: the arrival of a call trails its slot by a little, and by more
    # for a cold thread (building its client) than a warm one; what the emulator sees can exceed
    # the limit by that skew, never by more than the 10 % allowed for it.
    monkeypatch.setenv("SMS_CONCURRENCY", "4")
    processes = []
    for name in ("a", "b"):
        process = subprocess.Popen(
            [sys.executable, "-c", _PROCESS, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
        )
        processes.append((process, json.dumps(ckafka_event([{"SerialNo": f"{name}-{i}"} for i in range(40)]))))
    summaries = [json.loads(process.communicate(event, timeout=60)[0].splitlines()[-1]) for process, event in processes]
    assert [summary["Reported"] for summary in summaries] == [40, 40]
    arrivals = [report["ArrivedAt"] for report in scf_env.reports]
    assert len(arrivals) == 80
    # 80 calls at 40 per second: at least two windows, never more than the limit in one (10 % for clock edges).
    assert most_in_any_second(arrivals) <= 44
    assert max(arrivals) - min(arrivals) >= 1.0


def test_the_wait_is_redis_time_and_never_runs_past_the_deadline(redis_server: RedisServer, clock: FakeClock) -> None:
    client = redis_client(redis_server.url, 0.5)
    limiter = FleetLimiter(client, 3, clock, key="test:fleet")
    roomy = Deadline(clock, clock.monotonic() + 5, clock.monotonic() + 6)
    assert all(limiter.acquire(roomy) for _ in range(3))
    assert clock.slept == []
    tight = Deadline(clock, clock.monotonic() + 0.5, clock.monotonic() + 1)
    assert not limiter.acquire(tight)  # the window frees in ~1 s: no time for a call after that
    assert clock.slept == []
    # With time to wait, it waits what Redis says (under a second), then asks again.
    FleetLimiter(client, 3, clock, key="test:fleet").acquire(Deadline(clock, clock.monotonic() + 1.3, 0))
    assert 0.8 < clock.slept[0] <= 1.0


def test_redis_stopping_mid_batch_falls_back_to_the_instance_limit_and_warns_once(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", "1000")
    monkeypatch.setenv("SMS_CONCURRENCY", "1")

    def stop_redis_at_the_third_call() -> None:
        if len(scf_env.reports) == 2:
            redis_env.stop()

    scf_env.on_request = stop_redis_at_the_third_call
    summary = Application().handle(ckafka_event([{"SerialNo": f"f-{i}"} for i in range(10)]), scf_context())
    assert summary["Reported"] == 10
    assert Counter(report["SerialNo"] for report in scf_env.reports) == Counter(f"f-{i}" for i in range(10))
    lines = log_lines(capsys.readouterr().out)
    assert len([line for line in lines if line.get("event") == "fleet_limit_unavailable"]) == 1


def test_a_fleet_limit_without_redis_is_a_named_misconfiguration(
    scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", "100")
    response = Application().handle(http_event({"SerialNo": "x"}), scf_context())
    assert response["statusCode"] == 500
    assert body_of(response)["Error"] == {
        "Code": "InternalError.Misconfiguration",
        "Message": "invalid configuration: SMS_FLEET_MAX_RPS needs REDIS_URL: the fleet's calls are counted in Redis",
    }

"""SMS_FLEET_MAX_RPS: every instance together within one rate, counted in a real Redis."""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from conftest import ROOT, FakeClock, RedisServer, body_of, ckafka_event, http_event, log_lines, scf_context

from emulator import SmsEmulator
from emulator.tencent_redis import TencentRedis
from sms_conversion.clock import Deadline
from sms_conversion.fleet import FleetLimiter
from sms_conversion.handler import Application
from sms_conversion.redislink import RedisLink

pytestmark = pytest.mark.redis

_PROCESS = """
import json, sys
import index
print("READY", flush=True)
event = json.loads(sys.stdin.read())
print(json.dumps(index.main_handler(event, {"request_id": sys.argv[1], "time_limit_in_ms": 30000})))
"""


def most_in_any_second(times: list[float]) -> int:
    """The busiest one-second window of arrivals (each window starting at an arrival)."""
    times = sorted(times)
    return max(bisect.bisect_left(times, start + 1.0) - index for index, start in enumerate(times))


def run_fleet(processes: int, per_process: int, env: dict[str, str]) -> list[dict[str, Any]]:
    """`processes` instances sharing one Redis, started together, each reporting one CKafka batch."""
    running = []
    for number in range(processes):
        name = f"p{number}"
        process = subprocess.Popen(
            [sys.executable, "-c", _PROCESS, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=env,
        )
        running.append((process, json.dumps(ckafka_event([{"SerialNo": f"{name}-{i}"} for i in range(per_process)]))))
    # Every instance warm (imported) before any batch arrives, as a fleet under load is.
    for process, _ in running:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "READY"
    for process, event in running:
        assert process.stdin is not None
        process.stdin.write(event)
        process.stdin.close()
    summaries = []
    for process, _ in running:
        assert process.stdout is not None
        summaries.append(json.loads(process.stdout.read().splitlines()[-1]))
        process.wait(timeout=120)
    return summaries


@pytest.mark.slow
@pytest.mark.parametrize("limit", [60, 200])
@pytest.mark.parametrize("processes", [2, 4])
def test_the_fleet_limit_holds_at_the_api_and_the_fleet_sustains_it(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, processes: int, limit: int
) -> None:
    """Measured where it matters: arrivals at the emulator, in every one-second window, not the limiter's counts."""
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", str(limit))
    monkeypatch.setenv("SMS_CONCURRENCY", "4")
    seconds = 4
    per_process = limit * seconds // processes
    summaries = run_fleet(processes, per_process, dict(os.environ))
    assert [summary["Reported"] for summary in summaries] == [per_process] * processes
    arrivals = sorted(report["ArrivedAt"] for report in scf_env.reports)
    assert len(arrivals) == per_process * processes
    busiest = most_in_any_second(arrivals)
    assert busiest <= limit * 1.05, f"{busiest} arrivals in one second at a limit of {limit}"
    sustained = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert sustained >= limit * 0.9, f"the fleet sustained {sustained:.1f}/s at a limit of {limit}"


@pytest.mark.slow
def test_two_processes_share_one_limit(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast suite's version: 40 calls at 20 per second from two processes take two seconds, not one."""
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", "20")
    monkeypatch.setenv("SMS_CONCURRENCY", "2")
    summaries = run_fleet(2, 20, dict(os.environ))
    assert [summary["Reported"] for summary in summaries] == [20, 20]
    arrivals = sorted(report["ArrivedAt"] for report in scf_env.reports)
    assert arrivals[-1] - arrivals[0] >= 39 / 20 * 0.95


def test_each_call_reserves_the_next_slot_on_redis_time_and_never_waits_past_the_deadline(
    redis_server: RedisServer, tencent_redis: TencentRedis, clock: FakeClock
) -> None:
    link = RedisLink.from_url(tencent_redis.url, 0.5)
    client = link.client
    limiter = FleetLimiter(link, 10, clock, key="test:fleet")
    roomy = Deadline(clock, clock.monotonic() + 5, clock.monotonic() + 6)
    assert all(limiter.acquire(roomy) for _ in range(4))
    # Paced, not bunched: one slot every 100 ms of Redis time (the fake clock does not move Redis's).
    assert clock.slept == pytest.approx([0.1, 0.2, 0.3], abs=0.02)
    tight = Deadline(clock, clock.monotonic() + 0.5, clock.monotonic() + 1)
    FleetLimiter(link, 1, clock, key="test:slow").acquire(tight)  # takes the only slot of this second
    slept = len(clock.slept)
    assert not FleetLimiter(link, 1, clock, key="test:slow").acquire(tight)  # a 1 s wait: no time for a call
    assert len(clock.slept) == slept  # refused at once, no slot reserved
    ttl = client.pttl("test:slow")
    assert 0 < ttl <= 2000  # the key outlives its last reservation by a second, then goes


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

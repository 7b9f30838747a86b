"""No double reports: in memory per instance, and across instances and processes with a real Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import ROOT, FakeClock, RedisServer, body_of, ckafka_event, http_event, log_lines, scf_context

from emulator import Fault, SmsEmulator
from emulator.tencent_redis import TencentRedis
from sms_conversion.handler import Application
from sms_conversion.idempotency import COMPLETED, Claim, MemoryStore, RedisStore, store_key
from sms_conversion.message import ConversionMessage
from sms_conversion.responder import RetryLater


def test_memory_store_flow_and_expiry(clock: FakeClock) -> None:
    store = MemoryStore(clock, max_entries=3)
    assert store.claim("k", "t1", 5000) is Claim.ACQUIRED
    assert store.claim("k", "t2", 5000) is Claim.IN_PROGRESS
    store.release("k", "someone-else")
    assert store.claim("k", "t2", 5000) is Claim.IN_PROGRESS
    store.release("k", "t1")
    assert store.claim("k", "t2", 5000) is Claim.ACQUIRED
    store.complete("k", 60)
    assert store.claim("k", "t3", 5000) is Claim.COMPLETED
    clock.advance(61)
    assert store.claim("k", "t3", 5000) is Claim.ACQUIRED
    clock.advance(6)  # a crashed invocation's mark expires with its deadline
    assert store.claim("k", "t4", 5000) is Claim.ACQUIRED


def test_memory_store_is_bounded(clock: FakeClock) -> None:
    store = MemoryStore(clock, max_entries=3)
    for index in range(10):
        store.claim(f"k{index}", "t", 1000)
        store.complete(f"k{index}", 60)
    assert len(store) == 3
    assert store.claim("k9", "t", 1000) is Claim.COMPLETED
    assert store.claim("k0", "t", 1000) is Claim.ACQUIRED


def test_ttl_zero_disables_idempotency(app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "0")
    app.handle({"SerialNo": "again"}, scf_context())
    app.handle({"SerialNo": "again"}, scf_context())
    assert len(scf_env.reports) == 2


def test_a_failed_report_is_released_so_a_retry_reports_it(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(error_code="InvalidParameterValue"))
    assert app.handle({"SerialNo": "x"}, scf_context())["StatusCode"] == 422
    assert app.handle({"SerialNo": "x"}, scf_context())["StatusCode"] == 200
    assert len(scf_env.reports) == 1


# ---- Redis ----------------------------------------------------------------------------------


def key_for(serial: str, app_id: str = "1400006666") -> str:
    return store_key(ConversionMessage(SmsSdkAppId=app_id, SerialNo=serial).key)


@pytest.mark.redis
def test_redis_store_flow(redis_server: RedisServer, tencent_redis: TencentRedis) -> None:
    store = RedisStore.from_url(tencent_redis.url, 0.5)
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    assert store.claim("k", "t1", 1500, 1.0) is Claim.ACQUIRED
    assert 0 < client.pttl("k") <= 1500
    assert store.claim("k", "t2", 1500, 1.0) is Claim.IN_PROGRESS
    store.release("k", "t2", 1.0)  # not ours: kept
    assert client.get("k") == "t1"
    store.release("k", "t1", 1.0)
    assert client.get("k") is None
    assert store.claim("k", "t3", 1500, 1.0) is Claim.ACQUIRED
    store.complete("k", 86400, 1.0)
    assert client.get("k") == COMPLETED
    assert 86300 < client.ttl("k") <= 86400
    assert store.claim("k", "t4", 1500, 1.0) is Claim.COMPLETED
    # Everything went through a Redis that refuses RESP3, ACL and CLIENT SETINFO: none of them was sent.
    assert tencent_redis.refused == []
    assert set(tencent_redis.names()) <= {"EVAL", "SET", "PING"}


@pytest.mark.redis
def test_two_instances_share_redis(redis_env: RedisServer, scf_env: SmsEmulator) -> None:
    first, second = Application(), Application()
    assert first.handle({"SerialNo": "shared"}, scf_context())["Results"][0]["Outcome"] == "reported"
    assert second.handle({"SerialNo": "shared"}, scf_context())["Results"][0]["Outcome"] == "duplicate"
    assert len(scf_env.reports) == 1
    client = redis.Redis.from_url(redis_env.url, decode_responses=True)
    assert client.get(key_for("shared")) == COMPLETED


@pytest.mark.redis
def test_in_progress_elsewhere_is_a_503_not_a_duplicate(
    redis_env: RedisServer, app: Application, scf_env: SmsEmulator
) -> None:
    client = redis.Redis.from_url(redis_env.url, decode_responses=True)
    client.set(key_for("busy"), "another-invocation", px=30_000)
    response = app.handle(http_event({"SerialNo": "busy"}), scf_context())
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"
    assert body_of(response)["Error"]["Code"] == "ResourceUnavailable.InProgress"
    assert scf_env.reports == []
    with pytest.raises(RetryLater):
        app.handle(ckafka_event([{"SerialNo": "busy"}]), scf_context())


@pytest.mark.redis
def test_redelivered_batch_reports_only_the_records_that_failed(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(error_code="InternalError", serial_no="b-3"), Fault(drop=True, serial_no="b-7"))
    event = ckafka_event([{"SerialNo": f"b-{i}"} for i in range(10)])
    with pytest.raises(RetryLater):
        Application().handle(event, scf_context())
    # The redelivery lands on another instance: only Redis knows what was done.
    summary = Application().handle(event, scf_context())
    assert summary["Reported"] == 2
    assert summary["Duplicates"] == 8
    assert Counter(report["SerialNo"] for report in scf_env.reports) == Counter(f"b-{i}" for i in range(10))


_PROCESS = """
import json, sys
import index
event = json.loads(sys.stdin.read())
try:
    print("RESULT " + json.dumps(index.main_handler(event, {"request_id": sys.argv[1], "time_limit_in_ms": 30000})))
except Exception as exc:
    print("RAISED " + type(exc).__name__)
"""


@pytest.mark.slow
@pytest.mark.redis
def test_two_processes_sharing_redis_never_report_twice(
    redis_env: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    scf_env.latency = 0.005
    event = json.dumps(ckafka_event([{"SerialNo": f"p-{i}"} for i in range(30)]))

    def run(name: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _PROCESS, name],
            input=event,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
            timeout=60,
        )
        return done.stdout

    def both() -> list[str]:
        outputs: list[str] = ["", ""]

        def worker(index: int) -> None:
            outputs[index] = run(f"process-{index}")

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outputs

    outputs = both()
    assert all("RESULT" in output or "RAISED RetryLater" in output for output in outputs), outputs
    # Redeliver whatever was in progress in the other process until both settle.
    for _ in range(3):
        if all("RESULT" in output for output in outputs):
            break
        outputs = both()
    counts = Counter(report["SerialNo"] for report in scf_env.reports)
    assert counts == Counter(f"p-{i}" for i in range(30))


class _SilentServer:
    """Accepts connections and never answers: a Redis that times out."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def silent_redis() -> Iterator[_SilentServer]:
    server = _SilentServer()
    yield server
    server.close()


def _warnings(output: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(output) if line.get("event") == "idempotency_unavailable"]


@pytest.mark.redis
def test_redis_going_away_mid_test_reports_anyway_and_warns_once(
    redis_env: RedisServer, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Application()
    assert app.handle(ckafka_event([{"SerialNo": "g-0"}]), scf_context())["Reported"] == 1
    redis_env.stop()
    summary = app.handle(ckafka_event([{"SerialNo": f"g-{i}"} for i in range(1, 11)]), scf_context())
    assert summary["Reported"] == 10
    assert len(_warnings(capsys.readouterr().out)) == 1
    redis_env.start()
    # Back again: protection resumes on the next invocation.
    assert app.handle(ckafka_event([{"SerialNo": "g-1"}, {"SerialNo": "g-20"}]), scf_context())["Reported"] == 2
    assert app.handle(ckafka_event([{"SerialNo": "g-20"}]), scf_context())["Duplicates"] == 1


def test_redis_timing_out_reports_anyway(
    scf_env: SmsEmulator,
    silent_redis: _SilentServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{silent_redis.port}/0")
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "0.2")
    summary = Application().handle(ckafka_event([{"SerialNo": f"h-{i}"} for i in range(20)]), scf_context())
    assert summary["Reported"] == 20
    assert len(_warnings(capsys.readouterr().out)) == 1


def test_a_silent_redis_never_pushes_the_function_past_its_time_limit(
    scf_env: SmsEmulator, silent_redis: _SilentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{silent_redis.port}/0")
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("SMS_CONCURRENCY", "2")
    scf_env.latency = 0.1
    started = time.monotonic()
    with pytest.raises(RetryLater):  # more records than 1.5 s allows: the rest is redelivered
        Application().handle(
            ckafka_event([{"SerialNo": f"j-{i}"} for i in range(40)]), scf_context(time_limit_in_ms=1500)
        )
    # Correctness bound, not a speed target: the platform would kill the function at 1.5 s.
    assert time.monotonic() - started < 1.5


def test_redis_refusing_connections_reports_anyway(
    scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("REDIS_URL", f"redis://:hunter2-password@127.0.0.1:{port}/0")
    response = Application().handle(http_event({"SerialNo": "i-1"}), scf_context())
    out = capsys.readouterr().out
    assert response["statusCode"] == 200
    assert len(_warnings(out)) == 1
    assert "hunter2" not in out


def test_the_in_progress_mark_lasts_until_the_invocation_can_no_longer_report(
    app: Application, scf_env: SmsEmulator, redis_env: RedisServer
) -> None:
    client = redis.Redis.from_url(redis_env.url)
    seen: list[int] = []
    scf_env.on_request = lambda: seen.append(int(client.pttl(store_key("1400006666:mark-1"))))
    assert app.handle({"SerialNo": "mark-1"}, scf_context(time_limit_in_ms=3000))["StatusCode"] == 200
    [ttl_ms] = seen
    # Seen during the call: the rest of the 3 s limit (no longer: past it the invocation can report nothing).
    assert 2500 < ttl_ms <= 3000


def test_a_trickling_answer_never_lets_a_second_instance_report_the_same_serial(
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

"""The Redis Tencent sells, and every way a Redis misbehaves: RESP2 on purpose, fail open within the deadline,
a misconfiguration said loudly once.

Each hostile case runs the public handler on a CKafka batch through the strict stand-in (emulator/tencent_redis.py)
and asserts three things: the outcome, the reports per serial at the SMS emulator, and the invocation's time
against its limit.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import RedisServer, ckafka_event, log_lines, scf_context

from emulator import SmsEmulator
from emulator.tencent_redis import RedisFault, TencentRedis
from sms_conversion.handler import Application
from sms_conversion.redislink import classify
from sms_conversion.responder import RetryLater

pytestmark = pytest.mark.redis

LIMIT_MS = 3000
SERIALS = [f"r-{i}" for i in range(5)]


class Run:
    """One invocation: its summary (or what it raised), how long it took, and its log lines."""

    def __init__(self, app: Application, capsys: pytest.CaptureFixture[str], limit_ms: int = LIMIT_MS) -> None:
        started = time.monotonic()
        self.summary: dict[str, Any] | None = None
        self.raised: Exception | None = None
        try:
            self.summary = app.handle(
                ckafka_event([{"SerialNo": s} for s in SERIALS]), scf_context(time_limit_in_ms=limit_ms)
            )
        except RetryLater as exc:
            self.raised = exc
        self.seconds = time.monotonic() - started
        self.output = capsys.readouterr().out
        self.lines = log_lines(self.output)
        # Correctness bound, not a speed target: the platform would stop the function at its limit.
        assert self.seconds < limit_ms / 1000, self.seconds
        assert not self.events("unexpected_error"), self.output

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]


def reports(emulator: SmsEmulator) -> Counter[str]:
    return Counter(report["SerialNo"] for report in emulator.reports)


@pytest.fixture
def env(redis_env: RedisServer, monkeypatch: pytest.MonkeyPatch) -> RedisServer:
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "0.5")
    monkeypatch.setenv("SMS_FLEET_MAX_RPS", "1000")
    return redis_env


def answered(tencent_redis: TencentRedis, reply: bytes, capsys: pytest.CaptureFixture[str]) -> Run:
    """One invocation while every EVAL (the claim, the release, the fleet slot) is answered with `reply`."""
    tencent_redis.inject(RedisFault("EVAL", reply=reply))
    return Run(Application(), capsys)


def assert_fails_open(run: Run, emulator: SmsEmulator, warning: str = "idempotency_unavailable") -> None:
    """Reported anyway, each serial once, one warning that says why; nothing left for a redelivery."""
    assert run.summary is not None, run.output
    assert run.summary["Reported"] == len(SERIALS), run.output
    assert reports(emulator) == Counter(SERIALS)
    assert len(run.events(warning)) == 1, run.output


# ---- what the client sends --------------------------------------------------------------------------


def test_the_client_speaks_resp2_with_only_commands_tencent_redis_accepts(
    env: RedisServer, tencent_redis: TencentRedis, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Application()
    first = Run(app, capsys)
    assert first.summary is not None
    assert first.summary["Reported"] == 5
    second = Run(app, capsys)
    assert second.summary is not None
    assert second.summary["Duplicates"] == 5
    assert reports(scf_env) == Counter(SERIALS)
    assert tencent_redis.refused == []
    assert set(tencent_redis.names()) <= {"PING", "EVAL", "SET"}
    assert not first.events("idempotency_unavailable")
    assert not first.events("fleet_limit_unavailable")


def test_the_stand_in_refuses_what_tencent_redis_refuses(
    redis_server: RedisServer, tencent_redis: TencentRedis
) -> None:
    # redis-py's default (RESP3: HELLO 3 on every connection) cannot use it, as it cannot use Tencent's.
    with pytest.raises(redis.ResponseError, match="unknown command `HELLO`"):
        redis.Redis.from_url(tencent_redis.url, protocol=3).ping()
    plain = redis.Redis.from_url(tencent_redis.url, protocol=2, driver_info=None)
    for command in (("ACL", "WHOAMI"), ("CLIENT", "TRACKING", "on"), ("CLIENT", "SETINFO", "LIB-NAME", "x")):
        with pytest.raises(redis.ResponseError):
            plain.execute_command(*command)  # type: ignore[no-untyped-call]
    with pytest.raises(redis.ResponseError, match="KEYS"):
        plain.eval("return 1", 0)
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        plain.eval("return 1", 2, "a", "b")
    with pytest.raises(redis.ResponseError, match="readonly table"):
        plain.eval("function f() return 1 end return 1", 1, "k")  # the sandbox: no global function


def test_the_account_travels_in_a_one_argument_auth(
    redis_server: RedisServer, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    guarded = TencentRedis(lambda: redis_server.port, password="crs-abcd1234:Secret-Pass-1")
    try:
        monkeypatch.setenv("REDIS_URL", f"redis://:crs-abcd1234%3ASecret-Pass-1@127.0.0.1:{guarded.port}/0")
        run = Run(Application(), capsys)
        assert run.summary is not None
        assert run.summary["Reported"] == 5
        assert guarded.refused == []
        assert "AUTH" in guarded.names()
        assert reports(scf_env) == Counter(SERIALS)
    finally:
        guarded.close()


def test_a_user_name_in_the_url_is_refused_with_the_form_tencent_takes(
    scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://reader:Secret-Pass-1@10.0.0.5:6379/0")
    response = Application().handle({"SerialNo": "x"}, scf_context())
    message = response["Error"]["Message"]
    assert "REDIS_URL" in message
    assert "%40" in message
    assert "Secret-Pass-1" not in message
    assert scf_env.reports == []


# ---- the server's own state: transient, fail open ------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        b"-READONLY You can't write against a read only replica.\r\n",
        b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
        b"-LOADING Redis is loading the dataset in memory\r\n",
        b"-BUSY Redis is busy running a script.\r\n",
    ],
    ids=["readonly", "oom", "loading", "busy"],
)
def test_a_server_in_a_passing_state_fails_open_with_one_warning(
    answer: bytes,
    env: RedisServer,
    tencent_redis: TencentRedis,
    scf_env: SmsEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = answered(tencent_redis, answer, capsys)
    assert_fails_open(run, scf_env)
    assert len(run.events("fleet_limit_unavailable")) == 1
    assert not run.events("redis_misconfigured")


def test_a_flushed_script_cache_changes_nothing(
    env: RedisServer, tencent_redis: TencentRedis, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app = Application()
    Run(app, capsys)
    redis.Redis.from_url(env.url).script_flush()
    tencent_redis.inject(RedisFault("EVALSHA", reply=b"-NOSCRIPT No matching script. Please use EVAL.\r\n"))
    again = Run(app, capsys)
    assert again.summary is not None
    assert again.summary["Duplicates"] == 5
    assert "EVALSHA" not in tencent_redis.names()
    assert not again.events("idempotency_unavailable")
    assert reports(scf_env) == Counter(SERIALS)


# ---- a network or proxy that misbehaves ------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        RedisFault("EVAL", cut=True, times=1),
        RedisFault("EVAL", reply=b"?garbage\r\n"),
        RedisFault("EVAL", close=True),
    ],
    ids=["reset-mid-reply", "garbage", "closed"],
)
def test_a_broken_reply_fails_open_and_never_reports_twice(
    fault: RedisFault,
    env: RedisServer,
    tencent_redis: TencentRedis,
    scf_env: SmsEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tencent_redis.inject(fault)
    run = Run(Application(), capsys)
    assert run.summary is not None, run.output
    assert run.summary["Reported"] == 5, run.output
    assert reports(scf_env) == Counter(SERIALS)
    if fault.times is None:
        assert len(run.events("idempotency_unavailable")) == 1


@pytest.mark.parametrize(
    ("fault", "warning"),
    [
        # The claim lands, its answer lies: never read as "in progress elsewhere", even with our own token.
        (RedisFault("EVAL", match="acquired", reply=b":0\r\n", forward=True), "idempotency_unavailable"),
        (RedisFault("EVAL", match="acquired", reply=b"*1\r\n:1\r\n", forward=True), "idempotency_unavailable"),
        (RedisFault("SET", reply=b":0\r\n", forward=True), "idempotency_unavailable"),
        # The fleet's script answers what it never returns: +OK, or a RESP3 map to a RESP2 client.
        (RedisFault("EVAL", match="TIME", reply=b"+OK\r\n"), "fleet_limit_unavailable"),
        (RedisFault("EVAL", match="TIME", reply=b"%1\r\n+a\r\n:1\r\n"), "fleet_limit_unavailable"),
    ],
    ids=["claim-int", "claim-array", "complete-int", "fleet-ok", "fleet-resp3-map"],
)
def test_a_reply_of_the_wrong_type_fails_open_with_one_warning(
    fault: RedisFault,
    warning: str,
    env: RedisServer,
    tencent_redis: TencentRedis,
    scf_env: SmsEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tencent_redis.inject(fault)
    run = Run(Application(), capsys)
    assert_fails_open(run, scf_env, warning)


def test_a_slow_redis_never_pushes_an_invocation_past_its_limit(
    env: RedisServer, tencent_redis: TencentRedis, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every reply takes 0.45 s of a 0.5 s timeout: no step times out, but the steps of one operation add up.
    tencent_redis.inject(RedisFault(delay=0.45))
    tencent_redis.drop_connections()
    run = Run(Application(), capsys)
    counts = reports(scf_env)
    assert all(count == 1 for count in counts.values())
    if run.raised is None:
        assert run.summary is not None
        assert run.summary["Reported"] == 5
    else:  # what had no time is redelivered, none of it reported
        assert len(counts) < 5


# ---- Redis lost between the claim and "done": the orphaned claim's window ------------------------------


def test_redis_lost_before_done_leaves_a_claim_for_the_rest_of_the_limit_then_reports_again(
    env: RedisServer, tencent_redis: TencentRedis, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    limit_ms = 3000  # the window is the first invocation's limit: wide enough that a loaded machine stays inside
    tencent_redis.inject(RedisFault("SET", match="completed", close=True))
    started = time.monotonic()
    first = Run(Application(), capsys, limit_ms)
    assert_fails_open(first, scf_env)
    tencent_redis.clear()
    # Inside the window (until the first invocation's limit is over): in progress, redelivered later.
    assert time.monotonic() - started < limit_ms / 1000 / 2, "the first invocation took half the window"
    inside = Run(Application(), capsys, limit_ms)
    assert inside.raised is not None
    assert reports(scf_env) == Counter(SERIALS)
    # After it the claim is gone and nothing says it was reported: reported a second time (docs/behaviour.md).
    time.sleep(max(0.0, started + limit_ms / 1000 + 0.05 - time.monotonic()))
    after = Run(Application(), capsys, limit_ms)
    assert after.summary is not None
    assert after.summary["Reported"] == 5
    assert reports(scf_env) == Counter(dict.fromkeys(SERIALS, 2))


# ---- a misconfiguration: one ERROR per warm instance, with what to fix ----------------------------------


@pytest.fixture
def guarded(redis_server: RedisServer) -> Iterator[TencentRedis]:
    proxy = TencentRedis(lambda: redis_server.port, password="Right-Password-1")
    yield proxy
    proxy.close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis://:Wrong-Password-1@127.0.0.1:{port}/0", "Redis refused the password in REDIS_URL"),
        ("rediss://:Right-Password-1@127.0.0.1:{port}/0", "TLS: "),
    ],
    ids=["wrongpass", "tls-to-a-plain-port"],
)
def test_a_misconfigured_redis_is_one_error_per_warm_instance_and_the_reports_go_on(
    url: str,
    reason: str,
    guarded: TencentRedis,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", url.format(port=guarded.port))
    monkeypatch.setenv("REDIS_TIMEOUT_SECONDS", "0.5")
    app = Application()
    first = Run(app, capsys)
    assert_fails_open(first, scf_env)
    [error] = first.events("redis_misconfigured")
    assert error["level"] == "ERROR"
    assert error["reason"].startswith(reason)
    assert "REDIS_URL" in error["hint"]
    assert "duplicate protection" in error["message"]
    second = Run(app, capsys)
    assert second.summary is not None
    assert not second.events("redis_misconfigured")
    assert len(second.events("idempotency_unavailable")) == 1  # still said, as a warning, each invocation
    for output in (first.output, second.output):
        assert "Wrong-Password-1" not in output
        assert "Right-Password-1" not in output


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (b"-ERR unknown command `EVAL`, with args beginning with: `secret-arg`, \r\n", "refused a command"),
        (b"-MOVED 3999 10.0.0.9:6379\r\n", "MOVED"),
        (b"-NOPERM this user has no permissions to run the 'eval' command\r\n", "refused a command"),
    ],
    ids=["unknown-command", "cluster-node", "noperm"],
)
def test_a_refused_command_is_a_misconfiguration(
    answer: bytes,
    words: str,
    env: RedisServer,
    tencent_redis: TencentRedis,
    scf_env: SmsEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = answered(tencent_redis, answer, capsys)
    assert_fails_open(run, scf_env)
    [error] = run.events("redis_misconfigured")
    assert words in error["reason"]
    assert "secret-arg" not in run.output


def test_transient_failures_are_never_called_misconfiguration() -> None:
    for exc in (
        redis.TimeoutError("Timeout reading from 127.0.0.1:6379"),
        redis.ConnectionError("Connection closed by server."),
        redis.exceptions.ReadOnlyError("You can't write against a read only replica."),
        redis.exceptions.BusyLoadingError("Redis is loading the dataset in memory"),
        redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
        ValueError("invalid literal for int()"),
    ):
        assert not classify(exc).permanent, exc
    assert classify(redis.AuthenticationError("invalid password")).permanent

"""Time and pace: the invocation's deadline, each call's budget, the rate limiter, the client pool and its
connections."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from conftest import FakeClock, body_of, ckafka_event, http_event, log_lines, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.clock import Deadline, time_limit_seconds
from sms_conversion.handler import Application
from sms_conversion.ratelimit import RateLimiter
from sms_conversion.responder import RetryLater


def report_one(app: Application, serial: str = "s-1", **context: Any) -> Any:
    return app.handle({"SerialNo": serial}, scf_context(**context))


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (30000, 30.0),
        (3, 3.0),
        (900, 900.0),
        ("1500", 1.5),
        (None, 3.0),
        (True, 3.0),
        (-1, 3.0),
        ("x", 3.0),
        # defect 17: not finite, or past a float, is no limit at all
        (float("inf"), 3.0),
        ("inf", 3.0),
        ("1e400", 3.0),
        (float("nan"), 3.0),
        (10**400, 3.0),
    ],
)
def test_time_limit_reads_seconds_from_the_old_cli(raw: object, seconds: float) -> None:
    assert time_limit_seconds(raw) == seconds


def test_scf_native_invoke_context_in_seconds_works(app: Application, scf_env: SmsEmulator) -> None:
    assert report_one(app, time_limit_in_ms=3, function_name="index.main_handler")["StatusCode"] == 200


def test_one_client_pool_per_endpoint_and_region(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    report_one(app, "a")
    report_one(app, "b")
    assert scf_env.snapshot()["connections"] == 1
    monkeypatch.setenv("SMS_REGION", "ap-beijing")
    report_one(app, "c")
    assert scf_env.snapshot()["connections"] == 2  # a new pool for the new region
    assert [report["Region"] for report in scf_env.reports] == ["ap-guangzhou", "ap-guangzhou", "ap-beijing"]


def test_connections_are_reused_across_records_and_invocations(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_CONCURRENCY", "4")
    scf_env.latency = 0.005
    app.handle(ckafka_event([{"SerialNo": f"c-{i}"} for i in range(40)]), scf_context())
    app.handle(ckafka_event([{"SerialNo": f"d-{i}"} for i in range(40)]), scf_context())
    snapshot = scf_env.snapshot()
    assert len(snapshot["reports"]) == 80
    assert snapshot["connections"] <= 4


def test_calls_in_flight_never_exceed_the_concurrency(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_CONCURRENCY", "5")
    scf_env.latency = 0.03
    summary = app.handle(ckafka_event([{"SerialNo": f"f-{i}"} for i in range(40)]), scf_context())
    assert summary["Reported"] == 40
    assert 2 <= scf_env.snapshot()["max_in_flight"] <= 5


def test_calls_are_paced_one_emission_interval_apart(
    app: Application, clock: FakeClock, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_RPS", "10")
    monkeypatch.setenv("SMS_CONCURRENCY", "1")
    summary = app.handle(ckafka_event([{"SerialNo": f"r-{i}"} for i in range(25)]), scf_context())
    assert summary["Reported"] == 25
    # Calls take no time on the injected clock: each after the first waits one interval (0.1 s), so the
    # 25 starts span 2.4 s, and no second holds more than 10 of them.
    assert clock.slept == pytest.approx([0.1] * 24)


def test_the_rate_limiter_paces_starts_so_no_one_second_window_holds_more_than_the_limit(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, 3)
    deadline = Deadline(clock, clock.monotonic() + 10, clock.monotonic() + 11)
    starts = []
    for gap in (0.0, 0.1, 0.0, 0.9, 0.0, 0.0, 2.0, 0.0):
        clock.advance(gap)  # callers arrive unevenly: bunched, then after a pause
        assert limiter.acquire(deadline)
        starts.append(round(clock.monotonic() - 1000.0, 6))
    third = 1 / 3
    # Bunched callers are spaced one interval apart; one that comes after a pause starts at once (no
    # burst is saved up during the pause, so the next second still holds at most 3).
    assert starts == pytest.approx(
        [0.0, third, 2 * third, 0.9 + 2 * third, 1.9, 1.9 + third, 3.9 + third, 3.9 + 2 * third], abs=1e-5
    )
    assert all(later - earlier >= third - 1e-6 for earlier, later in itertools.pairwise(starts))
    assert all(sum(1 for s in starts if t <= s < t + 1.0) <= 3 for t in starts)


def test_rate_limiter_gives_up_rather_than_wait_past_the_deadline(clock: FakeClock) -> None:
    limiter = RateLimiter(clock, 1)
    deadline = Deadline(clock, clock.monotonic() + 0.5, clock.monotonic() + 1)
    assert limiter.acquire(deadline)
    assert not limiter.acquire(deadline)
    assert clock.slept == []


def test_a_trickling_answer_is_cut_at_the_calls_budget(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each socket read succeeds (a byte every 20 ms); the whole call is still bounded (defect 14)."""
    monkeypatch.setenv("SMS_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(trickle=0.02))
    started = time.monotonic()
    with pytest.raises(RetryLater) as caught:
        report_one(app)
    elapsed = time.monotonic() - started
    body = json.loads(str(caught.value))
    assert body["Error"]["Code"] == "ClientNetworkError"
    assert body["Error"]["Message"] == "network error calling the API: the call took longer than its 0.20 s budget"
    # The answer is ~110 bytes: trickled whole it would take over 2 s.
    assert elapsed < 1.5


def test_records_not_attempted_in_time_are_a_503_with_retry_after(
    app: Application, clock: FakeClock, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_CONCURRENCY", "1")
    scf_env.on_request = lambda: clock.advance(0.25)
    response = app.handle(http_event([{"SerialNo": f"t-{i}"} for i in range(20)]), scf_context(time_limit_in_ms=1500))
    body = body_of(response)
    outcomes = [entry["Outcome"] for entry in body["Results"]]
    # Deadline: 1.5 s - 0.15 s margin - 20 x 0.1 ms wind-down; calls need 0.2 s left: 5 start.
    assert response["statusCode"] == 503
    assert response["headers"]["Retry-After"] == "1"
    assert body["Error"]["Code"] == "ResourceUnavailable.DeadlineExceeded"
    assert outcomes == ["reported"] * 5 + ["failed"] * 15
    assert len(scf_env.reports) == 5


def test_queue_batch_past_the_deadline_raises_and_lists_what_was_left(
    app: Application,
    clock: FakeClock,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SMS_CONCURRENCY", "1")
    scf_env.on_request = lambda: clock.advance(0.25)
    with pytest.raises(RetryLater):
        app.handle(ckafka_event([{"SerialNo": f"q-{i}"} for i in range(30)]), scf_context(time_limit_in_ms=1500))
    [retry] = [line for line in log_lines(capsys.readouterr().out) if line.get("event") == "batch_retry"]
    assert len(scf_env.reports) == 5
    assert retry["records_left_count"] == 25
    assert retry["records_left"].startswith("topic verification-success partition 0 offset 5, ")
    assert len(retry["records_left"]) <= 300


def test_answer_margin_grows_with_the_batch(clock: FakeClock) -> None:
    small = Deadline.for_invocation(clock, clock.monotonic(), 3.0, messages=0)
    large = Deadline.for_invocation(clock, clock.monotonic(), 3.0, messages=10_000)
    assert small.remaining() == pytest.approx(2.7)
    assert large.remaining() == pytest.approx(1.7)  # 10,000 x 0.1 ms more to wind down
    assert large.until_end() == pytest.approx(3.0)


@pytest.mark.parametrize("limit", [float("inf"), "inf", "1e400", float("nan"), -5, 10**400])
def test_a_time_limit_that_is_not_a_finite_positive_number_is_ignored(
    app: Application, scf_env: SmsEmulator, limit: Any
) -> None:
    assert app.handle({"SerialNo": "lim-1"}, scf_context(time_limit_in_ms=limit))["StatusCode"] == 200


def test_the_answer_margin_covers_the_batch_in_hand(
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

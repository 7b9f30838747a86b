"""The reporting pipeline, on the unit layer (the real SDK, an in-process API): every policy on every path."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import UNIT_APP_ID, FakeClock, unit_instance
from fakes import Answer, ScriptedApi

from sms_conversion.classifier import Scope
from sms_conversion.clock import Deadline
from sms_conversion.credentials import MissingCredentialsError
from sms_conversion.faults import COOL_DOWN_SECONDS
from sms_conversion.instance import WarmInstance
from sms_conversion.message import ConversionMessage
from sms_conversion.outcome import Status
from sms_conversion.pipeline import Conversion

OTHER_APP_ID = "1400000001"
DENIED = "AuthFailure.UnauthorizedOperation"
VERIFY_FAIL = "UnauthorizedOperation.SmsSdkAppIdVerifyFail"


def conversions(count: int, prefix: str = "s", app_id: str = UNIT_APP_ID) -> list[Conversion]:
    return [
        Conversion(ConversionMessage.model_validate({"SmsSdkAppId": app_id, "SerialNo": f"{prefix}-{i}"}))
        for i in range(count)
    ]


def run(instance: WarmInstance, items: list[Conversion], **kwargs: Any) -> list[Any]:
    from sms_conversion.settings import load_settings

    settings = load_settings(instance.environ)
    clock = instance.clock
    deadline = Deadline.for_invocation(clock, clock.monotonic(), 30.0, messages=len(items))
    return instance.pipeline(settings).report(items, deadline, **kwargs)


def all_in_flight(api: ScriptedApi, calls: int) -> None:
    """Each call waits until `calls` are in flight together: the worst case for a fan-out, made exact."""
    barrier = threading.Barrier(calls, timeout=10)

    def wait(params: dict[str, Any]) -> None:
        barrier.wait()

    api.on_call = wait


def statuses(items: list[Conversion]) -> list[str]:
    return [item.outcome.status.value if item.outcome else "none" for item in items]


def test_every_conversion_gets_its_outcome_and_the_callback_sees_each_as_it_arrives(
    api: ScriptedApi, clock: FakeClock
) -> None:
    items = conversions(50)
    seen: list[Conversion] = []
    lock = threading.Lock()

    def arrived(conversion: Conversion) -> None:
        assert conversion.outcome is not None  # called once the outcome is set
        with lock:
            seen.append(conversion)

    faults = run(unit_instance(api, clock, SMS_CONCURRENCY="8"), items, on_outcome=arrived)
    assert faults == []
    assert statuses(items) == ["reported"] * 50
    assert sorted(api.reported) == sorted(f"s-{i}" for i in range(50))
    assert {id(item) for item in seen} == {id(item) for item in items}


def test_the_allowlist_refuses_before_any_call(api: ScriptedApi, clock: FakeClock) -> None:
    items = conversions(2) + conversions(2, "o", OTHER_APP_ID)
    run(unit_instance(api, clock, SMS_ALLOWED_SDK_APP_IDS=UNIT_APP_ID), items)
    assert statuses(items) == ["reported", "reported", "skipped", "skipped"]
    assert items[2].outcome is not None
    assert (items[2].outcome.code, items[2].outcome.http_status) == ("UnauthorizedOperation.SmsSdkAppIdNotAllowed", 403)
    assert sorted(call["SerialNo"] for call in api.calls) == ["s-0", "s-1"]


def test_a_copy_shares_its_first_occurrences_fate(api: ScriptedApi, clock: FakeClock) -> None:
    api.script(Answer(code="FailedOperation.X", serial_no="bad-0"))
    first = conversions(1, "bad")[0]
    items = [first, Conversion(first.message), *conversions(1, "good"), Conversion(conversions(1, "good")[0].message)]
    run(unit_instance(api, clock), items)
    assert statuses(items) == ["skipped", "skipped", "reported", "duplicate"]
    assert len(api.calls) == 2


def test_an_account_level_fault_stops_a_10000_message_batch_within_the_concurrency(
    api: ScriptedApi, clock: FakeClock
) -> None:
    api.script(Answer(code=DENIED))
    all_in_flight(api, 16)
    items = conversions(10_000)
    faults = run(unit_instance(api, clock, SMS_CONCURRENCY="16"), items)
    assert len(api.calls) == 16
    assert [fault.code for fault in faults] == [DENIED]
    assert faults[0].scope is Scope.ACCOUNT
    assert statuses(items).count("failed") == 10_000
    stopped = [item.outcome for item in items if item.outcome is not None and not item.outcome.attempted]
    assert len(stopped) >= 10_000 - 16
    assert all(outcome.fault == faults[0] and outcome.http_status == 503 for outcome in stopped)


def test_an_app_level_fault_stops_that_app_id_and_the_others_are_reported(api: ScriptedApi, clock: FakeClock) -> None:
    api.script(Answer(code=VERIFY_FAIL, app_id=OTHER_APP_ID))
    items = conversions(300, "mine") + conversions(300, "theirs", OTHER_APP_ID)
    instance = unit_instance(api, clock, SMS_CONCURRENCY="4", SMS_ALLOWED_SDK_APP_IDS=f"{UNIT_APP_ID},{OTHER_APP_ID}")
    faults = run(instance, items)
    assert [(fault.code, fault.app_id) for fault in faults] == [(VERIFY_FAIL, OTHER_APP_ID)]
    assert statuses(items[:300]) == ["reported"] * 300
    assert statuses(items[300:]) == ["failed"] * 300
    assert sum(1 for call in api.calls if call["SmsSdkAppId"] == OTHER_APP_ID) <= 4


def test_an_app_level_code_for_a_foreign_app_id_skips_only_those_messages(api: ScriptedApi, clock: FakeClock) -> None:
    api.script(Answer(code=VERIFY_FAIL, app_id=OTHER_APP_ID))
    items = conversions(3) + conversions(3, "foreign", OTHER_APP_ID)
    faults = run(unit_instance(api, clock), items)  # SMS_SDK_APP_ID is the only app of the operator's
    assert faults == []
    assert statuses(items) == ["reported"] * 3 + ["skipped"] * 3
    assert len(api.calls) == 6  # a producer's mistake never stops the rest


def test_the_warm_instance_probes_once_within_the_cool_down(api: ScriptedApi, clock: FakeClock) -> None:
    instance = unit_instance(api, clock, SMS_CONCURRENCY="16")
    api.script(Answer(code=DENIED))
    run(instance, conversions(100, "first"))
    first_calls = len(api.calls)
    # A redelivery storm: each invocation makes one probe call and stops.
    for attempt in range(3):
        clock.advance(1)
        items = conversions(100, f"again-{attempt}")
        faults = run(instance, items)
        assert [fault.code for fault in faults] == [DENIED]
        assert statuses(items) == ["failed"] * 100
    assert len(api.calls) == first_calls + 3


def test_a_probe_that_gets_through_clears_the_fault_and_the_batch_fans_out(api: ScriptedApi, clock: FakeClock) -> None:
    instance = unit_instance(api, clock, SMS_CONCURRENCY="8")
    api.script(Answer(code=DENIED, times=1))
    run(instance, conversions(1, "first"))
    items = conversions(40, "fixed")
    assert run(instance, items) == []
    assert statuses(items) == ["reported"] * 40
    assert instance.fault_memory.account_fault() is None


def test_after_the_cool_down_the_batch_fans_out_without_a_probe(api: ScriptedApi, clock: FakeClock) -> None:
    instance = unit_instance(api, clock, SMS_CONCURRENCY="8")
    api.script(Answer(code=DENIED))
    run(instance, conversions(50, "first"))
    clock.advance(COOL_DOWN_SECONDS + 1)
    assert instance.fault_memory.account_fault() is None
    before = len(api.calls)
    all_in_flight(api, 8)
    run(instance, conversions(50, "later"))
    assert len(api.calls) - before == 8  # a fresh fan-out, not one probe; stopped again within the concurrency


def test_a_remembered_app_fault_probes_that_app_only(api: ScriptedApi, clock: FakeClock) -> None:
    instance = unit_instance(api, clock, SMS_ALLOWED_SDK_APP_IDS=f"{UNIT_APP_ID},{OTHER_APP_ID}")
    api.script(Answer(code=VERIFY_FAIL, app_id=OTHER_APP_ID))
    run(instance, conversions(5, "t0", OTHER_APP_ID))
    before = len(api.calls)
    items = conversions(20, "mine") + conversions(20, "theirs", OTHER_APP_ID)
    run(instance, items)
    calls = api.calls[before:]
    assert sum(1 for call in calls if call["SmsSdkAppId"] == OTHER_APP_ID) == 1
    assert statuses(items[:20]) == ["reported"] * 20


def test_a_failed_report_releases_its_claim_and_a_reported_one_is_a_duplicate_next_time(
    api: ScriptedApi, clock: FakeClock
) -> None:
    instance = unit_instance(api, clock, SMS_MAX_ATTEMPTS="1")
    api.script(Answer(code="InternalError", serial_no="s-1", times=1))
    items = conversions(2)
    run(instance, items)
    assert statuses(items) == ["reported", "failed"]
    again = conversions(2)
    run(instance, again)
    assert statuses(again) == ["duplicate", "reported"]


def test_retries_back_off_on_the_injected_clock_and_stop_at_the_attempts(api: ScriptedApi, clock: FakeClock) -> None:
    api.script(Answer(code="InternalError.SendAndRecvFail", times=2))
    items = conversions(1)
    run(unit_instance(api, clock, SMS_MAX_ATTEMPTS="4"), items)
    assert items[0].outcome is not None
    assert (items[0].outcome.status, items[0].outcome.attempts) == (Status.REPORTED, 3)
    assert len(clock.slept) == 2
    assert all(0 <= pause <= 0.2 for pause in clock.slept)  # jittered: 0.1 s then 0.2 s at most
    api.script(Answer(code="InternalError"))
    more = conversions(1, "more")
    run(unit_instance(api, clock, SMS_MAX_ATTEMPTS="3"), more)
    assert more[0].outcome is not None
    assert (more[0].outcome.status, more[0].outcome.attempts) == (Status.FAILED, 3)


def test_once_stopped_no_further_call_starts_and_what_was_not_reached_has_no_outcome(
    api: ScriptedApi, clock: FakeClock
) -> None:
    stop = threading.Event()
    api.on_call = lambda params: stop.set() if len(api.calls) >= 4 else None
    items = conversions(100)
    run(unit_instance(api, clock, SMS_CONCURRENCY="1"), items, stop=stop)
    assert len(api.calls) == 5  # the call in flight when asked to stop finishes
    assert statuses(items).count("reported") == 5
    assert statuses(items).count("none") == 95


def test_no_credentials_at_all_raises_before_any_call(api: ScriptedApi, clock: FakeClock) -> None:
    instance = unit_instance(api, clock, TENCENTCLOUD_SECRETID="", TENCENTCLOUD_SECRETKEY="")
    with pytest.raises(MissingCredentialsError):
        run(instance, conversions(3))
    assert api.calls == []

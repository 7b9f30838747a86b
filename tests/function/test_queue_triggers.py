"""CKafka, CMQ topic, TDMQ via EventBridge and TDMQ-CMQ push: poison records never block, retryable ones raise."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import body_of, ckafka_event, http_event, load_event, log_lines, scf_context

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.responder import RetryLater


@pytest.mark.parametrize(
    ("name", "trigger", "count"),
    [("ckafka.json", "ckafka", 2), ("cmq_topic.json", "cmq", 2), ("tdmq_eventbridge.json", "tdmq", 1)],
)
def test_sample_queue_events_are_reported(
    app: Application, scf_env: SmsEmulator, name: str, trigger: str, count: int
) -> None:
    summary = app.handle(load_event(name), scf_context())
    assert summary == {
        "Trigger": trigger,
        "Records": count,
        "Messages": count,
        "Reported": count,
        "Duplicates": 0,
        "Skipped": 0,
        "Failed": 0,
    }
    assert len(scf_env.reports) == count


def test_cmq_publish_time_stands_in_for_a_missing_conversion_time(app: Application, scf_env: SmsEmulator) -> None:
    app.handle(load_event("cmq_topic.json"), scf_context())
    by_serial = {report["SerialNo"][-3:]: report["ConversionTime"] for report in scf_env.reports}
    assert by_serial == {"625": 1_700_000_000, "626": 1699999990}


def test_doubtful_publish_time_is_left_out(app: Application, scf_env: SmsEmulator) -> None:
    event = load_event("cmq_topic.json")
    event["Records"] = event["Records"][:1]
    event["Records"][0]["CMQ"]["publishTime"] = "1970-01-01T00:00:00.000Z"
    assert app.handle(event, scf_context())["Reported"] == 1
    assert scf_env.reports[0]["ConversionTime"] is None


def test_poison_records_in_the_middle_are_skipped_with_coordinates(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    event = ckafka_event(
        [
            {"SerialNo": "k-0"},
            "{not json",
            {"SerialNo": ""},
            {"SerialNo": "k-3", "SmsSdkAppId": "1400009999"},  # the API refuses it: non-retryable
            [{"SerialNo": "k-4a"}, {"SerialNo": "k-4b"}],
            {"SerialNo": "k-5"},
        ],
        topic="conversions",
        partition=3,
        first_offset=100,
    )
    event["Records"].insert(2, {"Ckafka": None})
    summary = app.handle(event, scf_context())
    # Counts are of conversions: the array record (k-4a, k-4b) counts two; a poison record, one.
    assert summary == {
        "Trigger": "ckafka",
        "Records": 7,
        "Messages": 8,
        "Reported": 4,
        "Duplicates": 0,
        "Skipped": 4,
        "Failed": 0,
    }
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["k-0", "k-4a", "k-4b", "k-5"]
    skipped = [line for line in log_lines(capsys.readouterr().out) if line.get("outcome") == "skipped"]
    by_record = {line["record"]: line for line in skipped}
    assert sorted(by_record) == [1, 2, 3, 4]
    assert {key: by_record[1][key] for key in ("record", "topic", "partition", "offset")} == {
        "record": 1,
        "topic": "conversions",
        "partition": 3,
        "offset": 101,
    }
    assert "not valid JSON" in by_record[1]["reason"]
    assert "null" in by_record[2]["reason"]
    assert "SerialNo: must not be empty" in by_record[3]["reason"]
    assert by_record[4]["code"] == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    assert all(line["level"] == "WARNING" for line in skipped)


def test_retryable_failure_raises_after_the_whole_batch(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "2")
    scf_env.inject(Fault(error_code="InternalError.SendAndRecvFail", serial_no="k-1", times=5))
    event = ckafka_event([{"SerialNo": f"k-{i}"} for i in range(5)], first_offset=40)
    with pytest.raises(RetryLater) as caught:
        app.handle(event, scf_context())
    assert json.loads(str(caught.value))["Failed"] == 1
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["k-0", "k-2", "k-3", "k-4"]
    lines = log_lines(capsys.readouterr().out)
    [retry] = [line for line in lines if line.get("event") == "batch_retry"]
    assert (retry["records_left_count"], retry["level"]) == (1, "WARNING")
    assert retry["records_left"] == "topic verification-success partition 0 offset 41"
    [failed] = [line for line in lines if line.get("outcome") == "failed"]
    assert (failed["serial_no"], failed["offset"], failed["code"]) == ("k-1", 41, "InternalError.SendAndRecvFail")
    [invocation] = [line for line in lines if line.get("event") == "invocation"]
    assert (invocation["raised"], invocation["reason"], invocation["level"]) == (True, "retry", "WARNING")


def test_redelivered_batch_reports_only_what_failed(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(drop=True, serial_no="k-2"))
    event = ckafka_event([{"SerialNo": f"k-{i}"} for i in range(4)])
    with pytest.raises(RetryLater):
        app.handle(event, scf_context())
    summary = app.handle(event, scf_context(request_id="redelivery"))
    assert summary == {
        "Trigger": "ckafka",
        "Records": 4,
        "Messages": 4,
        "Reported": 1,
        "Duplicates": 3,
        "Skipped": 0,
        "Failed": 0,
    }
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["k-0", "k-1", "k-2", "k-3"]


def test_duplicates_inside_one_batch_collapse_to_one_call(app: Application, scf_env: SmsEmulator) -> None:
    event = ckafka_event(
        [
            {"SerialNo": "same"},
            {"SerialNo": "other"},
            {"serial_no": "same"},
            {"SerialNo": "same", "SmsSdkAppId": "1400000001"},
        ]
    )
    summary = app.handle(event, scf_context())
    assert summary["Reported"] == 3
    assert summary["Duplicates"] == 1
    assert sorted((report["SmsSdkAppId"], report["SerialNo"]) for report in scf_env.reports) == [
        ("1400000001", "same"),
        ("1400006666", "other"),
        ("1400006666", "same"),
    ]


def test_empty_batch_is_an_explicit_empty_summary(app: Application, scf_env: SmsEmulator) -> None:
    assert app.handle({"Records": []}, scf_context()) == {
        "Trigger": "queue",
        "Records": 0,
        "Messages": 0,
        "Reported": 0,
        "Duplicates": 0,
        "Skipped": 0,
        "Failed": 0,
    }


def test_queue_batch_without_credentials_raises_so_nothing_is_lost(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SECRETID")
    with pytest.raises(Exception, match="execution role"):
        app.handle(load_event("ckafka.json"), scf_context())
    assert scf_env.snapshot()["requests"] == 0


def test_queue_batch_with_bad_configuration_raises_naming_the_variable(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_CONCURRENCY", "0")
    with pytest.raises(Exception, match="SMS_CONCURRENCY"):
        app.handle(load_event("ckafka.json"), scf_context())


# ---- TDMQ-CMQ HTTP push: HTTP transport, queue semantics -------------------------------------


def push(app: Application, name: str, **changes: Any) -> dict[str, Any]:
    event = load_event(name)
    event.update(changes)
    response: dict[str, Any] = app.handle(event, scf_context())
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
    return response


@pytest.mark.parametrize("name", ["cmq_push.json", "cmq_push_simplified.json"])
def test_push_is_reported(app: Application, scf_env: SmsEmulator, name: str) -> None:
    response = push(app, name)
    assert response["statusCode"] == 200
    assert body_of(response)["Results"][0]["Outcome"] == "reported"
    assert len(scf_env.reports) == 1


def test_push_envelope_publish_time_in_milliseconds_becomes_conversion_time(
    app: Application, scf_env: SmsEmulator
) -> None:
    push(app, "cmq_push.json")
    assert scf_env.reports[0]["ConversionTime"] == 1_700_000_000


def test_poison_push_is_acknowledged_with_2xx(app: Application, scf_env: SmsEmulator) -> None:
    response = push(app, "cmq_push_simplified.json", body='{"SerialNo": ""}')
    assert response["statusCode"] == 200
    body = body_of(response)
    assert body["Outcome"] == "skipped"
    assert "SerialNo" in body["Reason"]
    assert scf_env.snapshot()["requests"] == 0


def test_push_refused_by_the_api_is_acknowledged(app: Application, scf_env: SmsEmulator) -> None:
    response = push(app, "cmq_push_simplified.json", body='{"SerialNo": "p-1", "SmsSdkAppId": "1400009999"}')
    assert response["statusCode"] == 200


def test_push_with_retryable_failure_is_non_2xx(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "2")
    scf_env.inject(Fault(error_code="InternalError.SendAndRecvFail", times=2))
    response = push(app, "cmq_push.json")
    assert response["statusCode"] == 502
    assert body_of(response)["Retryable"] is True


def test_a_record_carrying_100_messages_counts_100_conversions(app: Application, scf_env: SmsEmulator) -> None:
    summary = app.handle(ckafka_event([[{"SerialNo": f"many-{i}"} for i in range(100)]]), scf_context())
    assert (summary["Records"], summary["Messages"], summary["Reported"]) == (1, 100, 100)


@pytest.mark.parametrize("publish_time", ["²", 10**400, "1e400", "١٢٣", float("nan"), [1], {"a": 1}])
def test_a_doubtful_publish_time_is_ignored_never_an_error(
    app: Application, scf_env: SmsEmulator, publish_time: Any
) -> None:
    event = load_event("cmq_topic.json")
    event["Records"] = event["Records"][:1]
    event["Records"][0]["CMQ"]["publishTime"] = publish_time
    assert app.handle(event, scf_context())["Reported"] == 1
    assert scf_env.reports[0]["ConversionTime"] is None


@pytest.mark.parametrize(
    ("body", "base64_encoded"),
    [
        ("x" * (64 * 1024 + 1), False),
        ("not base64!", True),
        (base64.b64encode(b"\xff\xfe not utf-8").decode(), True),
        ("{not json", False),
    ],
)
def test_an_unreadable_push_is_acknowledged_so_the_queue_does_not_redeliver_it_for_a_day(
    app: Application, scf_env: SmsEmulator, body: str, base64_encoded: bool
) -> None:
    event = http_event(body, headers={"x-cmq-message-id": "m-9", "content-type": "text/plain"})
    event["isBase64Encoded"] = base64_encoded
    response = app.handle(event, scf_context())
    assert response["statusCode"] == 200
    assert body_of(response)["Outcome"] == "skipped"
    assert body_of(response)["MsgId"] == "m-9"
    assert scf_env.snapshot()["requests"] == 0

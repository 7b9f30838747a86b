"""EventBridge as Tencent delivers it: connector and custom-bus CloudEvents, batch arrays, the published quirks.

Fixtures are Tencent's published samples, verbatim where marked, then again with a conversion in place of the body:
- CKAFKA_CONNECTOR: EventBridge, "配置 Ckafka 连接器" (cloud.tencent.com/document/product/1359/58598, updated
  2024-07-10): specversion "0", type connector:ckafka, `time` a number in milliseconds, `Partition` capital P.
- KAFKA_CONNECTOR_INTL: the same page in the international edition (tencentcloud.com/document/product/1108/42280
  and 248/65654, 2024): specversion "1.0", type `connector:kafka`, `subjuect` misspelled, `time` a string.
- TDMQ_CONNECTOR: EventBridge's TDMQ connector page as summarised in ../shared/reference/scf-platform.md
  ("TDMQ (Pulsar) through EventBridge"): specversion "0", `partitions` a string, `TopicType` an int.
- SAAS_CONNECTOR: EventBridge, "SaaS connector" (tencentcloud.com/document/product/1108, the EIS connector page):
  type `adapter:eis`, `data` is what the producer sent.
- SCF_TARGET_BATCH: EventBridge, "SCF 云函数目标" (cloud.tencent.com/document/product/248/87558, updated
  2024-09-29): with batch delivery on, the events come "as an array"; the page's array-mode sample wraps them in
  `{"EventList": [...]}` and uses specversion "1.0.2". Both forms are accepted.
- SCF's event bus trigger page (cloud.tencent.com/document/product/583/59100): asynchronous invocation; run errors
  retried twice, system errors with exponential backoff for six hours.
- CMQ topic and API Gateway quirks (`topicOwner` a number or a string, `msgTag` a string or a list, a `queryString`
  holding a list and a boolean): SCF's trigger event summary (cloud.tencent.com/document/product/583/12513) and the
  real captures listed in ../shared/reference/scf-platform.md.
"""

from __future__ import annotations

import base64
import copy
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from conftest import FakeClock, body_of, ckafka_event, events_named, load_event, log_lines, scf_context, unit_instance
from fakes import ScriptedApi

from emulator import Fault, SmsEmulator
from sms_conversion.handler import Application
from sms_conversion.instance import WarmInstance
from sms_conversion.message import parse_messages
from sms_conversion.responder import DeploymentFaultRaised, RetryLater
from sms_conversion.sources import EventBridgeBatch, QueueBatch, adapt, is_cloudevent, recognise

APP_ID = "1400006666"

CKAFKA_CONNECTOR: dict[str, Any] = {
    "specversion": "0",
    "id": "8d5c4bc7-3330-49ba-888f-bd2c4c3e6bbe",
    "source": "ckafka.cloud.tencent",
    "type": "connector:ckafka",
    "subject": "qcs::ckafka:ap-guangzhou:uin/1250000000:ckafkaId/uin/1250000000/ckafka-123456",
    "time": 1678268812575,
    "region": "ap-guangzhou",
    "datacontenttype": "application/json;charset=utf-8",
    "data": {
        "topic": "test-topic",
        "Partition": 1,
        "offset": 37,
        "msgKey": "test",
        "msgBody": "Hello from Ckafka again!",
    },
}

KAFKA_CONNECTOR_INTL: dict[str, Any] = {
    "specversion": "1.0",
    "id": "13a3f42d-7258-4ada-da6d-023a333b4662",
    "type": "connector:kafka",
    "source": "ckafka.cloud.tencent",
    "subjuect": "qcs::ckafka:ap-guangzhou:uin/1250000000:ckafkaId/uin/1250000000/ckafka-123456",
    "time": "1615430559146",
    "region": "ap-guangzhou",
    "datacontenttype": "application/json;charset=utf-8",
    "data": {
        "topic": "test-topic",
        "Partition": 1,
        "offset": 37,
        "msgKey": "test",
        "msgBody": "Hello from Ckafka again!",
    },
}

TDMQ_CONNECTOR: dict[str, Any] = {
    "specversion": "0",
    "id": "13a3f42d-7258-4ada-da6d-023a333b4662",
    "type": "connector:tdmq",
    "source": "tdmq.cloud.tencent",
    "subjuect": "qcs::tdmq:$region:$account:topicName/...",
    "time": "1615430559146",
    "region": "ap-guangzhou",
    "datacontenttype": "application/json;charset=utf-8",
    "data": {
        "topic": "persistent://appid/namespace/topic-1",
        "tags": "testtopic",
        "TopicType": 0,
        "subscriptionName": "xxxxxx",
        "toTimestamp": "1603352765001",
        "partitions": "0",
        "msgId": "123345346",
        "msgBody": "Hello from TDMQ!",
    },
}

SAAS_CONNECTOR: dict[str, Any] = {
    "specversion": "0",
    "id": "13a3f42d-7258-4ada-da6d-023a333b4662",
    "type": "adapter:eis",
    "source": "eis.cloud.tencent",
    "subjuect": "qcs::eis:${region}:uin/${uin}:application/${projectId}/${applicationId}",
    "time": "1615430559146",
    "region": "ap-guangzhou",
    "datacontenttype": "application/json;charset=utf-8",
    "resource": ["qcs::eb:ap-guangzhou:uid1250000000:eventbusid/eventruleid"],
    "data": {"payload": "test_value"},
}

SCF_TARGET_EVENT: dict[str, Any] = {
    "specversion": "1.0.2",
    "id": "13a3f42d-7258-4ada-da6d-023a333b4662",
    "type": "connector:apigw",
    "source": "apigw.cloud.tencent",
    "subject": "qcs::apigw:ap-guangzhou:uid1250000000/appidxxx:Serverid/Appid",
    "time": "1615430559146",
    "region": "ap-guangzhou",
    "datacontenttype": "application/json;charset=utf-8",
    "data": {"$data_value": None},
}

PUBLISHED = {
    "ckafka connector": CKAFKA_CONNECTOR,
    "kafka connector (international)": KAFKA_CONNECTOR_INTL,
    "tdmq connector": TDMQ_CONNECTOR,
    "saas connector": SAAS_CONNECTOR,
    "scf target": SCF_TARGET_EVENT,
}

CONNECTORS = {
    "ckafka connector": CKAFKA_CONNECTOR,
    "kafka connector (international)": KAFKA_CONNECTOR_INTL,
    "tdmq connector": TDMQ_CONNECTOR,
}


def conversion(serial: str, **extra: Any) -> dict[str, Any]:
    return {"SmsSdkAppId": APP_ID, "SerialNo": serial, **extra}


def with_body(event: dict[str, Any], message: Any) -> dict[str, Any]:
    """The published event with a conversion in place of its body (msgBody for connectors, data otherwise)."""
    event = copy.deepcopy(event)
    if isinstance(event["data"], dict) and "msgBody" in event["data"]:
        event["data"]["msgBody"] = json.dumps(message)
    else:
        event["data"] = message
    return event


def custom(serial: str, event_id: str = "e-1", **extra: Any) -> dict[str, Any]:
    """A custom bus's event, as PutEvents publishes it."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": "verification.success",
        "source": "app.login-service",
        "time": "1615430559146",
        "data": conversion(serial, **extra),
    }


# ---- the published samples, verbatim ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_published_sample_is_an_eventbridge_envelope_with_one_poison_record_and_no_call(
    name: str, app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Verbatim, their bodies are not conversions ("Hello from Ckafka again!"): skipped with coordinates, no call."""
    event = PUBLISHED[name]
    assert is_cloudevent(event)
    summary = app.handle(copy.deepcopy(event), scf_context())
    assert (summary["Records"], summary["Messages"], summary["Skipped"], summary["Reported"]) == (1, 1, 1, 0)
    assert scf_env.snapshot()["requests"] == 0
    [skipped] = [line for line in log_lines(capsys.readouterr().out) if line.get("outcome") == "skipped"]
    assert (skipped["event_id"], skipped["event_source"], skipped["event_type"]) == (
        event["id"],
        event["source"],
        event["type"],
    )


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_published_sample_with_a_conversion_in_its_body_is_reported(
    name: str, app: Application, scf_env: SmsEmulator
) -> None:
    event = with_body(PUBLISHED[name], conversion(f"5000:{name}".replace(" ", "-")))
    summary = app.handle(event, scf_context())
    assert (summary["Reported"], summary["Skipped"], summary["Failed"]) == (1, 0, 0)
    assert [report["SerialNo"] for report in scf_env.reports] == [f"5000:{name}".replace(" ", "-")]


@pytest.mark.parametrize(
    ("name", "partition", "offset", "msg_id", "topic"),
    [
        ("ckafka connector", 1, 37, None, "test-topic"),
        ("kafka connector (international)", 1, 37, None, "test-topic"),
        ("tdmq connector", "0", None, "123345346", "persistent://appid/namespace/topic-1"),
    ],
)
def test_connector_events_are_logged_with_topic_partition_offset_or_msg_id(
    name: str,
    partition: Any,
    offset: Any,
    msg_id: Any,
    topic: str,
    app: Application,
    scf_env: SmsEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app.handle(with_body(CONNECTORS[name], conversion("5000:c-1")), scf_context())
    [line] = [line for line in log_lines(capsys.readouterr().out) if line.get("event") == "record"]
    assert line["outcome"] == "reported"
    assert (line["topic"], line.get("partition"), line.get("offset"), line.get("msg_id")) == (
        topic,
        partition,
        offset,
        msg_id,
    )


# ---- the samples in events/ -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "records", "reported", "skipped"),
    [("eventbridge_ckafka.json", 1, 1, 0), ("eventbridge_custom.json", 1, 1, 0), ("eventbridge_batch.json", 3, 2, 1)],
)
def test_each_eventbridge_sample_is_answered_with_its_summary(
    name: str, records: int, reported: int, skipped: int, app: Application, scf_env: SmsEmulator
) -> None:
    summary = app.handle(load_event(name), scf_context())
    assert summary == {
        "Trigger": "eventbridge",
        "Records": records,
        "Messages": records,
        "Reported": reported,
        "Duplicates": 0,
        "Skipped": skipped,
        "Failed": 0,
    }
    assert len(scf_env.reports) == reported


def test_the_batch_sample_skips_its_poison_event_with_the_events_coordinates(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    app.handle(load_event("eventbridge_batch.json"), scf_context())
    [skipped] = [line for line in log_lines(capsys.readouterr().out) if line.get("outcome") == "skipped"]
    assert {key: skipped[key] for key in ("record", "event_id", "event_type", "topic", "partition", "offset")} == {
        "record": 1,
        "event_id": "8d5c4bc7-3330-49ba-888f-bd2c4c3e6bbe",
        "event_type": "connector:ckafka",
        "topic": "verification-success",
        "partition": 1,
        "offset": 38,
    }
    assert "msgBody is not valid JSON" in skipped["reason"]
    assert skipped["level"] == "WARNING"


# ---- custom bus: data is the message ----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        conversion("5000:d-1"),
        json.dumps(conversion("5000:d-1")),
        [conversion("5000:d-1")],
    ],
    ids=["object", "json string", "array"],
)
def test_custom_bus_data_may_be_an_object_a_json_string_or_an_array(
    data: Any, app: Application, scf_env: SmsEmulator
) -> None:
    event = custom("unused")
    event["data"] = data
    assert app.handle(event, scf_context())["Reported"] == 1
    assert [report["SerialNo"] for report in scf_env.reports] == ["5000:d-1"]


def test_data_base64_is_read_as_the_message(app: Application, scf_env: SmsEmulator) -> None:
    event = custom("unused")
    del event["data"]
    event["data_base64"] = base64.b64encode(json.dumps(conversion("5000:b64")).encode()).decode()
    assert app.handle(event, scf_context())["Reported"] == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"data": None}, "EventBridge event data is null"),
        ({"data": "not json"}, "data is not valid JSON"),
        ({"data": 42}, "data is a number, not a JSON text"),
        ({"data": {"SerialNo": ""}}, "SerialNo: must not be empty"),
        ({"data_base64": "%%%"}, "data_base64 is not base64"),
    ],
)
def test_an_envelope_without_usable_data_is_poison_and_makes_no_call(
    change: dict[str, Any], reason: str, app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    event = custom("unused")
    del event["data"]
    event.update(change)
    summary = app.handle(event, scf_context())
    assert (summary["Skipped"], summary["Reported"]) == (1, 0)
    assert scf_env.snapshot()["requests"] == 0
    [skipped] = [line for line in log_lines(capsys.readouterr().out) if line.get("outcome") == "skipped"]
    assert reason in skipped["reason"]
    assert skipped["event_id"] == "e-1"


def test_an_envelope_with_no_data_at_all_is_poison(app: Application, scf_env: SmsEmulator) -> None:
    event = custom("unused")
    del event["data"]
    assert app.handle(event, scf_context())["Skipped"] == 1
    assert scf_env.snapshot()["requests"] == 0


def test_a_connector_without_msgbody_is_poison_and_another_connector_with_msgbody_is_unwrapped(
    app: Application, scf_env: SmsEmulator
) -> None:
    no_body = copy.deepcopy(CKAFKA_CONNECTOR)
    del no_body["data"]["msgBody"]
    assert app.handle(no_body, scf_context())["Skipped"] == 1
    other: dict[str, Any] = {
        "specversion": "1.0",
        "id": "x",
        "type": "connector:rocketmq",
        "source": "rocketmq.cloud.tencent",
    }
    other["data"] = {"topic": "t", "msgId": "m-1", "msgBody": json.dumps(conversion("5000:rocket"))}
    assert app.handle(other, scf_context())["Reported"] == 1
    assert [report["SerialNo"] for report in scf_env.reports] == ["5000:rocket"]


# ---- ConversionTime from the event's time ----------------------------------------------------


@pytest.mark.parametrize(
    ("event_time", "expected"),
    [
        (1678268812575, 1678268812),
        ("1678268812575", 1678268812),
        ("2023-03-08T09:46:52.575Z", 1678268812),
        ("2023-03-08T17:46:52+08:00", 1678268812),
        ("2023-03-08t09:46:52.575123456z", 1678268812),
        ("1970-01-01T00:00:00Z", None),
        ("yesterday", None),
        (True, None),
    ],
)
def test_the_events_time_stands_in_for_a_missing_conversion_time_when_plausible(
    event_time: Any, expected: int | None, app: Application, scf_env: SmsEmulator
) -> None:
    event = custom("5000:t-1")
    event["time"] = event_time
    assert app.handle(event, scf_context())["Reported"] == 1
    assert scf_env.reports[0]["ConversionTime"] == expected


def test_a_conversion_time_in_the_message_wins_over_the_events_time(app: Application, scf_env: SmsEmulator) -> None:
    app.handle(custom("5000:t-2", ConversionTime=1_600_000_000), scf_context())
    assert scf_env.reports[0]["ConversionTime"] == 1_600_000_000


# ---- batch delivery -----------------------------------------------------------------------------


def test_a_batch_is_an_array_of_envelopes_with_one_outcome_each(app: Application, scf_env: SmsEmulator) -> None:
    batch = [custom(f"5000:b-{index}", event_id=f"e-{index}") for index in range(5)]
    batch[2]["data"] = {"SerialNo": 7}
    summary = app.handle(batch, scf_context())
    assert summary == {
        "Trigger": "eventbridge",
        "Records": 5,
        "Messages": 5,
        "Reported": 4,
        "Duplicates": 0,
        "Skipped": 1,
        "Failed": 0,
    }


def test_the_array_mode_eventlist_object_is_a_batch_too(app: Application, scf_env: SmsEmulator) -> None:
    """The SCF target page's array-mode sample wraps the events in {"EventList": [...]}."""
    events = [with_body(SCF_TARGET_EVENT, conversion(f"5000:list-{index}")) for index in range(3)]
    summary = app.handle({"EventList": events}, scf_context())
    assert (summary["Trigger"], summary["Records"], summary["Reported"]) == ("eventbridge", 3, 3)


def test_an_empty_eventlist_is_an_empty_batch(app: Application, scf_env: SmsEmulator) -> None:
    assert app.handle({"EventList": []}, scf_context())["Records"] == 0


def test_an_array_of_plain_messages_stays_a_direct_invocation(app: Application, scf_env: SmsEmulator) -> None:
    answer = app.handle([conversion("5000:p-1"), conversion("5000:p-2")], scf_context())
    assert answer["StatusCode"] == 200
    assert len(scf_env.reports) == 2


def test_a_mixed_array_is_a_batch_whose_plain_items_are_poison(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Decided: an array holding any envelope is an EventBridge batch. A plain message there is skipped and
    logged with its index; the envelopes are reported. Read as a direct invocation instead, every item would
    fail validation together and the envelopes' conversions would be lost."""
    summary = app.handle([custom("5000:m-0"), conversion("5000:m-1"), custom("5000:m-2", "e-2")], scf_context())
    assert (summary["Trigger"], summary["Reported"], summary["Skipped"]) == ("eventbridge", 2, 1)
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["5000:m-0", "5000:m-2"]
    [skipped] = [line for line in log_lines(capsys.readouterr().out) if line.get("outcome") == "skipped"]
    assert skipped["record"] == 1
    assert "not a CloudEvents envelope" in skipped["reason"]


def test_a_retryable_failure_in_a_batch_raises_after_reporting_the_rest(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "2")
    scf_env.inject(Fault(error_code="InternalError.SendAndRecvFail", serial_no="5000:r-1", times=5))
    batch = [custom(f"5000:r-{index}", event_id=f"e-{index}") for index in range(3)]
    with pytest.raises(RetryLater) as caught:
        app.handle(batch, scf_context())
    assert json.loads(str(caught.value))["Failed"] == 1
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["5000:r-0", "5000:r-2"]
    [retry] = events_named(capsys.readouterr().out, "batch_retry")
    assert retry["records_left"] == "event id e-1 event source app.login-service event type verification.success"


def test_a_deployment_fault_in_a_batch_raises_so_eventbridge_redelivers(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    scf_env.inject(Fault(error_code="AuthFailure.UnauthorizedOperation", times=99))
    with pytest.raises(DeploymentFaultRaised):
        app.handle([custom("5000:f-0"), custom("5000:f-1", "e-2")], scf_context())
    [fault] = events_named(capsys.readouterr().out, "deployment_fault")
    assert fault["code"] == "AuthFailure.UnauthorizedOperation"
    assert fault["level"] == "ERROR"


@pytest.mark.redis
def test_a_redelivered_batch_reports_only_what_failed_on_any_instance(
    redis_env: Any, scf_env: SmsEmulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCF retries the raised batch, perhaps on another instance: Redis remembers what was reported."""
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "1")
    scf_env.inject(Fault(drop=True, serial_no="5000:x-1"))
    batch = [custom(f"5000:x-{index}", event_id=f"e-{index}") for index in range(3)]
    with pytest.raises(RetryLater):
        Application(WarmInstance(clock=clock)).handle(copy.deepcopy(batch), scf_context())
    summary = Application(WarmInstance(clock=clock)).handle(copy.deepcopy(batch), scf_context())
    assert (summary["Reported"], summary["Duplicates"], summary["Failed"]) == (1, 2, 0)
    assert sorted(report["SerialNo"] for report in scf_env.reports) == ["5000:x-0", "5000:x-1", "5000:x-2"]


# ---- the quirks of Tencent's other samples -----------------------------------------------------


@pytest.mark.parametrize("owner", [1200000001, "1200000001"])
@pytest.mark.parametrize("tag", ["tag1,tag2", ["tag1", "tag2"]])
def test_a_cmq_topic_record_reads_with_topic_owner_and_msg_tag_of_either_type(
    owner: Any, tag: Any, app: Application, scf_env: SmsEmulator
) -> None:
    record = {
        "CMQ": {
            "type": "topic",
            "topicOwner": owner,
            "topicName": "testtopic",
            "subscriptionName": "xxxxxx",
            "publishTime": "1970-01-01T00:00:00.000Z",
            "msgId": "123345346",
            "requestId": "123345346",
            "msgBody": json.dumps(conversion("5000:cmq")),
            "msgTag": tag,
        }
    }
    assert app.handle({"Records": [record]}, scf_context())["Reported"] == 1


def test_a_ckafka_record_with_an_empty_string_partition_logs_no_partition(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    event = ckafka_event([conversion("5000:k-1")])
    event["Records"][0]["Ckafka"]["partition"] = ""
    assert app.handle(event, scf_context())["Reported"] == 1
    [line] = events_named(capsys.readouterr().out, "record")
    assert "partition" not in line


def test_an_api_gateway_get_without_a_body_and_a_query_of_a_list_and_a_flag_gets_405(
    app: Application, scf_env: SmsEmulator
) -> None:
    event = load_event("apigw.json")
    event["httpMethod"] = "GET"
    event["requestContext"]["httpMethod"] = "GET"
    del event["body"]
    event["queryString"] = {"serial": ["a", "b"], "debug": True}
    response = app.handle(event, scf_context())
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "POST"
    assert scf_env.snapshot()["requests"] == 0


def test_a_tdmq_cmq_push_with_capital_topic_owner_sent_as_text_plain_is_reported(
    app: Application, scf_env: SmsEmulator
) -> None:
    event = load_event("cmq_push.json")
    assert event["headers"]["content-type"] == "text/plain"
    assert "TopicOwner" in json.loads(event["body"])
    response = app.handle(event, scf_context())
    assert response["statusCode"] == 200
    assert body_of(response)["Results"][0]["Outcome"] == "reported"


# ---- recognition, and what 10,000 events cost ---------------------------------------------------


@pytest.mark.parametrize(
    ("event", "trigger"),
    [
        (CKAFKA_CONNECTOR, "eventbridge"),
        (TDMQ_CONNECTOR, "tdmq"),
        ({"specversion": "1.0", "source": "s", "data": {}}, "eventbridge"),
        ({"specversion": "2.0", "source": "s", "data": {}}, "direct"),
        ({"specversion": "1.0", "data": {}}, "direct"),
        ({"type": "connector:tdmq"}, "tdmq"),
        ([CKAFKA_CONNECTOR], "eventbridge"),
        ([{"SerialNo": "x"}], "direct"),
        ({"EventList": [CKAFKA_CONNECTOR]}, "eventbridge"),
    ],
)
def test_an_envelope_is_recognised_by_its_specversion_and_a_type_or_source(event: Any, trigger: str) -> None:
    assert recognise(event).trigger == trigger


def _peak_bytes(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _batches(count: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ckafka = ckafka_event([conversion(f"5000:k-{index}") for index in range(count)])
    eventbridge = [custom(f"5000:e-{index}", event_id=f"e-{index}") for index in range(count)]
    return ckafka, eventbridge


def _unwrapped_and_validated(event: Any) -> list[Any]:
    batch = adapt(recognise(event), event, 1_700_000_000.0)
    assert isinstance(batch, (QueueBatch, EventBridgeBatch))
    return [parse_messages(record.payload, now=1_700_000_000.0, default_app_id=None) for record in batch.records]


def test_unwrapping_10000_events_stays_within_the_memory_of_10000_ckafka_records() -> None:
    """The stages that differ by source (adapter and validation) under tracemalloc; the whole invocation is
    compared in the slow suite, and the time ratio is a row of `make bench` (no timing in tests)."""
    ckafka, eventbridge = _batches(10_000)
    _unwrapped_and_validated(ckafka_event([conversion("5000:warm")]))  # first-call caches count for neither
    ckafka_peak = _peak_bytes(lambda: _unwrapped_and_validated(ckafka))
    eventbridge_peak = _peak_bytes(lambda: _unwrapped_and_validated(eventbridge))
    assert eventbridge_peak <= ckafka_peak * 1.25, (eventbridge_peak, ckafka_peak)


@pytest.mark.slow
def test_a_10000_event_batch_stays_within_the_memory_of_a_10000_record_ckafka_batch(
    api: ScriptedApi, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole invocation, the real SDK on the in-process API, each on a fresh warm instance after a warm-up."""
    ckafka, eventbridge = _batches(10_000)
    Application(unit_instance(api, clock)).handle(ckafka_event([conversion("5000:warm")]), scf_context())
    Application(unit_instance(api, clock)).handle([custom("5000:warm-e")], scf_context())
    ckafka_peak = _peak_bytes(lambda: Application(unit_instance(api, clock)).handle(ckafka, scf_context()))
    eventbridge_peak = _peak_bytes(lambda: Application(unit_instance(api, clock)).handle(eventbridge, scf_context()))
    capsys.readouterr()
    assert eventbridge_peak <= ckafka_peak * 1.25, (eventbridge_peak, ckafka_peak)
    assert len(api.reported) == 2 * 10_000 + 2


def test_a_batch_is_one_queue_batch_whose_records_keep_their_index() -> None:
    batch = adapt(recognise([CKAFKA_CONNECTOR, SAAS_CONNECTOR]), [CKAFKA_CONNECTOR, SAAS_CONNECTOR], 1_700_000_000.0)
    assert isinstance(batch, (QueueBatch, EventBridgeBatch))
    assert [record.coordinates.record for record in batch.records] == [0, 1]
    assert [record.coordinates.event_type for record in batch.records] == ["connector:ckafka", "adapter:eis"]

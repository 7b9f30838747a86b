"""Source adapters: every sample event is recognised, malformed shapes are named, coordinates are kept."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import EVENTS, load_event

from sms_conversion.sources import (
    MAX_BODY_BYTES,
    Adapted,
    AnswerKind,
    CmqPush,
    Coordinates,
    EventBridgeBatch,
    HttpRequest,
    QueueBatch,
    UnrecognisedEvent,
    adapt,
    recognise,
)

NOW = 1_700_000_100.0


def unwrap(event: Any) -> Adapted:
    return adapt(recognise(event), event, NOW)


def http(body: Any, is_base64: bool = False) -> HttpRequest:
    request = unwrap({"httpMethod": "POST", "body": body, "isBase64Encoded": is_base64, "requestContext": {}})
    assert isinstance(request, HttpRequest)
    return request


EXPECTED_TRIGGER = {
    "apigw.json": "apigw",
    "apigw_base64.json": "apigw",
    "function_url.json": "function_url",
    "cmq_push.json": "cmq_push",
    "cmq_push_simplified.json": "cmq_push",
    "cmq_topic.json": "cmq",
    "ckafka.json": "ckafka",
    "tdmq_eventbridge.json": "tdmq",
    "eventbridge_ckafka.json": "eventbridge",
    "eventbridge_custom.json": "eventbridge",
    "eventbridge_batch.json": "eventbridge",
    "direct.json": "direct",
    "direct_batch.json": "direct",
}


ANSWER_OF_TRIGGER = {
    "apigw": AnswerKind.HTTP,
    "function_url": AnswerKind.HTTP,
    "cmq_push": AnswerKind.HTTP,
    "cmq": AnswerKind.QUEUE,
    "ckafka": AnswerKind.QUEUE,
    "tdmq": AnswerKind.QUEUE,
    "eventbridge": AnswerKind.QUEUE,
    "direct": AnswerKind.DIRECT,
}


def test_every_sample_event_has_an_expected_trigger() -> None:
    assert sorted(path.name for path in EVENTS.glob("*.json")) == sorted(EXPECTED_TRIGGER)


@pytest.mark.parametrize(("name", "trigger"), sorted(EXPECTED_TRIGGER.items()))
def test_sample_events_are_recognised_with_their_answer_kind(name: str, trigger: str) -> None:
    event = load_event(name)
    source = recognise(event)
    assert (source.trigger, source.answer) == (trigger, ANSWER_OF_TRIGGER[trigger])
    assert unwrap(event).trigger == trigger


def test_a_tdmq_event_without_data_is_a_queue_batch_with_one_poison_record() -> None:
    """The answer kind is decided once: the adapter that recognised the event is the one that unwraps it."""
    event = {"type": "connector:tdmq", "source": "tdmq.cloud.tencent"}
    assert recognise(event).answer is AnswerKind.QUEUE
    batch = unwrap(event)
    assert isinstance(batch, EventBridgeBatch)
    [record] = batch.records
    assert record.problem == "TDMQ event has no data"


@pytest.mark.parametrize(
    ("event", "answer"),
    [
        ("text", AnswerKind.DIRECT),
        ({"Records": "x"}, AnswerKind.DIRECT),
        ({"httpMethod": "POST", "headers": 5, "body": ""}, AnswerKind.HTTP),
        ([{"SerialNo": "x"}], AnswerKind.DIRECT),
    ],
)
def test_recognition_looks_only_at_the_top_level_and_never_raises(event: Any, answer: AnswerKind) -> None:
    assert recognise(event).answer is answer


def test_coordinates_are_flat_fields_and_one_readable_phrase() -> None:
    coordinates = Coordinates(4, topic="t", partition=3, offset=101)
    assert coordinates.fields() == {"record": 4, "topic": "t", "partition": 3, "offset": 101}
    assert coordinates.short() == "topic t partition 3 offset 101"
    assert Coordinates(2).short() == "record 2"
    assert Coordinates(0, msg_id="m-1").fields() == {"record": 0, "msg_id": "m-1"}


def test_header_names_are_case_insensitive_and_lists_joined() -> None:
    push = unwrap({"httpMethod": "post", "headers": {"X-CMQ-Message-Id": "1", "Accept": ["a", "b"]}, "body": ""})
    assert isinstance(push, CmqPush)
    request = push.request
    assert request.trigger == "cmq_push"
    assert request.method == "POST"
    assert request.headers["accept"] == "a,b"


def test_base64_body_is_decoded() -> None:
    request = unwrap(load_event("apigw_base64.json"))
    assert isinstance(request, HttpRequest)
    assert request.problem is None
    assert request.raw_body is not None
    assert request.payload[0]["SerialNo"].startswith("5000:")


def test_invalid_base64_is_a_400() -> None:
    request = http("not base64!", is_base64=True)
    assert request.problem is not None
    assert (request.problem.status, request.problem.code) == (400, "InvalidParameter.MalformedBody")
    assert request.raw_body is None


@pytest.mark.parametrize("is_base64", [False, True])
def test_body_over_64_kib_is_a_413(is_base64: bool) -> None:
    raw = b"x" * (MAX_BODY_BYTES + 1)
    body = base64.b64encode(raw).decode() if is_base64 else raw.decode()
    problem = http(body, is_base64).problem
    assert problem is not None
    assert problem.status == 413
    at_limit = http('"' + "x" * (MAX_BODY_BYTES - 2) + '"')
    assert at_limit.problem is None
    assert at_limit.raw_body is not None
    assert len(at_limit.raw_body) == MAX_BODY_BYTES


def test_deeply_nested_json_is_malformed_not_a_crash() -> None:
    problem = http("[" * 1000 + "]" * 1000).problem
    assert problem is not None
    assert (problem.status, problem.code) == (400, "InvalidParameter.MalformedJson")
    assert "nested too deeply" in problem.message


def test_http_body_that_is_not_a_string_is_a_400_problem_not_an_unrecognised_event() -> None:
    problem = http({"a": 1}).problem
    assert problem is not None
    assert (problem.status, problem.code) == (400, "InvalidParameter.MalformedBody")
    assert "must be a string" in problem.message


def test_ckafka_coordinates_accept_both_partition_spellings() -> None:
    batch = unwrap(load_event("ckafka.json"))
    assert isinstance(batch, QueueBatch)
    assert [record.coordinates for record in batch.records] == [
        Coordinates(0, topic="verification-success", partition=1, offset=36),
        Coordinates(1, topic="verification-success", partition=1, offset=37),
    ]


def test_cmq_records_keep_msg_id_and_publish_time() -> None:
    batch = unwrap(load_event("cmq_topic.json"))
    assert isinstance(batch, QueueBatch)
    assert batch.records[0].coordinates.msg_id == "123345346"
    assert batch.records[0].publish_time == 1_700_000_000


def test_tdmq_event_unwraps_data_msg_body() -> None:
    batch = unwrap(load_event("tdmq_eventbridge.json"))
    assert isinstance(batch, EventBridgeBatch)
    [record] = batch.records
    assert record.coordinates.msg_id == "123345346"
    assert record.payload["SerialNo"].endswith("629")


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        ([{"Ckafka": None}], "Ckafka record is null"),
        ([{"Ckafka": {"topic": "t", "partition": 0, "offset": 1}}], "no msgBody"),
        (
            [{"Ckafka": {"topic": "t", "partition": 0, "offset": 1, "msgBody": "{}"}}, {"Other": 1}],
            "Ckafka record is null",
        ),
        ([{"CMQ": "text"}], "CMQ record is a string"),
    ],
)
def test_malformed_records_of_a_known_queue_are_poison_not_errors(records: list[Any], problem: str) -> None:
    batch = unwrap({"Records": records})
    assert isinstance(batch, QueueBatch)
    assert any(record.problem and problem in record.problem for record in batch.records)


def test_empty_records_is_an_empty_batch() -> None:
    batch = unwrap({"Records": []})
    assert isinstance(batch, QueueBatch)
    assert batch.records == []


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ("text", "must be a JSON object or array"),
        (None, "got null"),
        (42, "got a number"),
        ({"Records": "x"}, "Records must be an array"),
        ({"Records": [{"cos": {}}]}, "no Ckafka or CMQ record"),
        ({"Records": [{"Ckafka": {}}, {"CMQ": {}}]}, "mix"),
        ({"Type": "Timer", "TriggerName": "EveryDay", "Time": "2019-02-21T11:49:00Z"}, "timer"),
    ],
)
def test_unrecognised_events_are_named(event: Any, fragment: str) -> None:
    with pytest.raises(UnrecognisedEvent) as caught:
        unwrap(event)
    assert fragment in str(caught.value)


def test_cmq_push_envelope_and_simplified_format() -> None:
    envelope = unwrap(load_event("cmq_push.json"))
    simplified = unwrap(load_event("cmq_push_simplified.json"))
    assert isinstance(envelope, CmqPush)
    assert isinstance(simplified, CmqPush)
    record = envelope.record
    assert record.coordinates.msg_id == "6942316962"
    assert record.publish_time == 1_700_000_000
    assert record.payload["SerialNo"].endswith("623")
    raw = simplified.record
    assert raw.payload["SerialNo"].endswith("624")
    assert raw.coordinates.msg_id == "6942316963"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (None, "msgBody is null"),
        (5, "a number"),
        ("{oops", "not valid JSON"),
        ("x" * (MAX_BODY_BYTES + 1), "larger than"),
        ("[" * 1000 + "]" * 1000, "nested too deeply"),
        ("1" * 5000, "cannot decode"),
    ],
)
def test_bad_record_bodies_are_poison_with_a_reason(body: Any, fragment: str) -> None:
    batch = unwrap({"Records": [{"Ckafka": {"topic": "t", "partition": 0, "offset": 7, "msgBody": body}}]})
    assert isinstance(batch, QueueBatch)
    [record] = batch.records
    assert record.problem is not None
    assert fragment in record.problem
    assert record.coordinates == Coordinates(0, topic="t", partition=0, offset=7)


def test_coordinates_from_the_event_are_short_scalars() -> None:
    batch = unwrap({"Records": [{"CMQ": {"topicName": {"deep": [1]}, "msgId": "m" * 1000, "msgBody": "{}"}}]})
    assert isinstance(batch, QueueBatch)
    assert batch.records[0].coordinates == Coordinates(0, topic="<an object>", msg_id="m" * 200)

"""Source adapters: every sample event is recognised, malformed shapes are named, coordinates are kept."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import EVENTS, load_event

from sms_conversion.sources import (
    MAX_BODY_BYTES,
    DirectInvocation,
    HttpRequest,
    Invocation,
    QueueBatch,
    UnrecognisedEvent,
    adapt,
)

NOW = 1_700_000_100.0


def recognise(event: Any) -> Invocation:
    return adapt(event, NOW)


def http(body: Any, is_base64: bool = False) -> HttpRequest:
    request = recognise({"httpMethod": "POST", "body": body, "isBase64Encoded": is_base64, "requestContext": {}})
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
    "direct.json": "direct",
    "direct_batch.json": "direct",
}


def trigger_of(invocation: Any) -> str:
    return "direct" if isinstance(invocation, DirectInvocation) else invocation.trigger


def test_every_sample_event_has_an_expected_trigger() -> None:
    assert sorted(path.name for path in EVENTS.glob("*.json")) == sorted(EXPECTED_TRIGGER)


@pytest.mark.parametrize(("name", "trigger"), sorted(EXPECTED_TRIGGER.items()))
def test_sample_events_are_recognised(name: str, trigger: str) -> None:
    assert trigger_of(recognise(load_event(name))) == trigger


def test_header_names_are_case_insensitive_and_lists_joined() -> None:
    request = recognise({"httpMethod": "post", "headers": {"X-CMQ-Message-Id": "1", "Accept": ["a", "b"]}, "body": ""})
    assert isinstance(request, HttpRequest)
    assert request.trigger == "cmq_push"
    assert request.method == "POST"
    assert request.headers["accept"] == "a,b"


def test_base64_body_is_decoded() -> None:
    request = recognise(load_event("apigw_base64.json"))
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
    batch = recognise(load_event("ckafka.json"))
    assert isinstance(batch, QueueBatch)
    assert [record.coordinates for record in batch.records] == [
        {"record": 0, "topic": "verification-success", "partition": 1, "offset": 36},
        {"record": 1, "topic": "verification-success", "partition": 1, "offset": 37},
    ]


def test_cmq_records_keep_msg_id_and_publish_time() -> None:
    batch = recognise(load_event("cmq_topic.json"))
    assert isinstance(batch, QueueBatch)
    assert batch.records[0].coordinates["msgId"] == "123345346"
    assert batch.records[0].publish_time == 1_700_000_000


def test_tdmq_event_unwraps_data_msg_body() -> None:
    batch = recognise(load_event("tdmq_eventbridge.json"))
    assert isinstance(batch, QueueBatch)
    [record] = batch.records
    assert record.coordinates["msgId"] == "123345346"
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
    batch = recognise({"Records": records})
    assert isinstance(batch, QueueBatch)
    assert any(record.problem and problem in record.problem for record in batch.records)


def test_empty_records_is_an_empty_batch() -> None:
    batch = recognise({"Records": []})
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
        recognise(event)
    assert fragment in str(caught.value)


def test_cmq_push_envelope_and_simplified_format() -> None:
    envelope = recognise(load_event("cmq_push.json"))
    simplified = recognise(load_event("cmq_push_simplified.json"))
    assert isinstance(envelope, HttpRequest)
    assert isinstance(simplified, HttpRequest)
    record = envelope.push
    assert record is not None
    assert record.coordinates["msgId"] == "6942316962"
    assert record.publish_time == 1_700_000_000
    assert record.payload["SerialNo"].endswith("623")
    raw = simplified.push
    assert raw is not None
    assert raw.payload["SerialNo"].endswith("624")
    assert raw.coordinates["msgId"] == "6942316963"


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
    batch = recognise({"Records": [{"Ckafka": {"topic": "t", "partition": 0, "offset": 7, "msgBody": body}}]})
    assert isinstance(batch, QueueBatch)
    [record] = batch.records
    assert record.problem is not None
    assert fragment in record.problem
    assert record.coordinates == {"record": 0, "topic": "t", "partition": 0, "offset": 7}


def test_coordinates_from_the_event_are_short_scalars() -> None:
    batch = recognise({"Records": [{"CMQ": {"topicName": {"deep": [1]}, "msgId": "m" * 1000, "msgBody": "{}"}}]})
    assert isinstance(batch, QueueBatch)
    assert batch.records[0].coordinates == {"record": 0, "topic": "<an object>", "msgId": "m" * 200}

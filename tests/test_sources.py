"""Source adapters: every sample event is recognised, malformed shapes are named, coordinates are kept."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import EVENTS, load_event

from sms_conversion.sources import (
    MAX_BODY_BYTES,
    BadRequest,
    DirectInvocation,
    HttpRequest,
    QueueBatch,
    UnrecognisedEvent,
    cmq_push_record,
    decode_record_body,
    recognise,
)

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
    assert json.loads(request.body_bytes())[0]["SerialNo"].startswith("5000:")


def test_invalid_base64_is_a_400() -> None:
    request = HttpRequest("apigw", "POST", {}, "not base64!", True)
    with pytest.raises(BadRequest) as caught:
        request.body_bytes()
    assert caught.value.status == 400


@pytest.mark.parametrize("is_base64", [False, True])
def test_body_over_64_kib_is_a_413(is_base64: bool) -> None:
    raw = b"x" * (MAX_BODY_BYTES + 1)
    body = base64.b64encode(raw).decode() if is_base64 else raw.decode()
    with pytest.raises(BadRequest) as caught:
        HttpRequest("apigw", "POST", {}, body, is_base64).body_bytes()
    assert caught.value.status == 413
    assert len(HttpRequest("apigw", "POST", {}, "x" * MAX_BODY_BYTES, False).body_bytes()) == MAX_BODY_BYTES


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
    assert batch.records[0].publish_time == "2023-11-14T22:13:20.000Z"


def test_tdmq_event_unwraps_data_msg_body() -> None:
    batch = recognise(load_event("tdmq_eventbridge.json"))
    assert isinstance(batch, QueueBatch)
    [record] = batch.records
    assert record.coordinates["msgId"] == "123345346"
    assert json.loads(record.body)["SerialNo"].endswith("629")


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
        ({"httpMethod": "POST", "body": {"a": 1}}, "body must be a string"),
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
    record = cmq_push_record(envelope, envelope.body)
    assert record.coordinates["msgId"] == "6942316962"
    assert record.publish_time == 1700000000123
    assert json.loads(record.body)["SerialNo"].endswith("623")
    raw = cmq_push_record(simplified, simplified.body)
    assert raw.body["SerialNo"].endswith("624")
    assert raw.coordinates["msgId"] == "6942316963"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [(None, "null"), (5, "a number"), ("{oops", "not valid JSON"), ("x" * (MAX_BODY_BYTES + 1), "larger than")],
)
def test_bad_record_bodies(body: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        decode_record_body(body)

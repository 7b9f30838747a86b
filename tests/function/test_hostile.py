"""Generated hostile input over every trigger shape: nothing escapes, nothing invalid reaches the API,
and no input can forge a log line."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st

from emulator import TEMPORARY_KEY, Fault, SmsEmulator
from sms_conversion.clock import time_limit_seconds
from sms_conversion.handler import Application
from sms_conversion.responder import RetryLater

HTTP_STATUSES = {200, 400, 401, 403, 405, 413, 429, 500, 502, 503}
NO_CALL_STATUSES = {400, 401, 405, 413}
# How many examples: the profile's (conftest.py: fewer locally, more in CI).
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FORGED = '\n{"level": "INFO", "event": "forged", "message": "forged"}\n'

# Text with everything: control characters, lone surrogates, the line forger.
text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40),
    st.sampled_from(
        ["", FORGED, "a\ud800", "\x00", "a\u2028b\u2029c\x85d", "5000:1045710669157053657849499619", "1400006666", "²"]
    ),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    text,
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5), max_leaves=20
)
message = st.fixed_dictionaries(
    {},
    optional={
        "SerialNo": st.one_of(text, scalars, st.text(min_size=120, max_size=140)),
        "SmsSdkAppId": st.one_of(st.sampled_from(["1400006666", "1400000001", 1400006666, "14000066660"]), scalars),
        "ConversionTime": st.one_of(st.integers(), st.sampled_from(["1658310430", "1e400", "inf", 1.5]), scalars),
        "serial_no": text,
        "extra": json_values,
    },
)
valid_message = st.fixed_dictionaries(
    {"SerialNo": st.from_regex(r"\A5000:[0-9]{6,30}\Z")},
    optional={"SmsSdkAppId": st.sampled_from(["1400006666", "1400000001"]), "ConversionTime": st.integers(1, 10**9)},
)
payloads = st.one_of(
    valid_message,
    st.lists(valid_message, min_size=1, max_size=3),
    message,
    st.lists(message, min_size=0, max_size=4),
    st.integers(95, 105).map(lambda n: [{"SerialNo": f"many-{i}"} for i in range(n)]),
    json_values,
)


def as_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


bodies = st.one_of(
    payloads.map(as_text),
    payloads.map(as_text),
    payloads.map(as_text),
    text,
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(64 * 1024 - 40, 64 * 1024 + 40).map(lambda size: json.dumps({"SerialNo": "s", "pad": "x" * size})),
    json_values,  # not a string at all
)
headers = st.one_of(
    st.none(),
    json_values,
    st.dictionaries(
        st.sampled_from(["content-type", "X-CMQ-Message-Id", "x-timestamp", "X-Signature", "Accept"]) | text,
        json_values,
        max_size=4,
    ),
)


@st.composite
def http_events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        # Mostly POST, so that generation reaches past the method check.
        "httpMethod": draw(st.sampled_from(["POST"] * 8 + ["post", "GET"]))
        if draw(st.integers(0, 9))
        else draw(scalars),
        "headers": draw(headers),
        "queryString": draw(st.one_of(st.none(), json_values, st.dictionaries(text, json_values, max_size=3))),
        "path": "/",
    }
    body = draw(bodies)
    if draw(st.booleans()) and isinstance(body, str):
        event["isBase64Encoded"] = True
        event["body"] = draw(st.one_of(st.just(base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()), text))
    else:
        event["body"] = body
        if draw(st.booleans()):
            event["isBase64Encoded"] = draw(scalars)
    if draw(st.booleans()):
        event["requestContext"] = draw(json_values)
    return event


@st.composite
def queue_events(draw: st.DrawFn) -> dict[str, Any]:
    record_body = st.one_of(bodies, payloads)
    kind = draw(st.sampled_from(["Ckafka", "CMQ", "tdmq"]))
    if kind == "tdmq":
        data = draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries({"msgBody": record_body}, optional={"topic": scalars, "msgId": scalars}),
            )
        )
        return {"type": "connector:tdmq", "data": data}
    record = st.fixed_dictionaries(
        {},
        optional={
            "msgBody": record_body,
            "topic": scalars,
            "topicName": scalars,
            "partition": scalars,
            "offset": scalars,
            "msgId": scalars,
            "publishTime": scalars,
        },
    )
    records = draw(
        st.lists(st.one_of(record.map(lambda r: {kind: r}), json_values.map(lambda v: {kind: v})), max_size=6)
    )
    return {"Records": records}


@st.composite
def eventbridge_envelopes(draw: st.DrawFn) -> Any:
    """A CloudEvents envelope as EventBridge might send it, or not quite: connector or custom, any data."""
    kind = draw(
        st.one_of(
            st.sampled_from(["connector:ckafka", "connector:kafka", "connector:tdmq", "connector:x"]),
            st.sampled_from(["verification.success", "adapter:eis"]),
            scalars,
        )
    )
    connector_data = st.fixed_dictionaries(
        {},
        optional={
            "msgBody": st.one_of(bodies, payloads, scalars),
            "topic": scalars,
            "Partition": scalars,
            "partition": st.one_of(scalars, st.just("")),
            "partitions": scalars,
            "offset": scalars,
            "msgId": scalars,
        },
    )
    envelope: dict[str, Any] = {
        "specversion": draw(st.sampled_from(["0", "1.0", "1.0.2"]) | scalars),
        "type": kind,
        "source": draw(st.one_of(st.just("ckafka.cloud.tencent"), text, scalars)),
        "id": draw(st.one_of(text, scalars)),
        "time": draw(st.one_of(scalars, text, st.sampled_from(["1615430559146", "2024-03-08T09:46:52.575Z"]))),
    }
    if draw(st.booleans()):
        envelope["data"] = draw(st.one_of(connector_data, payloads, bodies, json_values))
    elif draw(st.booleans()):
        envelope["data_base64"] = draw(st.one_of(text, st.just(base64.b64encode(b'{"SerialNo": "b"}').decode())))
    return envelope


eventbridge_events = st.one_of(
    eventbridge_envelopes(),
    st.lists(st.one_of(eventbridge_envelopes(), json_values), min_size=1, max_size=6),
    st.lists(eventbridge_envelopes(), max_size=6).map(lambda events: {"EventList": events}),
)


contexts = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {}, optional={"request_id": scalars, "time_limit_in_ms": st.one_of(scalars, st.sampled_from(["inf", "1e400"]))}
    ),
)


def tight(context: Any) -> bool:
    """A time limit under a second (hypothesis finds 0.25): "not attempted, retry" is then the right answer."""
    return time_limit_seconds(context.get("time_limit_in_ms") if isinstance(context, dict) else None) < 1.0


def handled(app: Application, event: Any, context: Any) -> Any:
    """The answer, or None after the one documented raise: RetryLater for records not attempted because the
    time limit is under a second (against a healthy emulator nothing else raises)."""
    try:
        return app.handle(event, context)
    except RetryLater:
        if not tight(context):
            raise
        return None


def assert_log_lines_are_ours(output: str) -> None:
    # splitlines() breaks at every Unicode line separator, not only "\n": the strictest reader.
    for line in output.splitlines():
        line.encode("utf-8")  # writable to a UTF-8 stream: no lone surrogate
        entry = json.loads(line)  # every line one JSON object: nothing from the input split it
        assert isinstance(entry, dict)
        assert {"time", "level", "message"} <= set(entry)
        assert entry.get("event") != "forged"


@pytest.fixture(autouse=True)
def _debug_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every path, at the most verbose level.
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")


@SETTINGS
@given(message=text, code=st.sampled_from(["InvalidParameterValue", "InternalError", "FailedOperation.X"]))
def test_hostile_upstream_error_text_cannot_forge_a_log_line_or_leak(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str], message: str, code: str
) -> None:
    scf_env.inject(Fault(error_code=code, error_message=message + FORGED, times=9))
    record = {"Ckafka": {"topic": "t", "partition": 0, "offset": 0, "msgBody": '{"SerialNo": "u"}'}}
    with contextlib.suppress(RetryLater):  # InternalError stays retryable: the documented raise
        app.handle({"Records": [record]}, None)
    scf_env.reset()
    output = capsys.readouterr().out
    assert_log_lines_are_ours(output)
    assert TEMPORARY_KEY.secret_key not in output


@pytest.mark.parametrize("message", ["a\u2028b", "c\u2029d", "e\x85f", "g\ud800h", FORGED])
def test_line_separators_and_lone_surrogates_from_upstream_stay_inside_one_line(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str], message: str
) -> None:
    scf_env.inject(Fault(error_code="InvalidParameterValue", error_message=message))
    response = app.handle({"httpMethod": "POST", "body": '{"SerialNo": "sep-1"}', "headers": {}}, None)
    response["body"].encode("utf-8")
    assert len(response["body"].splitlines()) == 1
    assert_log_lines_are_ours(capsys.readouterr().out)


@SETTINGS
@given(event=http_events(), context=contexts)
def test_an_http_event_always_gets_a_documented_integration_response(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str], event: dict[str, Any], context: Any
) -> None:
    before = scf_env.snapshot()["requests"]
    response = app.handle(event, context)
    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert response["statusCode"] in HTTP_STATUSES
    event_note(f"status {response['statusCode']}")
    assert response["statusCode"] != 500, response["body"]  # the emulator is healthy: no fault of ours
    assert all(isinstance(value, str) for value in response["headers"].values())
    response["body"].encode("utf-8")
    body = json.loads(response["body"])
    assert isinstance(body["RequestId"], str)
    if response["statusCode"] in NO_CALL_STATUSES:
        assert scf_env.snapshot()["requests"] == before
    assert_log_lines_are_ours(capsys.readouterr().out)


@SETTINGS
@given(event=queue_events(), context=contexts)
def test_a_queue_event_never_raises_for_bad_records(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str], event: dict[str, Any], context: Any
) -> None:
    result = handled(app, event, context)
    if result is None:
        return
    if "Trigger" in result:
        assert result["Messages"] == result["Reported"] + result["Duplicates"] + result["Skipped"] + result["Failed"]
        assert result["Messages"] >= result["Records"]
        assert result["Failed"] == 0
    else:  # Records of no known kind: a clear 400, not a raise
        assert result["StatusCode"] == 400
    assert_log_lines_are_ours(capsys.readouterr().out)


@SETTINGS
@given(payload=payloads, context=contexts)
def test_a_direct_invocation_answers_with_a_status_and_never_calls_for_invalid_input(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str], payload: Any, context: Any
) -> None:
    before = scf_env.snapshot()["requests"]
    result = handled(app, payload, context)
    if result is None:
        return
    assert result["StatusCode"] in HTTP_STATUSES - {500}
    if result["StatusCode"] in NO_CALL_STATUSES:
        assert scf_env.snapshot()["requests"] == before
    assert_log_lines_are_ours(capsys.readouterr().out)


@SETTINGS
@given(event=eventbridge_events, context=contexts)
def test_an_eventbridge_delivery_never_raises_for_bad_events_and_poison_never_calls(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str], event: Any, context: Any
) -> None:
    before = scf_env.snapshot()["requests"]
    result = handled(app, event, context)
    if result is None:
        return
    output = capsys.readouterr().out
    assert_log_lines_are_ours(output)
    calls = scf_env.snapshot()["requests"] - before
    if "Trigger" not in result:  # an array of no envelope at all: a direct invocation, answered with a status
        assert result["StatusCode"] in HTTP_STATUSES - {500}
        return
    assert result["Messages"] == result["Reported"] + result["Duplicates"] + result["Skipped"] + result["Failed"]
    assert result["Failed"] == 0
    lines = [json.loads(line) for line in output.splitlines()]
    poison = [line for line in lines if line.get("outcome") == "skipped" and "code" not in line]
    # Every call is for a message that passed validation: poison (skipped without an API code) never calls.
    assert calls <= result["Messages"] - len(poison)

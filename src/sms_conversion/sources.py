"""Source adapters: recognise the trigger once, by the event's shape, and unwrap it in one pass.

`recognise` looks only at the event's top-level keys and cannot fail: it picks
the one adapter for the event, and that adapter says which answer its trigger
needs (an HTTP integration response, a queue summary or a raise, a direct
invocation's body), so nothing downstream guesses from the shape again. The
adapter's `unwrap` only unwraps transport: it decodes each body to JSON and
keeps each record's coordinates (topic, partition, offset or message id) and
publish time, or says why the record is poison. The business payload stays raw
here and is validated by `message`. Nothing in this module raises for bad input
except `UnrecognisedEvent`; every other problem is carried in the result.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeGuard

from . import codes
from .message import plausible_publish_time

MAX_BODY_BYTES = 64 * 1024
MAX_COORDINATE_CHARS = 200


class AnswerKind(enum.Enum):
    """The answer a trigger needs: decided once, by the adapter that recognised the event."""

    HTTP = "http"
    QUEUE = "queue"
    DIRECT = "direct"


class UnrecognisedEvent(Exception):
    """The event matches no trigger this function serves; the message says why."""


class Coordinates(NamedTuple):
    """Where a queue message came from: enough to find it in the queue, as flat log fields."""

    record: int
    topic: str | int | None = None
    partition: str | int | None = None
    offset: str | int | None = None
    msg_id: str | int | None = None
    # An EventBridge event's own `id`, `source` and `type`.
    event_id: str | int | None = None
    event_source: str | int | None = None
    event_type: str | int | None = None

    def fields(self) -> dict[str, Any]:
        """Top-level log fields (CLS indexes only top-level values): those the source carries.

        An empty string (one published sample has `"partition": ""`) is no coordinate.
        """
        return {name: value for name, value in self._asdict().items() if value is not None and value != ""}

    def short(self) -> str:
        """One readable phrase, e.g. `partition 3 offset 101`."""
        parts = [f"{name.replace('_', ' ')} {value}" for name, value in self.fields().items() if name != "record"]
        return " ".join(parts) or f"record {self.record}"


class BodyProblem(NamedTuple):
    """Why an HTTP body cannot be read, as the answer it gets."""

    status: int
    code: str
    message: str


class SourceRecord(NamedTuple):
    """One queue message: its JSON payload, or `problem` when it is poison."""

    coordinates: Coordinates
    payload: Any = None
    publish_time: int | None = None
    problem: str | None = None


class HttpRequest(NamedTuple):
    """An HTTP call: an API Gateway integration request or a Function URL request.

    `raw_body` is the body as sent (base64 decoded), `None` when it cannot be read;
    `problem` is the first reason it cannot be used (too large, bad base64, not UTF-8,
    not JSON), in that order; `payload` is the decoded JSON otherwise.
    """

    trigger: str
    method: str
    headers: dict[str, str]
    query: dict[str, str]
    raw_body: bytes | None
    payload: Any = None
    problem: BodyProblem | None = None


class CmqPush(NamedTuple):
    """A TDMQ-CMQ push to the Function URL: HTTP on the way in, queue semantics for its one message (a
    poison message is acknowledged, only a failure a retry can fix is non-2xx, it cannot sign)."""

    request: HttpRequest
    record: SourceRecord

    @property
    def trigger(self) -> str:
        return self.request.trigger


class QueueBatch(NamedTuple):
    """CKafka or CMQ topic records: each its own outcome; a raise when a retry can help."""

    trigger: str
    records: list[SourceRecord]


class EventBridgeBatch(NamedTuple):
    """EventBridge envelopes (one, or a batch delivery): queue semantics, as QueueBatch."""

    trigger: str
    records: list[SourceRecord]


class DirectInvocation(NamedTuple):
    """Console test, Invoke API or local invoke: the event is the message itself."""

    payload: Any
    trigger: str = "direct"


Adapted = HttpRequest | CmqPush | QueueBatch | EventBridgeBatch | DirectInvocation


class Source(NamedTuple):
    """One adapter: the trigger it serves, the answer that trigger needs, how to unwrap its event, and the
    shape `recognise` took it by (said at DEBUG)."""

    trigger: str
    answer: AnswerKind
    unwrap: Callable[[Any, float], Adapted]
    shape: str = ""


def recognise(event: object) -> Source:
    """The adapter for `event`, from its top-level shape only; never raises."""
    if isinstance(event, list):
        # EventBridge's batch delivery is an array of envelopes; an array of plain messages is a direct invocation.
        return EVENTBRIDGE_BATCH if any(is_cloudevent(item) for item in event) else DIRECT
    if not isinstance(event, dict):
        return _unrecognised(AnswerKind.DIRECT, f"event must be a JSON object or array, got {_json_type(event)}")
    if "Records" in event:
        return _records_source(event["Records"])
    if isinstance(event.get("EventList"), list) and "httpMethod" not in event:
        return EVENTBRIDGE_BATCH
    if is_cloudevent(event):
        return TDMQ if event.get("type") == "connector:tdmq" else EVENTBRIDGE
    if "httpMethod" in event:
        if "requestContext" in event:
            return API_GATEWAY
        headers = event.get("headers")
        if isinstance(headers, Mapping) and any(
            str(name).lower() in ("x-cmq-message-id", "x-cmq-request-id") for name in headers
        ):
            return CMQ_PUSH
        return FUNCTION_URL
    if event.get("Type") == "Timer" and "TriggerName" in event:
        return _unrecognised(
            AnswerKind.DIRECT, "timer events are not served: wire an HTTP, CKafka, CMQ or TDMQ trigger"
        )
    return DIRECT


def adapt(source: Source, event: Any, now: float) -> Adapted:
    """Unwrap `event` with its adapter. Raises UnrecognisedEvent for an event no adapter serves.

    `now` (UNIX seconds) decides which publish times are plausible.
    """
    return source.unwrap(event, now)


def _unrecognised(answer: AnswerKind, reason: str) -> Source:
    def unwrap(event: Any, now: float) -> Adapted:
        raise UnrecognisedEvent(reason)

    return Source("unrecognised", answer, unwrap, reason)


# ---- HTTP ---------------------------------------------------------------------------------


def _http_request(trigger: str, event: dict[str, Any]) -> HttpRequest:
    method = event.get("httpMethod")
    raw_body, payload, problem = _read_body(event.get("body"), event.get("isBase64Encoded") is True)
    return HttpRequest(
        trigger=trigger,
        method=method.upper() if isinstance(method, str) else "",
        headers=_string_map(event.get("headers"), lower=True),
        query=_string_map(event.get("queryString"), lower=False),
        raw_body=raw_body,
        payload=payload,
        problem=problem,
    )


def _http_unwrapper(trigger: str) -> Callable[[Any, float], Adapted]:
    return lambda event, now: _http_request(trigger, event)


def _cmq_push(event: dict[str, Any], now: float) -> Adapted:
    request = _http_request("cmq_push", event)
    record = _guarded(0, lambda _: _push_record(request.headers, request.payload, request.problem, now))
    return CmqPush(request, record)


def _push_record(headers: dict[str, str], payload: Any, problem: BodyProblem | None, now: float) -> SourceRecord:
    """The message inside a TDMQ-CMQ push: a JSON envelope, or the raw message (SIMPLIFIED format)."""
    coordinates = Coordinates(0, msg_id=_coordinate(headers.get("x-cmq-message-id")))
    if problem is not None:
        return SourceRecord(coordinates, problem=problem.message)
    if isinstance(payload, dict) and "msgBody" in payload:
        coordinates = Coordinates(
            0,
            topic=_coordinate(payload.get("topicName")),
            msg_id=_coordinate(payload.get("msgId", coordinates.msg_id)),
        )
        return _decoded(coordinates, payload["msgBody"], payload.get("publishTime"), now)
    return SourceRecord(coordinates, payload=payload)


def _read_body(body: object, is_base64: bool) -> tuple[bytes | None, Any, BodyProblem | None]:
    if body is None:
        body = ""
    if not isinstance(body, str):
        return None, None, _malformed_body(f"the event's body must be a string, got {_json_type(body)}")
    if is_base64:
        if len(body) > (MAX_BODY_BYTES * 4) // 3 + 4:
            return None, None, _too_large()
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None, None, _malformed_body("body is marked base64 but is not valid base64")
    else:
        if len(body) > MAX_BODY_BYTES:
            return None, None, _too_large()
        # surrogatepass: a body that is not valid text is refused below as "not UTF-8", never a crash.
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        return None, None, _too_large()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw, None, _malformed_body("body is not UTF-8 text")
    try:
        return raw, parse_json(text), None
    except MalformedJson as exc:
        return raw, None, BodyProblem(codes.BAD_REQUEST, codes.MALFORMED_JSON, f"body is not valid JSON: {exc}")


def _too_large() -> BodyProblem:
    return BodyProblem(codes.PAYLOAD_TOO_LARGE, codes.BODY_TOO_LARGE, f"body is larger than {MAX_BODY_BYTES} bytes")


def _malformed_body(message: str) -> BodyProblem:
    return BodyProblem(codes.BAD_REQUEST, codes.MALFORMED_BODY, message)


class MalformedJson(ValueError):
    """Text that is not JSON this function can read; the message is safe to show."""


def parse_json(text: str) -> Any:
    """`json.loads`, with every way it can fail (deep nesting is a RecursionError) as MalformedJson."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise MalformedJson("nested too deeply") from None
    except (ValueError, OverflowError, MemoryError) as exc:
        # e.g. an integer with more digits than Python converts.
        raise MalformedJson(f"cannot decode ({type(exc).__name__})") from None


# ---- queues -------------------------------------------------------------------------------


def _records_source(records: object) -> Source:
    if not isinstance(records, list):
        return _unrecognised(AnswerKind.DIRECT, f"Records must be an array, got {_json_type(records)}")
    if not records:
        # An empty batch is a batch: nothing to do, said explicitly in the summary.
        return EMPTY_BATCH
    kinds = {key for record in records if isinstance(record, dict) for key in ("Ckafka", "CMQ") if key in record}
    if not kinds:
        first = records[0]
        keys = [_coordinate(key) for key in sorted(map(str, first))[:5]] if isinstance(first, dict) else None
        return _unrecognised(
            AnswerKind.DIRECT,
            f"Records hold no Ckafka or CMQ record (first record: {keys if keys is not None else _json_type(first)})",
        )
    if len(kinds) > 1:
        return _unrecognised(AnswerKind.DIRECT, "Records mix Ckafka and CMQ records")
    return CKAFKA if kinds == {"Ckafka"} else CMQ_TOPIC


def _ckafka_batch(event: dict[str, Any], now: float) -> Adapted:
    return QueueBatch(
        "ckafka", [_guarded(index, _ckafka_record, record) for index, record in enumerate(event["Records"])]
    )


def _cmq_batch(event: dict[str, Any], now: float) -> Adapted:
    return QueueBatch(
        "cmq", [_guarded(index, _cmq_record, record, now) for index, record in enumerate(event["Records"])]
    )


def _eventbridge_single(trigger: str) -> Callable[[Any, float], Adapted]:
    def unwrap(event: dict[str, Any], now: float) -> Adapted:
        return EventBridgeBatch(trigger, [_guarded(0, _event_record, event, now)])

    return unwrap


def _eventbridge_batch(event: Any, now: float) -> Adapted:
    events = event["EventList"] if isinstance(event, dict) else event
    return EventBridgeBatch(
        "eventbridge", [_guarded(index, _event_record, item, now) for index, item in enumerate(events)]
    )


def _guarded(index: int, adapt_record: Callable[..., SourceRecord], *args: Any) -> SourceRecord:
    """The per-record boundary: whatever one record raises makes it poison, never the batch's failure."""
    try:
        return adapt_record(index, *args)
    except Exception as exc:
        return SourceRecord(Coordinates(index), problem=f"unexpected {type(exc).__name__} while decoding the record")


def _ckafka_record(index: int, wrapper: object) -> SourceRecord:
    record = wrapper.get("Ckafka") if isinstance(wrapper, dict) else None
    if not isinstance(record, dict):
        return SourceRecord(Coordinates(index), problem=f"Ckafka record is {_json_type(record)}, not an object")
    coordinates = Coordinates(
        index,
        topic=_coordinate(record.get("topic")),
        partition=_coordinate(record.get("partition", record.get("Partition"))),
        offset=_coordinate(record.get("offset")),
    )
    if "msgBody" not in record:
        return SourceRecord(coordinates, problem="Ckafka record has no msgBody")
    return _decoded(coordinates, record["msgBody"], None, 0.0)


def _cmq_record(index: int, wrapper: object, now: float) -> SourceRecord:
    record = wrapper.get("CMQ") if isinstance(wrapper, dict) else None
    if not isinstance(record, dict):
        return SourceRecord(Coordinates(index), problem=f"CMQ record is {_json_type(record)}, not an object")
    coordinates = Coordinates(
        index, topic=_coordinate(record.get("topicName")), msg_id=_coordinate(record.get("msgId"))
    )
    if "msgBody" not in record:
        return SourceRecord(coordinates, problem="CMQ record has no msgBody")
    return _decoded(coordinates, record["msgBody"], record.get("publishTime"), now)


# ---- EventBridge ----------------------------------------------------------------------------
#
# EventBridge delivers CloudEvents envelopes (specversion "0" in older documents, "1.0" or "1.0.2" in newer).
# Connectors (`connector:ckafka`, `connector:kafka`, `connector:tdmq`, and any other `connector:*` whose data
# carries `msgBody`) put the queue message in `data.msgBody`; every other event (a custom bus's PutEvents, a
# SaaS source) is the message itself in `data`. Batch delivery sends an array of envelopes, or (the SCF target
# page's "array mode") an object whose `EventList` holds them. Each envelope is one record with its own outcome.

_SPECVERSION = re.compile(r"0|1(\.[0-9]+){0,2}")
_MSGBODY_CONNECTORS = {"connector:ckafka": "CKafka", "connector:kafka": "CKafka", "connector:tdmq": "TDMQ"}


def is_cloudevent(value: object) -> TypeGuard[dict[str, Any]]:
    """A CloudEvents envelope as EventBridge sends it: a known specversion with a type or a source.

    A `connector:*` type without a specversion counts too (a hand-written test event often drops it).
    """
    if not isinstance(value, dict):
        return False
    kind = value.get("type")
    if isinstance(kind, str) and kind.startswith("connector:"):
        return True
    version = value.get("specversion")
    return (
        isinstance(version, str)
        and _SPECVERSION.fullmatch(version) is not None
        and ("type" in value or "source" in value)
    )


def _event_record(index: int, event: object, now: float) -> SourceRecord:
    if not is_cloudevent(event):
        return SourceRecord(
            Coordinates(index),
            problem=f"batch item is {_json_type(event)} but not a CloudEvents envelope "
            "(an array holding any envelope is read as an EventBridge batch)",
        )
    kind = event.get("type")
    coordinates = Coordinates(
        index,
        event_id=_coordinate(event.get("id")),
        event_source=_coordinate(event.get("source")),
        event_type=_coordinate(kind),
    )
    event_time = event.get("time")
    label = _MSGBODY_CONNECTORS.get(kind, "EventBridge") if isinstance(kind, str) else "EventBridge"
    if "data" in event:
        data = event["data"]
    elif isinstance(event.get("data_base64"), str):
        data = _base64_text(event["data_base64"])
        if data is None:
            return SourceRecord(
                coordinates,
                problem=f"{label} event data_base64 is not base64 of UTF-8 text of at most {MAX_BODY_BYTES} bytes",
            )
    else:
        return SourceRecord(coordinates, problem=f"{label} event has no data")
    if data is None:
        return SourceRecord(coordinates, problem=f"{label} event data is null")
    connector = isinstance(kind, str) and kind.startswith("connector:")
    if connector and (kind in _MSGBODY_CONNECTORS or (isinstance(data, dict) and "msgBody" in data)):
        if not isinstance(data, dict):
            return SourceRecord(coordinates, problem=f"{label} event data is {_json_type(data)}, not an object")
        coordinates = coordinates._replace(
            topic=_coordinate(data.get("topic")),
            partition=_coordinate(_first_present(data, "Partition", "partition", "partitions")),
            offset=_coordinate(data.get("offset")),
            msg_id=_coordinate(data.get("msgId")),
        )
        if "msgBody" not in data:
            return SourceRecord(coordinates, problem=f"{label} event data has no msgBody")
        return _decoded(coordinates, data["msgBody"], event_time, now)
    return _decoded(coordinates, data, event_time, now, what="data")


def _first_present(data: dict[str, Any], *names: str) -> object:
    return next((data[name] for name in names if name in data), None)


def _base64_text(encoded: str) -> str | None:
    if len(encoded) > (MAX_BODY_BYTES * 4) // 3 + 4:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _decoded(
    coordinates: Coordinates, body: object, raw_publish_time: object, now: float, what: str = "msgBody"
) -> SourceRecord:
    """A record whose body is decoded to JSON, or poison with the reason."""
    if isinstance(body, (dict, list)):
        payload: Any = body
    elif isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:
            return SourceRecord(coordinates, problem=f"{what} is larger than {MAX_BODY_BYTES} bytes")
        try:
            payload = parse_json(body)
        except MalformedJson as exc:
            return SourceRecord(coordinates, problem=f"{what} is not valid JSON ({exc})")
    else:
        return SourceRecord(coordinates, problem=f"{what} is {_json_type(body)}, not a JSON text")
    publish_time = plausible_publish_time(raw_publish_time, now) if raw_publish_time is not None else None
    return SourceRecord(coordinates, payload=payload, publish_time=publish_time)


# ---- the adapters -------------------------------------------------------------------------

FUNCTION_URL = Source(
    "function_url", AnswerKind.HTTP, _http_unwrapper("function_url"), "httpMethod, no requestContext, no x-cmq-* header"
)
API_GATEWAY = Source("apigw", AnswerKind.HTTP, _http_unwrapper("apigw"), "httpMethod and requestContext")
CMQ_PUSH = Source("cmq_push", AnswerKind.HTTP, _cmq_push, "httpMethod with an x-cmq-message-id/x-cmq-request-id header")
CKAFKA = Source("ckafka", AnswerKind.QUEUE, _ckafka_batch, "Records of Ckafka records")
CMQ_TOPIC = Source("cmq", AnswerKind.QUEUE, _cmq_batch, "Records of CMQ records")
# A single TDMQ connector event keeps the trigger name it always had; every other envelope is "eventbridge".
TDMQ = Source("tdmq", AnswerKind.QUEUE, _eventbridge_single("tdmq"), "a CloudEvents envelope of type connector:tdmq")
EVENTBRIDGE = Source(
    "eventbridge", AnswerKind.QUEUE, _eventbridge_single("eventbridge"), "a CloudEvents envelope (specversion, id)"
)
EVENTBRIDGE_BATCH = Source(
    "eventbridge", AnswerKind.QUEUE, _eventbridge_batch, "an array holding a CloudEvents envelope, or EventList"
)
EMPTY_BATCH = Source(
    "queue", AnswerKind.QUEUE, lambda event, now: QueueBatch("queue", []), "an empty Records array (an empty batch)"
)
DIRECT = Source(
    "direct", AnswerKind.DIRECT, lambda event, now: DirectInvocation(event), "no trigger's shape: a message or messages"
)


# ---- helpers ------------------------------------------------------------------------------


def _string_map(raw: object, lower: bool) -> dict[str, str]:
    """Headers or a query string as str → str; list values (repeated keys) joined, `true` flags kept."""
    if not isinstance(raw, Mapping):
        return {}
    result: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, list):
            text = ",".join(_scalar_text(part) for part in value if not isinstance(part, (dict, list)))
        elif isinstance(value, dict):
            continue
        else:
            text = _scalar_text(value)
        key = str(name)
        result[key.lower() if lower else key] = text
    return result


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**100:
        return "<a number>"  # str() refuses integers past 4300 digits
    return str(value)


def _coordinate(value: object) -> str | int | None:
    """A value from the event fit for a log line: a short scalar, never a nested structure."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63):
        return value
    if isinstance(value, str):
        return value[:MAX_COORDINATE_CHARS]
    if isinstance(value, float):
        return str(value)
    return f"<{_json_type(value)}>"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__

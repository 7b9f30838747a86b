"""Source adapters: recognise the trigger by the event's shape and unwrap it.

An adapter only unwraps transport; the business payload stays raw here and is
validated by `message`. Every queue record keeps its coordinates (topic,
partition, offset or message id) so a skipped record can be found again.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 64 * 1024


class UnrecognisedEvent(Exception):
    """The event matches no trigger this function serves; the message says why."""


class BadRequest(Exception):
    """An HTTP body that cannot be read as a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP call: API Gateway integration request, Function URL, or TDMQ-CMQ push."""

    trigger: str
    method: str
    headers: dict[str, str]
    body: str
    is_base64: bool

    @property
    def is_queue_push(self) -> bool:
        return self.trigger == "cmq_push"

    def body_bytes(self) -> bytes:
        """The decoded body, refusing anything over the size limit before decoding it whole."""
        raw = self.body
        if self.is_base64:
            if len(raw) > (MAX_BODY_BYTES * 4) // 3 + 4:
                raise _too_large()
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(
                    400, "InvalidParameter.MalformedBody", "body is marked base64 but is not valid base64"
                ) from None
        else:
            if len(raw) > MAX_BODY_BYTES:
                raise _too_large()
            data = raw.encode("utf-8", "surrogatepass")
        if len(data) > MAX_BODY_BYTES:
            raise _too_large()
        return data


@dataclass(frozen=True)
class SourceRecord:
    """One queue message. `problem` is set when the record itself is malformed (a poison record)."""

    coordinates: dict[str, Any]
    body: Any = None
    publish_time: Any = None
    problem: str | None = None


@dataclass(frozen=True)
class QueueBatch:
    trigger: str
    records: list[SourceRecord] = field(default_factory=list)


@dataclass(frozen=True)
class DirectInvocation:
    """Console test, Invoke API or local invoke: the event is the message itself."""

    payload: Any


Invocation = HttpRequest | QueueBatch | DirectInvocation


def _too_large() -> BadRequest:
    return BadRequest(413, "LimitExceeded.PayloadTooLarge", f"body is larger than {MAX_BODY_BYTES} bytes")


def recognise(event: object) -> Invocation:
    """Map an SCF event to what it carries. Raises UnrecognisedEvent for anything else."""
    if isinstance(event, list):
        return DirectInvocation(event)
    if not isinstance(event, dict):
        raise UnrecognisedEvent(f"event must be a JSON object or array, got {_json_type(event)}")
    if "Records" in event:
        return _records(event["Records"])
    if event.get("type") == "connector:tdmq" and "data" in event:
        return QueueBatch("tdmq", [_tdmq_record(event.get("data"))])
    if "httpMethod" in event:
        return _http(event)
    if event.get("Type") == "Timer" and "TriggerName" in event:
        raise UnrecognisedEvent("timer events are not served: wire an HTTP, CKafka, CMQ or TDMQ trigger")
    return DirectInvocation(event)


def _http(event: dict[str, Any]) -> HttpRequest:
    raw_headers = event.get("headers")
    headers: dict[str, str] = {}
    if isinstance(raw_headers, dict):
        for name, value in raw_headers.items():
            if isinstance(value, list):
                value = ",".join(str(part) for part in value)
            headers[str(name).lower()] = "" if value is None else str(value)
    body = event.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise UnrecognisedEvent(f"HTTP event body must be a string, got {_json_type(body)}")
    method = event.get("httpMethod")
    if "requestContext" in event:
        trigger = "apigw"
    elif "x-cmq-message-id" in headers or "x-cmq-request-id" in headers:
        trigger = "cmq_push"
    else:
        trigger = "function_url"
    return HttpRequest(
        trigger=trigger,
        method=str(method).upper() if isinstance(method, str) else "",
        headers=headers,
        body=body,
        is_base64=event.get("isBase64Encoded") is True,
    )


def _records(records: object) -> QueueBatch:
    if not isinstance(records, list):
        raise UnrecognisedEvent(f"Records must be an array, got {_json_type(records)}")
    kinds = {key for record in records if isinstance(record, dict) for key in ("Ckafka", "CMQ") if key in record}
    if not records:
        # An empty batch is a batch: nothing to do, said explicitly in the summary.
        return QueueBatch("queue", [])
    if not kinds:
        first = records[0]
        keys = sorted(first)[:5] if isinstance(first, dict) else _json_type(first)
        raise UnrecognisedEvent(f"Records hold no Ckafka or CMQ record (first record: {keys})")
    if len(kinds) > 1:
        raise UnrecognisedEvent("Records mix Ckafka and CMQ records")
    kind = kinds.pop()
    adapt = _ckafka_record if kind == "Ckafka" else _cmq_record
    batch = [
        adapt(index, record.get(kind) if isinstance(record, dict) else None) for index, record in enumerate(records)
    ]
    return QueueBatch("ckafka" if kind == "Ckafka" else "cmq", batch)


def _ckafka_record(index: int, record: object) -> SourceRecord:
    if not isinstance(record, dict):
        return SourceRecord({"record": index}, problem=f"Ckafka record is {_json_type(record)}, not an object")
    partition = record.get("partition", record.get("Partition"))
    coordinates = {
        "record": index,
        "topic": record.get("topic"),
        "partition": partition,
        "offset": record.get("offset"),
    }
    if "msgBody" not in record:
        return SourceRecord(coordinates, problem="Ckafka record has no msgBody")
    return SourceRecord(coordinates, body=record["msgBody"])


def _cmq_record(index: int, record: object) -> SourceRecord:
    if not isinstance(record, dict):
        return SourceRecord({"record": index}, problem=f"CMQ record is {_json_type(record)}, not an object")
    coordinates = {"record": index, "topic": record.get("topicName"), "msgId": record.get("msgId")}
    if "msgBody" not in record:
        return SourceRecord(coordinates, problem="CMQ record has no msgBody")
    return SourceRecord(coordinates, body=record["msgBody"], publish_time=record.get("publishTime"))


def _tdmq_record(data: object) -> SourceRecord:
    if not isinstance(data, dict):
        return SourceRecord({"record": 0}, problem=f"TDMQ event data is {_json_type(data)}, not an object")
    coordinates = {
        "record": 0,
        "topic": data.get("topic"),
        "partition": data.get("partitions"),
        "msgId": data.get("msgId"),
    }
    if "msgBody" not in data:
        return SourceRecord(coordinates, problem="TDMQ event data has no msgBody")
    return SourceRecord(coordinates, body=data["msgBody"])


def cmq_push_record(request: HttpRequest, text: str) -> SourceRecord:
    """The message inside a TDMQ-CMQ HTTP push: a JSON envelope, or the raw message (simplified format)."""
    coordinates: dict[str, Any] = {"record": 0, "msgId": request.headers.get("x-cmq-message-id")}
    try:
        envelope = json.loads(text)
    except ValueError:
        return SourceRecord(coordinates, body=text)
    if isinstance(envelope, dict) and "msgBody" in envelope:
        coordinates["topic"] = envelope.get("topicName")
        coordinates["msgId"] = envelope.get("msgId", coordinates["msgId"])
        return SourceRecord(coordinates, body=envelope["msgBody"], publish_time=envelope.get("publishTime"))
    return SourceRecord(coordinates, body=envelope)


def decode_record_body(body: object) -> object:
    """A queue message body as JSON. Raises ValueError with a reason fit for a log line."""
    if isinstance(body, (dict, list)):
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not isinstance(body, str):
        raise ValueError(f"msgBody is {_json_type(body)}, not a JSON text")
    if len(body) > MAX_BODY_BYTES:
        raise ValueError(f"msgBody is larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ValueError(
            f"msgBody is not valid JSON ({exc.__class__.__name__} at position {getattr(exc, 'pos', '?')})"
        ) from None


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

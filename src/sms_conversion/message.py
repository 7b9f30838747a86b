"""The verification-success message and its business rules."""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

MAX_ITEMS = 100
MAX_SERIAL_LENGTH = 128
MAX_FUTURE_SKEW_SECONDS = 300
# A seconds timestamp this large is in the year 5138: the sender used milliseconds.
MILLISECONDS_THRESHOLD = 100_000_000_000
# Publish times before this (2015-01-01) are not plausible for a conversion.
EARLIEST_PLAUSIBLE_TIME = 1_420_070_400
_APP_ID_ALIASES = ("SmsSdkAppId", "sms_sdk_app_id", "smsSdkAppId")
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


class ConversionMessage(BaseModel):
    """One conversion to report. Field names are the API's own."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=False)

    SmsSdkAppId: str = Field(
        validation_alias=AliasChoices(*_APP_ID_ALIASES),
    )
    SerialNo: str = Field(validation_alias=AliasChoices("SerialNo", "serial_no", "serialNo"))
    ConversionTime: int | None = Field(
        default=None,
        validation_alias=AliasChoices("ConversionTime", "conversion_time", "conversionTime"),
    )

    @field_validator("SmsSdkAppId", mode="before")
    @classmethod
    def _app_id(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("must be a string of digits, not a boolean")
        if isinstance(value, int):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError('must be a string of digits such as "1400006666"')
        if not (value.isascii() and value.isdigit() and len(value) <= 20):
            raise ValueError('must be a string of 1 to 20 digits such as "1400006666"')
        return value

    @field_validator("SerialNo", mode="before")
    @classmethod
    def _serial_no(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be a string (the SerialNo returned by SendSms)")
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MAX_SERIAL_LENGTH:
            raise ValueError(f"must be at most {MAX_SERIAL_LENGTH} characters")
        # "Cs": a lone surrogate (a valid JSON escape such as "\\ud800") is not text and cannot be encoded.
        if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in value):
            raise ValueError("must not contain whitespace, control characters or lone surrogates")
        return value

    @field_validator("ConversionTime", mode="before")
    @classmethod
    def _conversion_time(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            return None
        seconds = _integral_seconds(value)
        if seconds <= 0:
            raise ValueError("must be a positive UNIX time in seconds")
        if seconds >= MILLISECONDS_THRESHOLD:
            raise ValueError("looks like milliseconds: send a UNIX time in seconds")
        now = _context(info).get("now")
        if isinstance(now, (int, float)) and seconds > now + MAX_FUTURE_SKEW_SECONDS:
            raise ValueError("is more than 5 minutes in the future")
        return seconds

    @property
    def key(self) -> str:
        """What makes two reports the same conversion."""
        return f"{self.SmsSdkAppId}:{self.SerialNo}"


def _context(info: ValidationInfo) -> dict[str, Any]:
    return info.context if isinstance(info.context, dict) else {}


def _integral_seconds(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer UNIX time in seconds, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise ValueError("must be an integer UNIX time in seconds") from None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError("must be a whole number of seconds, without a fraction")
        return int(value)
    raise ValueError("must be an integer UNIX time in seconds")


class FieldError:
    """One reason a message is invalid, safe to show to the caller."""

    __slots__ = ("field", "index", "message")

    def __init__(self, index: int | None, field: str, message: str) -> None:
        self.index = index
        self.field = field
        self.message = message

    def render(self) -> str:
        where = f"[{self.index}]." if self.index is not None else ""
        return f"{where}{self.field}: {self.message}"


class InvalidMessage(Exception):
    """The payload is not a valid message or array of messages."""

    def __init__(self, errors: list[FieldError], too_large: bool = False) -> None:
        self.errors = errors
        self.too_large = too_large
        super().__init__("; ".join(error.render() for error in errors))


_FIELDS = ("SmsSdkAppId", "SerialNo", "ConversionTime")


def _field_errors(exc: ValidationError, index: int | None) -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in error["loc"]]
        field = next((name for name in map(_field_name, loc) if name is not None), "message")
        message = error["msg"]
        # pydantic prefixes custom errors; the field name already says where.
        message = message.removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
            if field == "SmsSdkAppId":
                message += " (or set SMS_SDK_APP_ID on the function)"
        errors.append(FieldError(index, field, message))
    return errors


def _field_name(alias: str) -> str | None:
    folded = alias.replace("_", "").lower()
    for name in _FIELDS:
        if name.lower() == folded:
            return name
    return None


def parse_messages(
    payload: object,
    *,
    now: float,
    default_app_id: str | None,
    publish_time: int | None = None,
) -> list[ConversionMessage]:
    """Validate one message or an array of them, all or nothing.

    `publish_time` (a queue message's own, already checked as plausible) stands in
    for a missing ConversionTime.
    """
    context = {"now": now}
    if isinstance(payload, list):
        if not payload:
            raise InvalidMessage([FieldError(None, "message", "an array must hold at least one message")])
        if len(payload) > MAX_ITEMS:
            raise InvalidMessage(
                [FieldError(None, "message", f"an array may hold at most {MAX_ITEMS} messages, got {len(payload)}")],
                too_large=True,
            )
        items: list[tuple[int | None, object]] = list(enumerate(payload))
    else:
        items = [(None, payload)]
    messages: list[ConversionMessage] = []
    errors: list[FieldError] = []
    for index, item in items:
        if not isinstance(item, dict):
            errors.append(FieldError(index, "message", "must be a JSON object"))
            continue
        if default_app_id and all(item.get(alias) is None for alias in _APP_ID_ALIASES):
            item = {**item, "SmsSdkAppId": default_app_id}
        try:
            message = ConversionMessage.model_validate(item, context=context)
        except ValidationError as exc:
            errors.extend(_field_errors(exc, index))
            continue
        if message.ConversionTime is None and publish_time is not None:
            message = message.model_copy(update={"ConversionTime": publish_time})
        messages.append(message)
    if errors:
        raise InvalidMessage(errors)
    return messages


def plausible_publish_time(raw: object, now: float) -> int | None:
    """A queue's publish time as UNIX seconds, or None when it is doubtful.

    Accepts seconds or milliseconds as a number or a string of ASCII digits, and
    ISO 8601 text; anything odd (including values too large for a float) is
    ignored rather than made an error.
    """
    try:
        seconds = _publish_seconds(raw)
    except (ValueError, OverflowError, TypeError):
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    if seconds >= MILLISECONDS_THRESHOLD:
        seconds /= 1000
    if EARLIEST_PLAUSIBLE_TIME <= seconds <= now + MAX_FUTURE_SKEW_SECONDS:
        return int(seconds)
    return None


def _publish_seconds(raw: object) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        # Compared as an integer first: float(10**400) overflows.
        return float(raw) if 0 < raw < 10**15 else None
    if isinstance(raw, float):
        return raw
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if not text:
        return None
    # str.isdigit() accepts "²" and other digits int() refuses: ASCII only.
    if text.isascii() and text.isdigit():
        return float(text) if len(text) <= 15 else None
    match = _RFC3339.fullmatch(text)
    if match is not None:
        # Python 3.10's fromisoformat takes only 3 or 6 fraction digits, an upper-case T and no Z:
        # RFC 3339 allows any number of digits (EventBridge and CMQ send 3, Go producers 9), t and z.
        day, clock, fraction, offset = match.groups()
        fraction = (fraction or ".0")[1:7].ljust(6, "0")
        offset = "+00:00" if offset is None or offset in "Zz" else offset
        text = f"{day}T{clock}.{fraction}{offset}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()

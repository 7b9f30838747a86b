"""JSON log lines on stdout, one object per line, with the invocation's fields on each.

Standard library only: a formatter of a dozen lines costs no cold start, and
the redaction below is a last guard, not the design: no code path logs a
secret or the context's `environ` in the first place.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, TextIO

LOGGER_NAME = "sms_conversion"
SDK_LOGGER_NAME = "tencentcloud_sdk_common"
TRANSPORT_LOGGER_NAME = "urllib3"
SECRET_VARIABLES = (
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SESSION_TOKEN",
)
# What a signed request or an echoing upstream can put in text: never shown, whoever's key it is.
_SECRET_PATTERNS = re.compile(
    r"(Signature=)[0-9A-Za-z+/=_-]+"
    r"|(X-TC-Token[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"
    r"|(Authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\n}]+"
    r"|(TENCENTCLOUD_(?:SECRETKEY|SESSIONTOKEN|SECRET_KEY|SESSION_TOKEN)=)[^;\s\"']+",
    re.IGNORECASE,
)
# Every match of _SECRET_PATTERNS contains one of these; in ASCII text, IGNORECASE means
# just lower(), so a line without them is left alone without the regex (which costs ~50 us a line).
_SECRET_MARKERS = ("signature=", "x-tc-token", "authorization", "tencentcloud_")
_MIN_SECRET_LENGTH = 8
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}

logger = logging.getLogger(LOGGER_NAME)


# The current invocation's fields (request id, trigger, cold start), per context: SCF runs one invocation at
# a time per instance, but `make serve` serves requests on threads, and each line must carry its own request's
# id. The pipeline's worker threads run in a copy of the invocation's context (pipeline._fan_out).
_INVOCATION: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "invocation", default=MappingProxyType({})
)


@contextmanager
def invocation(fields: Mapping[str, Any]) -> Iterator[None]:
    """Every line logged inside (in this context, and the contexts copied from it) carries `fields`."""
    token = _INVOCATION.set(dict(fields))
    try:
        yield
    finally:
        _INVOCATION.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current invocation's (known only once it has started: the trigger, ...)."""
    _INVOCATION.set({**_INVOCATION.get(), **fields})


class InvocationFields(logging.Filter):
    """Adds the current invocation's fields to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _INVOCATION.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        # The formatted second, kept: a batch writes hundreds of lines within one.
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        entry: dict[str, Any] = {
            "time": f"{self._second[1]}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
        }
        entry.update((name, value) for name, value in vars(record).items() if name not in _RESERVED and name[0] != "_")
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: a traceback's frames can hold request headers.
            entry["exception"] = record.exc_info[0].__name__
        return one_line(redact(json.dumps(entry, default=str, ensure_ascii=False)))


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """`text` without the credential variables' values, `extra` secrets, signatures or tokens.

    Run before any truncation: a secret cut in half is no longer recognised.
    """
    for secret in (*(os.environ.get(name) for name in SECRET_VARIABLES), *extra):
        if secret and len(secret) >= _MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, "[REDACTED]")
    if text.isascii():
        lowered = text.lower()
        if not any(marker in lowered for marker in _SECRET_MARKERS):
            return text
    # Non-ASCII text always goes through the regex: its IGNORECASE folds more than lower() (ſ, ı, K).
    return redact_signed_parts(text)


def redact_signed_parts(text: str) -> str:
    """`text` with signatures, tokens and credential assignments replaced, by the pattern alone."""
    return _SECRET_PATTERNS.sub(_keep_label, text)


# Line breaks json.dumps leaves as they are (ensure_ascii=False), but that readers split on.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}


def one_line(text: str) -> str:
    """JSON text that stays one line for every reader and encodes as UTF-8.

    Unicode line separators become escapes, and so do lone surrogates (input can carry
    them as JSON escapes; writing them to a UTF-8 stream would raise and lose the line).
    """
    for character, escape in _LINE_BREAKS.items():
        text = text.replace(character, escape)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _keep_label(match: re.Match[str]) -> str:
    label = next((group for group in match.groups() if group is not None), "")
    return f"{label}[REDACTED]"


def safe_traceback(exc: BaseException) -> str:
    """A traceback for a log line: frames and the exception's type, its message redacted and shortened."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    try:
        message = redact(str(exc))[:300]
    except Exception:  # str() itself can fail on hostile values
        message = ""
    return redact(f"Traceback (most recent call last):\n{frames}{type(exc).__name__}: {message}")


# Where lines go when not stdout (SCF ships stdout to CLS): `make serve`, `make invoke` and the backfill keep
# their own stdout for their answer and send the function's lines to stderr, set once at start.
_destination: TextIO | None = None


def debug(event: str, message: str, **fields: Any) -> None:
    """One DEBUG line (`LOG_LEVEL=DEBUG`): what the function decided and why. The caller checks
    `debugging()` first where building the fields would cost on the hot path."""
    given = {name: value for name, value in fields.items() if value is not None}
    logger.debug(message, extra={"event": event, **given})


def debugging() -> bool:
    return logger.isEnabledFor(logging.DEBUG)


def write_to(stream: TextIO | None) -> None:
    """Send every line to `stream` (None: whatever sys.stdout is at the time)."""
    global _destination
    _destination = stream


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the destination set with `write_to`, else whatever sys.stdout is now (a test's capture)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return _destination if _destination is not None else sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


invocation_fields = InvocationFields()


def configure(level: str) -> None:
    """Idempotent: attach one stdout handler to our logger and silence the SDK's.

    The SDK logs whole requests (Authorization and X-TC-Token headers included)
    at DEBUG; it must never reach a handler, whatever LOG_LEVEL says.
    """
    sdk = logging.getLogger(SDK_LOGGER_NAME)
    sdk.propagate = False
    sdk.setLevel(logging.CRITICAL)
    # A runtime that sets the root logger to DEBUG (the SCF CLI's does) would
    # otherwise interleave urllib3's plain-text connection lines with our JSON.
    logging.getLogger(TRANSPORT_LOGGER_NAME).setLevel(logging.WARNING)
    if not any(getattr(handler, "_sms_conversion", False) for handler in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        handler.addFilter(invocation_fields)
        handler._sms_conversion = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        # SCF's runtime puts its own handler on the root logger: one line each, not two.
        logger.propagate = False
    logger.setLevel(level)

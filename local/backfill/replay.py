"""Replay from the function's own logs: every message whose last outcome is neither reported nor duplicate.

The lines as printed, a console copy with text before each object, or a CLS export (the function's fields
at the top level beside CLS's and SCF's, values possibly strings, newest first; the printed line kept in
`SCF_Message`; one JSON array; gzipped or not).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from local.backfill.reader import InputFile, Row, read_text

# Where CLS (or a console copy) may hold the function's printed line when it did not split it into fields.
_MESSAGE_FIELDS = ("SCF_Message", "__CONTENT__", "content", "log")


def function_log_line(raw: str) -> dict[str, Any] | None:
    """The function's own log object in one exported line, or None.

    Accepts the line as printed, a CLS export of it (the function's fields at the top level, beside
    CLS's `__TIMESTAMP__` and SCF's `SCF_*` fields, values possibly turned into strings), a CLS
    export that kept the whole line in `SCF_Message` / `__CONTENT__`, and text before the object
    (a console's timestamp prefix).
    """
    start = raw.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(raw[start:])
    except (ValueError, RecursionError):
        return None
    return _ours(value)


def _ours(value: object) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    if "event" in value:
        return value
    for name in _MESSAGE_FIELDS:
        inner = value.get(name)
        if isinstance(inner, str) and "{" in inner:
            return function_log_line(inner)
    return None


def read_logs(path: Path) -> InputFile:
    """The messages the function's log lines show as neither reported nor duplicate, last outcome first."""
    text = read_text(path)
    objects: Iterable[tuple[int, Any]]
    stripped = text.lstrip()
    if stripped.startswith("["):  # an export written as one JSON array
        try:
            array = json.loads(stripped)
        except (ValueError, RecursionError):
            array = []
        items = array if isinstance(array, list) else []
        objects = ((number, _ours(item)) for number, item in enumerate(items, start=1))
    else:
        objects = ((number, function_log_line(line)) for number, line in enumerate(text.splitlines(), start=1))
    last: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}
    lines = without_message = 0
    for number, entry in objects:
        if entry is None or entry.get("event") != "record":
            continue
        lines += 1
        serial, app_id = entry.get("serial_no"), entry.get("sms_sdk_app_id")
        if not isinstance(serial, str) or not isinstance(app_id, (str, int)):
            without_message += 1  # a poison record: nothing in it to report
            continue
        key = (str(app_id), serial)
        when = str(entry.get("time", ""))
        # The last outcome wins, by the line's own time (an export may be newest first), then file order.
        if key not in last or (when, number) >= (last[key][0], last[key][1]):
            last[key] = (when, number, entry)
    source = InputFile(path, json_lines=True)
    for _, number, entry in sorted(last.values(), key=lambda item: item[1]):
        if entry.get("outcome") in ("reported", "duplicate"):
            continue
        values: dict[str, Any] = {"SmsSdkAppId": str(entry["sms_sdk_app_id"]), "SerialNo": entry["serial_no"]}
        if entry.get("conversion_time") not in (None, ""):
            values["ConversionTime"] = entry["conversion_time"]
        source.rows.append(Row(number, values))
    source.notes.append(
        f"{lines} record line(s) for {len(last)} message(s); {len(source.rows)} not reported"
        + (f"; {without_message} line(s) of poison records carry no message" if without_message else "")
    )
    return source

"""Backfill input: a CSV with a header or JSON Lines, read into rows before anything is reported.

The header is checked first (an unknown or missing column is one line naming both the columns found and
those expected); each row is then validated with the function's own message model and allowlist.
"""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sms_conversion.message import ConversionMessage, InvalidMessage, parse_messages
from sms_conversion.outcome import NOT_IN_ALLOWLIST
from sms_conversion.pipeline import AppPolicy

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
FIELDS = ("SmsSdkAppId", "SerialNo", "ConversionTime")


@dataclass
class Row:
    line: int
    values: dict[str, Any]
    message: ConversionMessage | None = None
    problem: str | None = None


@dataclass
class InputFile:
    """The rows of one input file (CSV, JSON Lines, or the function's logs), and what was noticed reading it."""

    path: Path
    json_lines: bool
    header: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# Every column name a message accepts (message.py's aliases), by the field it fills.
COLUMNS = {
    "SmsSdkAppId": ("SmsSdkAppId", "sms_sdk_app_id", "smsSdkAppId"),
    "SerialNo": ("SerialNo", "serial_no", "serialNo"),
    "ConversionTime": ("ConversionTime", "conversion_time", "conversionTime"),
}
EXPECTED_COLUMNS = (
    "SmsSdkAppId, SerialNo, optional ConversionTime (or snake_case / camelCase: serial_no, serialNo, ...)"
)


class BadInput(Exception):
    """The file cannot be a backfill's input as it is: one line saying what to fix."""


def check_header(header: list[str], default_app_id: str | None) -> None:
    """Before any call: every column is one the message reads, and SerialNo (and an app id) is there."""
    known = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}
    unknown = [column for column in header if column not in known]
    present = {known[column] for column in header if column in known}
    missing = [name for name in ("SerialNo", "SmsSdkAppId") if name not in present]
    if "SmsSdkAppId" in missing and default_app_id:
        missing.remove("SmsSdkAppId")  # SMS_SDK_APP_ID fills it, as on the function
    if unknown or missing:
        found = ", ".join(header) if header else "nothing"
        what = "; ".join(
            part
            for part in (
                f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                f"missing {', '.join(missing)}" if missing else "",
            )
            if part
        )
        hint = " (is the first line the header?)" if unknown and not present else ""
        raise BadInput(f"the header has {what}{hint}: found {found}; expected {EXPECTED_COLUMNS}")


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":  # a CLS export may be gzipped
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def read_source(path: Path) -> InputFile:
    text = read_text(path)
    json_lines = path.suffix.lower() in JSON_LINES_SUFFIXES or text.lstrip().startswith("{")
    source = InputFile(path, json_lines)
    if json_lines:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                values = json.loads(line)
            except (ValueError, RecursionError):
                source.rows.append(Row(number, {}, problem="not valid JSON"))
                continue
            if not isinstance(values, dict):
                source.rows.append(Row(number, {}, problem="must be a JSON object"))
            else:
                source.rows.append(Row(number, values))
        return source
    reader = csv.DictReader(text.splitlines())
    source.header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = source.header
    for values in reader:
        # Empty cells are missing values: an empty ConversionTime is none, an empty app id the default.
        cleaned = {name: value for name, value in values.items() if name is not None and value not in ("", None)}
        if None in values:
            source.rows.append(Row(reader.line_num, values, problem="more cells than the header has names"))
        else:
            source.rows.append(Row(reader.line_num, cleaned))
    return source


def validate(source: InputFile, policy: AppPolicy, default_app_id: str | None, now: float) -> None:
    """Each row's message, or its problem: the message model's, then the allowlist's one check."""
    for row in source.rows:
        if row.problem is not None:
            continue
        try:
            [message] = parse_messages(row.values, now=now, default_app_id=default_app_id)
        except InvalidMessage as exc:
            row.problem = str(exc)
            continue
        if policy.refused([message]):
            row.problem = "SmsSdkAppId: " + NOT_IN_ALLOWLIST.removeprefix("SmsSdkAppId ")
            continue
        row.message = message

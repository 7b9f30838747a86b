"""`make backfill FILE=conversions.csv [ARGS="--skip-invalid"]`: report conversions that were missed.

    python -m local.backfill conversions.csv [--skip-invalid] [--dry-run] [--ledger PATH] [--failed PATH]
    python -m local.backfill function-logs.jsonl --from-logs     # replay what the function could not report

The file is a CSV with a header (SmsSdkAppId,SerialNo,ConversionTime, or the
same snake_case / camelCase names as messages; ConversionTime optional) or
JSON Lines (one message object a line; `.jsonl` / `.ndjson`, or any file whose
first character is `{`). With `--from-logs` it is the function's own JSON log
lines (as printed, or as CLS exports them): every message whose last outcome
is neither reported nor duplicate is reported again. Every row is validated
first with the function's own message model and allowlist; invalid rows are
listed by line and nothing is reported unless `--skip-invalid` is given.

Reporting goes through the function's reporting pipeline: SMS_ALLOWED_SDK_APP_IDS,
SMS_CONCURRENCY, SMS_MAX_RPS (and SMS_FLEET_MAX_RPS), retries, deployment faults,
and idempotency in Redis when REDIS_URL is set, so what the function already
reported is not reported again. Credentials and variables are those of `make
invoke REAL=1`; SMS_ENDPOINT points it at an emulator. A ledger (SQLite in WAL
mode, next to the file unless `--ledger` says otherwise) records each report as
its answer arrives, with where it went (endpoint, region, app id): a rerun
after a crash, a SIGKILL, Ctrl-C or a partial failure reports only what is left
for that destination, re-sending at most the calls that were in flight.
Rows that still fail are written to `<file>.failed.<ext>`, ready to be fed back in.

Exit status: 0 when every valid row is reported (or already was), 1 when any
row failed, 2 for invalid rows without --skip-invalid (or a configuration
problem), 130 after Ctrl-C (the calls in flight finish; the ledger has every answer).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tqdm import tqdm

from local.runtime import prepare
from sms_conversion import logs
from sms_conversion.clock import Clock, Deadline, SystemClock
from sms_conversion.credentials import MissingCredentialsError
from sms_conversion.instance import WarmInstance
from sms_conversion.message import ConversionMessage, InvalidMessage, parse_messages
from sms_conversion.outcome import DeploymentFault, Status
from sms_conversion.pipeline import Conversion
from sms_conversion.settings import ConfigurationError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
# A backfill has no invocation limit: its deadline is far away...
RUN_SECONDS = 30 * 86400.0
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
# The account's ReportConversion quota (the API page: 1,000 requests per second), shared with production.
QUOTA_RPS = 1000
FIELDS = ("SmsSdkAppId", "SerialNo", "ConversionTime")


@dataclass
class Row:
    line: int
    values: dict[str, Any]
    message: ConversionMessage | None = None
    problem: str | None = None


@dataclass
class Source:
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


def read_source(path: Path) -> Source:
    text = read_text(path)
    json_lines = path.suffix.lower() in JSON_LINES_SUFFIXES or text.lstrip().startswith("{")
    source = Source(path, json_lines)
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


# ---- replay from the function's logs ------------------------------------------------------------

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


def read_logs(path: Path) -> Source:
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
    source = Source(path, json_lines=True)
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


def validate(source: Source, settings: Settings, instance: WarmInstance, now: float) -> None:
    policy = instance.app_policy(settings)
    for row in source.rows:
        if row.problem is not None:
            continue
        try:
            [message] = parse_messages(row.values, now=now, default_app_id=settings.SMS_SDK_APP_ID)
        except InvalidMessage as exc:
            row.problem = str(exc)
            continue
        if not policy.allows(message.SmsSdkAppId):
            row.problem = "SmsSdkAppId: is not in SMS_ALLOWED_SDK_APP_IDS"
            continue
        row.message = message


# ---- the ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where reports go: the same serial reported to the emulator is not reported to the real API."""

    endpoint: str
    region: str

    @classmethod
    def of(cls, settings: Settings) -> Destination:
        return cls(repr(settings.endpoint), settings.SMS_REGION)

    def __str__(self) -> str:
        return f"{self.endpoint} ({self.region})"


class Ledger:
    """What this backfill already reported, and where. Each report is committed as its answer arrives.

    SQLite in WAL mode with `synchronous=NORMAL`: a commit survives the process being killed (only a
    power loss can take the last ones back), and costs a write, not an fsync.
    """

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS reports (endpoint TEXT, region TEXT, app_id TEXT, serial_no TEXT,"
            " request_id TEXT, at REAL, PRIMARY KEY (endpoint, region, app_id, serial_no))"
        )

    def reported(self, destination: Destination, message: ConversionMessage) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM reports WHERE endpoint = ? AND region = ? AND app_id = ? AND serial_no = ?",
                (destination.endpoint, destination.region, message.SmsSdkAppId, message.SerialNo),
            ).fetchone()
        return row is not None

    def record(self, destination: Destination, message: ConversionMessage, request_id: str | None) -> None:
        row = (destination.endpoint, destination.region, message.SmsSdkAppId, message.SerialNo, request_id, time.time())
        with self._lock:  # autocommit: one transaction a report
            self._db.execute("INSERT OR IGNORE INTO reports VALUES (?, ?, ?, ?, ?, ?)", row)

    def destinations(self) -> list[tuple[str, str, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT endpoint, region, COUNT(*) FROM reports GROUP BY endpoint, region ORDER BY endpoint, region"
            ).fetchall()
        return [(str(endpoint), str(region), int(count)) for endpoint, region, count in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


# ---- the run --------------------------------------------------------------------------------------


@dataclass
class Tally:
    reported: int = 0
    already: int = 0
    invalid: int = 0
    failed: int = 0
    left: int = 0
    faults: list[DeploymentFault] = field(default_factory=list)


class RunDeadline(Deadline):
    """A backfill's deadline: no invocation limit, but an in-progress mark in Redis lasts one message's calls."""

    __slots__ = ("horizon",)

    def __init__(self, clock: Clock, seconds: float, horizon: float) -> None:
        now = clock.monotonic()
        super().__init__(clock, now + seconds, now + seconds)
        self.horizon = horizon

    def until_end(self) -> float:
        return self.horizon


class _Interrupt:
    """Ctrl-C asks to stop after the calls in flight; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    clock: Clock | None = None,
    err: TextIO = sys.stderr,
) -> int:
    clock = clock or SystemClock()
    started = clock.monotonic()
    try:
        settings = load_settings(environ)
    except ConfigurationError as exc:
        print(f"backfill: {exc}", file=err)
        return EXIT_INVALID
    try:
        source = read_logs(args.file) if args.from_logs else read_source(args.file)
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        print(f"backfill: cannot read {args.file}: {getattr(exc, 'strerror', None) or type(exc).__name__}", file=err)
        return EXIT_INVALID
    for note in source.notes:
        print(f"backfill: {args.file}: {note}", file=err)
    try:
        if not args.from_logs and not source.rows and not source.header:
            raise BadInput("has no rows to report (it is empty)")
        if not args.from_logs and not source.json_lines:
            check_header(source.header, settings.SMS_SDK_APP_ID)
        if not args.from_logs and not source.rows:
            raise BadInput("has no rows to report (only a header)")
    except BadInput as exc:
        print(f"backfill: {args.file}: {exc}. Nothing was reported.", file=err)
        return EXIT_INVALID
    if args.rps is not None:
        environ = {**environ, "SMS_MAX_RPS": str(args.rps)}
        settings = load_settings(environ)
    instance = WarmInstance(clock, environ=environ)
    validate(source, settings, instance, clock.now())
    tally = Tally(invalid=sum(1 for row in source.rows if row.problem is not None))
    for row in source.rows:
        if row.problem is not None:
            print(f"{args.file}:{row.line}: {row.problem}", file=err)
    if tally.invalid and not args.skip_invalid:
        print(
            f"backfill: {tally.invalid} invalid row(s); fix them or pass --skip-invalid. Nothing was reported.",
            file=err,
        )
        return EXIT_INVALID
    destination = Destination.of(settings)
    ledger = Ledger(args.ledger or args.file.with_name(args.file.name + ".ledger.sqlite"))
    try:
        valid = [row for row in source.rows if row.message is not None]
        pending = [row for row in valid if row.message is not None and not ledger.reported(destination, row.message)]
        tally.already = len(valid) - len(pending)
        if args.dry_run:
            print(
                f"backfill (dry run): {len(pending)} row(s) to report to {destination}, {tally.already} already "
                f"reported there, {tally.invalid} invalid",
                file=err,
            )
            return EXIT_OK
        try:
            instance.credential.get_credential_info()
        except MissingCredentialsError as exc:
            print(f"backfill: {exc}", file=err)
            return EXIT_INVALID
        print(pace(len(pending), settings), file=err)
        failed, interrupted = _report(pending, args.file, settings, instance, ledger, destination, tally, err)
        held = "; ".join(f"{count} to {endpoint} ({region})" for endpoint, region, count in ledger.destinations())
    finally:
        ledger.close()
    if tally.faults:
        fault = tally.faults[0]
        print(f"backfill: stopped by a deployment fault: {fault.code}: {fault.hint}", file=err)
    if failed:
        written = args.failed or args.file.with_name(f"{args.file.stem}.failed{_suffix(source, args.file)}")
        _write_rows(written, source, failed)
        print(f"backfill: {len(failed)} row(s) still failing, written to {written} (feed it back in later)", file=err)
    elapsed = clock.monotonic() - started
    print(
        f"backfill: reported {tally.reported}, already reported {tally.already}, invalid {tally.invalid}, "
        f"failed {tally.failed}, {f'not reached {tally.left}, ' if tally.left else ''}in {elapsed:.1f} s"
        f"{' (interrupted: run again to finish)' if interrupted else ''}",
        file=err,
    )
    print(f"backfill: this run reported to {destination}; the ledger holds {held or 'nothing yet'}", file=err)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK


def pace(rows: int, settings: Settings) -> str:
    """The arithmetic the operator needs before a long run: how long, and what is left of the quota."""
    rate = settings.SMS_MAX_RPS
    seconds = rows / rate if rate else 0.0
    minutes = f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"
    left = QUOTA_RPS - rate
    share = (
        f"leaves {left}/s of the account's {QUOTA_RPS}/s ReportConversion quota to production"
        if left > 0
        else f"uses the account's whole {QUOTA_RPS}/s ReportConversion quota: production's reports will be refused"
    )
    return f"backfill: {rows} row(s) at {rate} rows/s (SMS_MAX_RPS; --rps N to change) take about {minutes}; {share}"


def _report(
    pending: list[Row],
    path: Path,
    settings: Settings,
    instance: WarmInstance,
    ledger: Ledger,
    destination: Destination,
    tally: Tally,
    err: TextIO,
) -> tuple[list[Row], bool]:
    failed: list[Row] = []
    lock = threading.Lock()
    interrupt = _Interrupt()
    progress = Progress(len(pending), err, instance.clock)
    conversions = [Conversion(row.message, origin=row) for row in pending if row.message is not None]

    def arrived(conversion: Conversion) -> None:
        # Called from a worker as each answer arrives: the ledger commits it before the next call starts.
        outcome, row = conversion.outcome, conversion.origin
        assert outcome is not None
        assert isinstance(row, Row)
        if outcome.status in (Status.REPORTED, Status.DUPLICATE):
            # A duplicate was reported earlier in this file, or by the function (Redis says so).
            ledger.record(destination, conversion.message, outcome.request_id)
        with lock:
            if outcome.status is Status.REPORTED:
                tally.reported += 1
            elif outcome.status is Status.DUPLICATE:
                tally.already += 1
            else:
                tally.failed += 1
                failed.append(row)
                if outcome.attempted:
                    progress.write(
                        f"{path}:{row.line}: {conversion.message.SerialNo}: {outcome.code}: {outcome.message}"
                    )
            progress.update(1)

    # The engine's JSON log lines (warnings only) go to stderr with the progress bar.
    logs.configure("WARNING")
    horizon = settings.SMS_MAX_ATTEMPTS * (settings.SMS_TIMEOUT_SECONDS + 2.0) + 5.0
    deadline = RunDeadline(instance.clock, RUN_SECONDS, horizon)
    logs.write_to(err)
    try:
        with interrupt.installed(), progress:
            pipeline = instance.pipeline(settings)
            tally.faults = pipeline.report(conversions, deadline, on_outcome=arrived, stop=interrupt.requested)
    finally:
        logs.write_to(None)
    tally.left = sum(1 for conversion in conversions if conversion.outcome is None)
    failed.sort(key=lambda row: row.line)
    return failed, interrupt.requested.is_set()


class Progress:
    """A bar on a terminal; elsewhere (a log file, CI, a pipe) one plain line every few seconds."""

    PLAIN_EVERY_SECONDS = 5.0

    def __init__(self, total: int, err: TextIO, clock: Clock) -> None:
        self.total, self.err, self.clock = total, err, clock
        self.done = 0
        self.started = self.last = clock.monotonic()
        self.bar: tqdm[Any] | None = None
        if total and err.isatty():
            self.bar = tqdm(total=total, unit="row", file=err, dynamic_ncols=True)

    def update(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            return
        now = self.clock.monotonic()
        if now - self.last >= self.PLAIN_EVERY_SECONDS or self.done == self.total:
            self.last = now
            rate = self.done / (now - self.started) if now > self.started else 0.0
            left = f", about {(self.total - self.done) / rate:.0f} s left" if rate and self.done < self.total else ""
            print(f"backfill: {self.done}/{self.total} row(s), {rate:.0f} rows/s{left}", file=self.err, flush=True)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line)
        else:
            print(line, file=self.err)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _suffix(source: Source, path: Path) -> str:
    if source.json_lines:
        return path.suffix if path.suffix.lower() in JSON_LINES_SUFFIXES else ".jsonl"
    return path.suffix or ".csv"


def _write_rows(path: Path, source: Source, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        if source.json_lines:
            for row in rows:
                out.write(json.dumps(row.values, ensure_ascii=False) + "\n")
            return
        writer = csv.DictWriter(out, fieldnames=source.header or list(FIELDS), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.values)


def _positive_rate(text: str) -> int:
    try:
        rate = int(text)
    except ValueError:
        rate = 0
    if not 0 < rate <= QUOTA_RPS:
        raise argparse.ArgumentTypeError(f"must be a whole number of calls per second from 1 to {QUOTA_RPS}")
    return rate


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make backfill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="CSV with a header, JSON Lines, or (--from-logs) the function's logs")
    parser.add_argument("--from-logs", action="store_true", help="FILE holds the function's JSON log lines")
    parser.add_argument("--skip-invalid", action="store_true", help="report the valid rows even if some are invalid")
    parser.add_argument("--dry-run", action="store_true", help="validate and count; call nothing")
    parser.add_argument("--ledger", type=Path, help="the SQLite ledger (default: <file>.ledger.sqlite)")
    parser.add_argument("--failed", type=Path, help="where rows that still fail go (default: <file>.failed.<ext>)")
    parser.add_argument(
        "--rps",
        type=_positive_rate,
        help="calls started per second (default: SMS_MAX_RPS, template.yaml's 200); the account's quota is shared",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The environment of `make invoke REAL=1`: your own credentials, template.yaml's variables.
    target = prepare(real=True)
    print(f"# backfill of {args.file} against {target.description}", file=sys.stderr)
    return run(args, os.environ)


if __name__ == "__main__":
    sys.exit(main())

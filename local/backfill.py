"""`make backfill FILE=conversions.csv [ARGS="--skip-invalid"]`: report conversions that were missed.

    python -m local.backfill conversions.csv [--skip-invalid] [--dry-run] [--ledger PATH] [--failed PATH]

The file is a CSV with a header (SmsSdkAppId,SerialNo,ConversionTime, or the
same snake_case / camelCase names as messages; ConversionTime optional) or
JSON Lines (one message object a line; `.jsonl` / `.ndjson`, or any file whose
first character is `{`). Every row is validated first with the function's own
message model; invalid rows are listed by line and nothing is reported unless
`--skip-invalid` is given.

Reporting goes through the function's engine: SMS_CONCURRENCY, SMS_MAX_RPS (and
SMS_FLEET_MAX_RPS), retries, and idempotency in Redis when REDIS_URL is set, so
what the function already reported is not reported again. Credentials and
variables are those of `make invoke REAL=1`; SMS_ENDPOINT points it at an
emulator. A ledger (SQLite, next to the file unless `--ledger` says otherwise)
records every reported row, so running the same command again after a crash,
Ctrl-C or partial failure reports only what is left. Rows that still fail
after retries are written to `<file>.failed.<ext>`, ready to be fed back in.

Exit status: 0 when every valid row is reported (or already was), 1 when any
row failed, 2 for invalid rows without --skip-invalid (or a configuration
problem), 130 after Ctrl-C (the calls in flight finish and the ledger is saved).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tqdm import tqdm

from local.runtime import ROOT, prepare

# The function's own engine, from src/ (what SCF deploys), not a copy.
sys.path.insert(0, str(ROOT / "src"))

from sms_conversion import logs
from sms_conversion.clock import Clock, Deadline, SystemClock
from sms_conversion.credentials import MissingCredentialsError
from sms_conversion.instance import WarmInstance
from sms_conversion.message import ConversionMessage, InvalidMessage, parse_messages
from sms_conversion.outcome import Status
from sms_conversion.settings import ConfigurationError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
# A chunk of rows reported together: big enough to keep every worker busy, small enough that
# Ctrl-C (which lets the chunk in flight finish) answers within a few calls' time.
CHUNK_PER_WORKER = 8
# A backfill has no invocation limit; each chunk gets this long.
CHUNK_TIME_LIMIT_SECONDS = 3600.0
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


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


def read_source(path: Path) -> Source:
    text = path.read_text(encoding="utf-8-sig")
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
    source.header = list(reader.fieldnames or [])
    for values in reader:
        # Empty cells are missing values: an empty ConversionTime is none, an empty app id the default.
        cleaned = {name: value for name, value in values.items() if name is not None and value not in ("", None)}
        if None in values:
            source.rows.append(Row(reader.line_num, values, problem="more cells than the header has names"))
        else:
            source.rows.append(Row(reader.line_num, cleaned))
    return source


def validate(source: Source, settings: Settings, now: float) -> None:
    for row in source.rows:
        if row.problem is not None:
            continue
        try:
            [row.message] = parse_messages(row.values, now=now, default_app_id=settings.SMS_SDK_APP_ID)
        except InvalidMessage as exc:
            row.problem = str(exc)


class Ledger:
    """What this backfill already reported, kept in SQLite so a rerun skips it."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS reported (key TEXT PRIMARY KEY, serial_no TEXT, request_id TEXT, at REAL)"
        )
        self._db.commit()

    def __contains__(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM reported WHERE key = ?", (key,)).fetchone() is not None

    def record(self, message: ConversionMessage, request_id: str | None) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO reported VALUES (?, ?, ?, ?)",
            (message.key, message.SerialNo, request_id, time.time()),
        )

    def save(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()


@dataclass
class Tally:
    reported: int = 0
    already: int = 0
    invalid: int = 0
    failed: int = 0


class _Interrupt:
    """Ctrl-C asks to stop after the chunk in flight; a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
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
        source = read_source(args.file)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"backfill: cannot read {args.file}: {getattr(exc, 'strerror', None) or type(exc).__name__}", file=err)
        return EXIT_INVALID
    validate(source, settings, clock.now())
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
    valid = [row for row in source.rows if row.message is not None]
    ledger = Ledger(args.ledger or args.file.with_name(args.file.name + ".ledger.sqlite"))
    try:
        pending = [row for row in valid if row.message is not None and row.message.key not in ledger]
        tally.already = len(valid) - len(pending)
        if args.dry_run:
            print(
                f"backfill (dry run): {len(pending)} row(s) to report, {tally.already} already reported, "
                f"{tally.invalid} invalid",
                file=err,
            )
            return EXIT_OK
        instance = WarmInstance(clock, environ=environ)
        try:
            instance.credential.get_credential_info()
        except MissingCredentialsError as exc:
            print(f"backfill: {exc}", file=err)
            return EXIT_INVALID
        failed, interrupted = _report(pending, settings, instance, ledger, tally, err)
    finally:
        ledger.close()
    if failed:
        written = args.failed or args.file.with_name(f"{args.file.stem}.failed{args.file.suffix or '.csv'}")
        _write_rows(written, source, failed)
        print(f"backfill: {len(failed)} row(s) still failing, written to {written} (feed it back in later)", file=err)
    elapsed = clock.monotonic() - started
    print(
        f"backfill: reported {tally.reported}, already reported {tally.already}, invalid {tally.invalid}, "
        f"failed {tally.failed}, in {elapsed:.1f} s{' (interrupted: run again to finish)' if interrupted else ''}",
        file=err,
    )
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK


def _report(
    pending: list[Row], settings: Settings, instance: WarmInstance, ledger: Ledger, tally: Tally, err: TextIO
) -> tuple[list[Row], bool]:
    failed: list[Row] = []
    interrupt = _Interrupt()
    chunk_size = settings.SMS_CONCURRENCY * CHUNK_PER_WORKER
    progress = tqdm(total=len(pending), unit="row", file=err, dynamic_ncols=True, disable=not pending)
    # The engine's JSON log lines (warnings only) go to stderr with the progress bar.
    logs.configure("WARNING")
    with interrupt.installed(), contextlib.redirect_stdout(err), progress:
        for start in range(0, len(pending), chunk_size):
            if interrupt.requested:
                break
            chunk = pending[start : start + chunk_size]
            messages = [row.message for row in chunk if row.message is not None]
            clock = instance.clock
            deadline = Deadline.for_invocation(clock, clock.monotonic(), CHUNK_TIME_LIMIT_SECONDS)
            outcomes = instance.batch_reporter(settings).report_all(messages, deadline)
            for row, message, outcome in zip(chunk, messages, outcomes, strict=True):
                if outcome.status is Status.REPORTED:
                    tally.reported += 1
                    ledger.record(message, outcome.request_id)
                elif outcome.status is Status.DUPLICATE:
                    # Reported earlier in this file, or by the function (Redis says so).
                    tally.already += 1
                    ledger.record(message, None)
                else:
                    tally.failed += 1
                    failed.append(row)
                    progress.write(f"{row.line}: {message.SerialNo}: {outcome.code}: {outcome.message}", file=err)
            ledger.save()
            progress.update(len(chunk))
    return failed, interrupt.requested


def _write_rows(path: Path, source: Source, rows: list[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        if source.json_lines:
            for row in rows:
                out.write(json.dumps(row.values, ensure_ascii=False) + "\n")
            return
        writer = csv.DictWriter(out, fieldnames=source.header, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.values)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make backfill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="CSV with a header, or JSON Lines")
    parser.add_argument("--skip-invalid", action="store_true", help="report the valid rows even if some are invalid")
    parser.add_argument("--dry-run", action="store_true", help="validate and count; call nothing")
    parser.add_argument("--ledger", type=Path, help="the SQLite ledger (default: <file>.ledger.sqlite)")
    parser.add_argument("--failed", type=Path, help="where rows that still fail go (default: <file>.failed.<ext>)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # The environment of `make invoke REAL=1`: your own credentials, template.yaml's variables.
    target = prepare(real=True)
    print(f"# backfill of {args.file} against {target.description}", file=sys.stderr)
    return run(args, os.environ)


if __name__ == "__main__":
    sys.exit(main())

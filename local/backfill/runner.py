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
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tqdm import tqdm

from local.backfill.ledger import Destination, Ledger
from local.backfill.reader import (
    FIELDS,
    JSON_LINES_SUFFIXES,
    BadInput,
    InputFile,
    Row,
    check_header,
    read_source,
    validate,
)
from local.backfill.replay import read_logs
from local.runtime import Refused, prepare
from sms_conversion import logs
from sms_conversion.clock import Clock, Deadline, SystemClock
from sms_conversion.credentials import MissingCredentialsError
from sms_conversion.instance import WarmInstance
from sms_conversion.outcome import DeploymentFault, Outcome, Status
from sms_conversion.pipeline import Conversion
from sms_conversion.settings import ConfigurationError, Settings, load_settings

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
# A backfill has no invocation limit: its deadline is far away.
RUN_SECONDS = 30 * 86400.0
# The account's ReportConversion quota (the API page: 1,000 requests per second), shared with production.
QUOTA_RPS = 1000


@dataclass
class Tally:
    reported: int = 0
    already: int = 0
    invalid: int = 0
    failed: int = 0
    left: int = 0
    faults: list[DeploymentFault] = field(default_factory=list)
    # The first failure to arrive, in words: why a run that reported nothing reported nothing.
    first_failure: str | None = None


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
    validate(source, instance.app_policy(settings), settings.SMS_SDK_APP_ID, clock.now())
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
        print(pace(len(pending), settings, _rate_source(args)), file=err)
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
    if tally.reported or not pending:
        print(f"backfill: this run reported {tally.reported} row(s) to {destination}", file=err)
    else:
        why = f": the first failure was {tally.first_failure}" if tally.first_failure else ""
        print(f"backfill: this run reported nothing to {destination}{why}", file=err)
    print(f"backfill: the ledger holds {held or 'nothing yet'}", file=err)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK


def _rate_source(args: argparse.Namespace) -> str:
    """Where the rate came from, as the operator set it: the flag, or SMS_MAX_RPS (and from where)."""
    if args.rps is not None:
        return "--rps"
    return f"{getattr(args, 'rate_from', 'SMS_MAX_RPS')}; --rps N to change"


def pace(rows: int, settings: Settings, source: str) -> str:
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
    return f"backfill: {rows} row(s) at {rate} rows/s ({source}) take about {minutes}; {share}"


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
                if tally.first_failure is None:
                    tally.first_failure = _in_words(outcome)
                if outcome.attempted:
                    progress.write(
                        f"{path}:{row.line}: {conversion.message.SerialNo}: {outcome.code}: {outcome.message}"
                    )
            progress.update(1)

    # The engine's JSON log lines (warnings only) go to stderr with the progress bar.
    logs.configure("WARNING")
    # No invocation ends a backfill, so a claim lasts as long as one message's attempts can, and a margin.
    claim_seconds = settings.SMS_MAX_ATTEMPTS * (settings.SMS_TIMEOUT_SECONDS + 2.0) + 5.0
    now = instance.clock.monotonic()
    deadline = Deadline(instance.clock, now + RUN_SECONDS, now + RUN_SECONDS)
    logs.write_to(err)
    try:
        with interrupt.installed(), progress:
            pipeline = instance.pipeline(settings)
            tally.faults = pipeline.report(
                conversions, deadline, on_outcome=arrived, stop=interrupt.requested, claim_seconds=claim_seconds
            )
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


def _in_words(outcome: Outcome) -> str:
    """A failure's code and what kind of failure the classifier made it."""
    if outcome.fault is not None:
        kind = "a deployment fault: " + outcome.fault.hint
    elif not outcome.attempted:
        kind = "not attempted: " + (outcome.message or "")
    else:
        kind = f"after {outcome.attempts} attempt(s): {outcome.message or ''}"
    return f"{outcome.code} ({kind.rstrip(': ')})"


def _suffix(source: InputFile, path: Path) -> str:
    if source.json_lines:
        return path.suffix if path.suffix.lower() in JSON_LINES_SUFFIXES else ".jsonl"
    return path.suffix or ".csv"


def _write_rows(path: Path, source: InputFile, rows: list[Row]) -> None:
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
    if args.file == Path():
        # `make backfill` without FILE= passes an empty argument.
        parser().error("FILE is required: make backfill FILE=conversions.csv (or a .jsonl, or --from-logs)")
    args.rate_from = f"SMS_MAX_RPS from {'your shell' if 'SMS_MAX_RPS' in os.environ else 'template.yaml'}"
    # The environment of `make invoke REAL=1`: your own credentials, template.yaml's variables.
    try:
        target = prepare(real=True)
    except Refused as exc:
        print(f"make backfill: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"# backfill of {args.file} against {target.description}", file=sys.stderr)
    return run(args, os.environ)


if __name__ == "__main__":
    sys.exit(main())

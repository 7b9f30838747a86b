"""Run `main_handler` on an event file as SCF's Python runtime would, against the embedded emulator.

    python -m local.invoke events/ckafka.json          # emulator, no cloud account
    python -m local.invoke events/apigw.json --real    # the real API with your local credentials
    SMS_ENDPOINT=http://127.0.0.1:9000 python -m local.invoke events/ckafka.json   # an emulator you run

The environment comes from template.yaml (variables already set in your shell
win), the context carries what SCF passes, and the emulator plays the SMS API
with temporary keys injected the way SCF injects the execution role's. When
REPORT_SIGNING_SECRET or CMQ_PUSH_TOKEN is set (Deploy step 3 exports one), the
HTTP sample events are signed, or carry `?token=`, as real callers send them.

Logs go to stderr, the return value to stdout (so `| jq` works). Exit status:
0 for a 2xx answer or a queue summary, 1 for a 4xx/5xx answer, 2 when the
invocation raised (SCF would redeliver a queue event), 64 for a bad event file,
78 when a variable is one the function would refuse (one line names it; nothing runs).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from local.call import signed_headers
from local.runtime import SAMPLE_APP_IDS, TEMPLATE, Refused, import_handler, prepare
from sms_conversion import logs

EXIT_ANSWER_ERROR, EXIT_RAISED, EXIT_BAD_EVENT, EXIT_CONFIG = 1, 2, 64, 78


def read_event(path: Path) -> Any:
    """The event, or SystemExit with one clear line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(
            _bad_event(f"{path}: cannot read the event file ({exc.strerror or type(exc).__name__})")
        ) from None
    except UnicodeDecodeError:
        raise SystemExit(_bad_event(f"{path}: the event file is not UTF-8 text")) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise SystemExit(_bad_event(f"{path}: the event file is not valid JSON{where}")) from None


def _bad_event(message: str) -> int:
    print(f"make invoke: {message}", file=sys.stderr)
    return EXIT_BAD_EVENT


def as_callers_send_it(event: Any, environ: dict[str, str] | os._Environ[str], now: float) -> tuple[Any, str | None]:
    """The event as a real caller would send it to a function whose route is authenticated.

    With REPORT_SIGNING_SECRET, an HTTP event gets X-Timestamp and X-Signature over its raw body (after
    base64 decoding), signed with the first secret; a TDMQ-CMQ push, which cannot sign, gets `?token=`
    when CMQ_PUSH_TOKEN is set, and so does any HTTP event when only the token is. Returns the event
    and what was done to it, or (event, None) for an event left as it is.
    """
    if not isinstance(event, dict) or "httpMethod" not in event:
        return event, None
    secret = (environ.get("REPORT_SIGNING_SECRET") or "").split(",")[0].strip()
    token = (environ.get("CMQ_PUSH_TOKEN") or "").strip()
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    push = "x-cmq-message-id" in headers or "x-cmq-request-id" in headers
    if token and (push or not secret):
        query = dict(event.get("queryString") or {})
        query["token"] = token
        return {**event, "queryString": query}, "added ?token=<CMQ_PUSH_TOKEN> to its URL, as a push subscription does"
    if not secret:
        return event, None
    body = event.get("body") or ""
    if not isinstance(body, str):
        return event, None
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") is True else body.encode("utf-8")
    except (binascii.Error, ValueError):
        return event, None
    signed = {name.lower(): value for name, value in signed_headers(secret, raw, now).items() if name != "Content-Type"}
    done = "signed it with REPORT_SIGNING_SECRET (X-Timestamp, X-Signature), as a caller does"
    if push:
        done += "; a real TDMQ-CMQ push cannot sign: set CMQ_PUSH_TOKEN and put ?token=<it> in the subscription's URL"
    return {**event, "headers": {**(event.get("headers") or {}), **signed}}, done


def exit_status(result: Any) -> int:
    """0 for a 2xx answer or a queue summary, 1 for a 4xx/5xx answer."""
    if isinstance(result, dict):
        status = result.get("statusCode", result.get("StatusCode"))
        if isinstance(status, int) and not 200 <= status < 300:
            return EXIT_ANSWER_ERROR
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make invoke", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("event", type=Path, help="event file, e.g. events/ckafka.json")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--real", action="store_true", help="call the real SMS API with your local credentials")
    args = parser.parse_args(argv)

    event, signed = as_callers_send_it(read_event(args.event), os.environ, time.time())
    if signed:
        print(f"# {args.event}: {signed}", file=sys.stderr)
    try:
        target = prepare(args.real, args.template)
    except Refused as exc:
        print(f"make invoke: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.real and any(app_id in json.dumps(event) for app_id in SAMPLE_APP_IDS):
        print(
            "# warning: the event still carries a sample SmsSdkAppId (1400006666 / 1400000001): "
            "put your own app id in it, or the API answers SmsSdkAppIdVerifyFail",
            file=sys.stderr,
        )
    print(f"# invoking {target.name} with {args.event} against {target.description}", file=sys.stderr)
    main_handler = import_handler()
    # The function logs to stdout as on SCF; here stdout is kept for the return value.
    logs.write_to(sys.stderr)
    try:
        result = main_handler(event, target.context())
    except Exception as exc:  # what SCF would record as a failed invocation
        print(f"# the invocation raised {type(exc).__name__}: {exc}", file=sys.stderr)
        print("# (SCF marks it failed; queue and async triggers redeliver it)", file=sys.stderr)
        return EXIT_RAISED
    finally:
        logs.write_to(None)
        if target.emulator is not None:
            print(f"# emulator accepted {target.close()} report(s)", file=sys.stderr)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return exit_status(result)


if __name__ == "__main__":
    sys.exit(main())

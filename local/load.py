"""`make load URL=… N=1000 RPS=50`: send N signed conversions at a set rate through a Function URL.

    REPORT_SIGNING_SECRET=… python -m local.load https://<appid>-<id>.<region>.tencentscf.com/ -n 1000 --rps 50

For checking the sizing on a real account (docs/sizing.md#checking-it-on-your-account): run it against a deployed
stack, then read SCF's `Duration` and `MemUsage` metrics for the same minutes. Each request is one conversion with
a serial of its own (`load-<run>-<n>`, so nothing is a duplicate), signed as callers sign (local/call.py). Starts
are paced one every 1/RPS seconds by up to `--workers` threads; the summary gives the statuses, the rate reached
and the latency percentiles. Every conversion it sends is real: use a test app id (`--app-id`), or expect them in
the SMS console.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from local.call import CannotAsk, post, signed_headers


def run(
    url: str,
    count: int,
    rps: float,
    app_id: str,
    secret: str,
    workers: int = 32,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, object]:
    run_id = uuid.uuid4().hex[:8]
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    lock = threading.Lock()
    started = clock()

    def one(number: int) -> None:
        wait = started + number / rps - clock()
        if wait > 0:
            sleep(wait)
        body = json.dumps({"SmsSdkAppId": app_id, "SerialNo": f"load-{run_id}-{number}"}).encode()
        headers = signed_headers(secret, body) if secret else {"Content-Type": "application/json"}
        began = clock()
        try:
            status, _ = post(url, body, headers, timeout=30)
            outcome = str(status)
        except CannotAsk as exc:
            outcome = f"no answer ({str(exc).split(':')[0]})"
        with lock:
            statuses[outcome] += 1
            latencies.append(clock() - began)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))
    elapsed = max(clock() - started, 1e-9)
    ordered = sorted(latencies)
    return {
        "sent": count,
        "statuses": dict(statuses),
        "rate": round(count / elapsed, 1),
        "latency_ms_p50": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "latency_ms_p95": round(ordered[int(len(ordered) * 0.95) - 1 if len(ordered) > 1 else 0] * 1000, 1)
        if ordered
        else None,
        "serial_prefix": f"load-{run_id}-",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("-n", "--count", type=int, default=100, help="how many conversions (default 100)")
    parser.add_argument("--rps", type=float, default=10.0, help="requests started per second (default 10)")
    parser.add_argument("--app-id", default=os.environ.get("SMS_SDK_APP_ID") or "1400006666")
    parser.add_argument("--workers", type=int, default=32, help="requests in flight at most (default 32)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("http://", "https://")):
        print("make load: URL must be the Function URL (https://...); make serve prints a local one", file=sys.stderr)
        return 2
    if args.count < 1 or args.rps <= 0 or args.workers < 1:
        print("make load: N, RPS and --workers must be positive", file=sys.stderr)
        return 2
    secret = os.environ.get("REPORT_SIGNING_SECRET", "").split(",")[0].strip()
    print(
        f"# {args.count} conversions at {args.rps:g}/s to {args.url}, {'signed' if secret else 'unsigned'}",
        file=sys.stderr,
    )
    summary = run(args.url, args.count, args.rps, args.app_id, secret, args.workers)
    print(json.dumps(summary))
    return 0 if summary["statuses"] == {"200": args.count} else 1


if __name__ == "__main__":
    sys.exit(main())

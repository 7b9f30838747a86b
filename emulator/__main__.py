"""`python -m emulator [--port 9000] [--latency-ms 20]`: serve the SMS API emulator until interrupted."""

from __future__ import annotations

import argparse
import errno
import sys
import threading

from .server import PERMANENT_KEY, TEMPORARY_KEY, SmsEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    args = parser.parse_args(argv)
    try:
        emulator = SmsEmulator(args.host, args.port, latency=args.latency_ms / 1000)
    except OSError as exc:
        busy = exc.errno == errno.EADDRINUSE
        why = "the port is in use (another make emulator?); choose another with PORT=..." if busy else exc.strerror
        print(f"make emulator: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return 1
    emulator.start()
    print(f"SMS emulator on http://{args.host}:{emulator.port}", flush=True)
    print(f"  permanent key: {PERMANENT_KEY.secret_id} / {PERMANENT_KEY.secret_key}", flush=True)
    print(
        f"  temporary key: {TEMPORARY_KEY.secret_id} / {TEMPORARY_KEY.secret_key} + token {TEMPORARY_KEY.token}",
        flush=True,
    )
    print("  faults: POST /_emulator/faults  stats: GET /_emulator/stats  reset: POST /_emulator/reset", flush=True)
    print('  account: POST /_emulator/account {"denied": [secret ids], "allowlisted": false, ...}', flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make call URL=… BODY=…`: sign one request as README's "Signing" says, post it, print the answer.

    REPORT_SIGNING_SECRET=… python -m local.call http://127.0.0.1:8000/ '{"SerialNo": "5000:1"}'

Standard library only, so it doubles as the reference for callers: the signature
is `sha256=` + hex HMAC-SHA256(secret, "<X-Timestamp>." + raw body).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import sys
import time
import urllib.error
import urllib.request


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": f"sha256={digest}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make call", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("body", help="the JSON body to post")
    args = parser.parse_args(argv)
    secret = os.environ.get("REPORT_SIGNING_SECRET", "").split(",")[0].strip()
    body = args.body.encode("utf-8")
    headers = signed_headers(secret, body) if secret else {"Content-Type": "application/json"}
    if not secret:
        print("# REPORT_SIGNING_SECRET is not set: sending the request unsigned", file=sys.stderr)
    request = urllib.request.Request(args.url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the URL is the user's
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read()
    print(f"# HTTP {status}", file=sys.stderr)
    print(answer.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())

"""`make call URL=… BODY=…` (or `BODY_FILE=path`): sign one request as docs/security.md#signing says, and post it.

    REPORT_SIGNING_SECRET=… python -m local.call http://127.0.0.1:8000/ '{"SerialNo": "5000:1"}'
    REPORT_SIGNING_SECRET=… python -m local.call http://127.0.0.1:8000/ --body-file conversion.json

Standard library only, so it doubles as the reference for callers (callers/ has the same in Java, Go,
Node.js and PHP): the signature is `sha256=` + hex HMAC-SHA256(secret, "<X-Timestamp>." + raw body).
The answer's body goes to stdout; the status and whether it signed, to stderr. Exit status: 0 for a 2xx,
1 for any other answer, 2 when it could not ask (no URL, a refused connection, a timeout, a bad file).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

TIMEOUT_SECONDS = 30.0


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Timestamp": timestamp, "X-Signature": f"sha256={digest}"}


class CannotAsk(Exception):
    """Why no answer came: one line, said as what to do."""


def _url(raw: str) -> str:
    url = raw.strip()
    if not url:
        raise CannotAsk("no URL: make call URL=http://127.0.0.1:8000/ BODY='{...}' (make serve prints its URL)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CannotAsk(f"URL {url!r} is not an http:// or https:// URL")
    return url


def _body(inline: str | None, path: str | None) -> bytes:
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise CannotAsk(f"cannot read BODY_FILE {path}: {exc.strerror or type(exc).__name__}") from None
    if inline is None:
        raise CannotAsk("no body: give BODY='{...}' or BODY_FILE=path")
    return inline.encode("utf-8", "surrogateescape")


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> tuple[int, bytes]:
    """The answer's status and body; CannotAsk when there is none (refused, timed out, unresolvable)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise CannotAsk(f"nothing listens at {url} (connection refused): is make serve running?") from None
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise CannotAsk(f"{url} did not answer within {timeout:g} s") from None
        raise CannotAsk(f"cannot reach {url}: {reason}") from None
    except TimeoutError:
        raise CannotAsk(f"{url} did not answer within {timeout:g} s") from None
    except (OSError, ValueError) as exc:
        raise CannotAsk(f"cannot reach {url}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make call", description=__doc__)
    parser.add_argument("url", nargs="?", default="")
    parser.add_argument("body", nargs="?", help="the JSON body to post")
    parser.add_argument("--body-file", help="post this file's bytes instead")
    args = parser.parse_args(argv)
    try:
        url = _url(args.url)
        body = _body(args.body, args.body_file)
        secret = os.environ.get("REPORT_SIGNING_SECRET", "").split(",")[0].strip()
        if secret:
            headers = signed_headers(secret, body)
            print("# signed with REPORT_SIGNING_SECRET (X-Timestamp, X-Signature)", file=sys.stderr)
        else:
            headers = {"Content-Type": "application/json"}
            print("# REPORT_SIGNING_SECRET is not set: sending the request unsigned", file=sys.stderr)
        status, answer = post(url, body, headers)
    except CannotAsk as exc:
        print(f"make call: {exc}", file=sys.stderr)
        return 2
    print(f"# HTTP {status}", file=sys.stderr)
    print(answer.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())

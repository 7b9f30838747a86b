"""`make serve`: the function behind a local HTTP server, as SCF's Function URL would run it.

    PORT=8000 python -m local.serve          # then: curl -XPOST localhost:8000 -d '{"SerialNo": "5000:1"}'

Each HTTP request becomes the event a Function URL delivers (lower-cased
headers, `queryString`, `x-scf-remote-addr`, base64 for a body that is not
UTF-8 text) and `main_handler`'s integration response becomes the HTTP answer.
The SMS API is the embedded emulator, or `SMS_ENDPOINT` (see local/runtime.py).
Local only: it binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import errno
import json
import os
import socket
import sys
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.runtime import Refused, Target, import_handler, prepare
from sms_conversion import logs

Handler = Callable[[Any, Any], Any]
MAX_REQUEST_BYTES = 1024 * 1024


def function_url_event(method: str, target: str, headers: dict[str, str], body: bytes, client: str) -> dict[str, Any]:
    """The event SCF's Function URL delivers for one HTTP request."""
    parts = urlsplit(target)
    query: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        previous = query.get(name)
        if previous is None:
            # A bare flag (`?debug`) arrives as true, as on SCF.
            query[name] = value if value or f"{name}=" in parts.query else True
        else:
            query[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
    event: dict[str, Any] = {
        "httpMethod": method,
        "path": parts.path or "/",
        "headers": {**{name.lower(): value for name, value in headers.items()}, "x-scf-remote-addr": client},
        "queryString": query,
    }
    try:
        event["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        event["body"] = base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = True
    return event


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 resets a burst of concurrent callers (a load test, a retry storm).
    request_queue_size = 128
    handler: Handler
    context: Callable[[], dict[str, Any]]


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
        # and delayed ACKs add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            # Function URLs cap requests too; this one never reaches the function.
            self._answer(413, {"Content-Type": "application/json"}, b'{"error": "request too large"}')
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        event = function_url_event(self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
        try:
            response = self.server.handler(event, self.server.context())
        except Exception as exc:  # SCF answers a raised invocation with a 5xx of its own
            response = {"statusCode": 502, "headers": {}, "body": json.dumps({"error": type(exc).__name__})}
        status = response.get("statusCode", 502)
        payload = response.get("body", "")
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else str(payload).encode("utf-8")
        self._answer(int(status), {str(k): str(v) for k, v in (response.get("headers") or {}).items()}, data)

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def __getattr__(self, name: str) -> Any:
        # http.server looks up `do_<METHOD>`: every method goes to the function, which answers 405 itself.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


EXIT_CONFIG = 78  # a variable the function would refuse: nothing is served


def make_server(handler: Handler, context: Callable[[], dict[str, Any]], port: int = 0) -> _Server:
    server = _Server(("127.0.0.1", port), _RequestHandler)
    server.handler = handler
    server.context = context
    return server


def _not_ready(event: Any, context: Any) -> Any:
    raise RuntimeError("the handler is not loaded yet")


def _why(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the port is in use (another make serve?); choose another with PORT=..."
    return exc.strerror or type(exc).__name__


def access_banner(environ: Mapping[str, str]) -> str:
    """Who may call, as the function will decide it: signing and the push token, on or off."""
    secrets = [part for part in environ.get("REPORT_SIGNING_SECRET", "").split(",") if part.strip()]
    signing = (
        f"signing on ({len(secrets)} secret{'s' if len(secrets) > 1 else ''} in REPORT_SIGNING_SECRET)"
        if secrets
        else "signing off (REPORT_SIGNING_SECRET is not set: anyone may call)"
    )
    token = "push token on (CMQ_PUSH_TOKEN)" if environ.get("CMQ_PUSH_TOKEN", "").strip() else "push token off"
    return f"{signing}; {token}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make serve", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--real", action="store_true", help="call the real SMS API with your local credentials")
    args = parser.parse_args(argv)
    try:
        # The port first: a busy one is one clear line, before anything else starts.
        server = make_server(_not_ready, dict, args.port)
    except OSError as exc:
        print(f"make serve: cannot listen on 127.0.0.1:{args.port}: {_why(exc)}", file=sys.stderr)
        return 1
    try:
        target: Target = prepare(args.real)
    except Refused as exc:
        server.server_close()
        print(f"make serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    # The function's lines go to stderr (set once, for every request's thread): stdout is the server's.
    logs.write_to(sys.stderr)
    server.handler, server.context = import_handler(), target.context
    print(
        f"# serving the function at http://127.0.0.1:{server.server_address[1]}/ against {target.description}",
        f"# {access_banner(os.environ)}",
        sep="\n",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        target.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

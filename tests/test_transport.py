"""The bounded transport over real TLS (the real API is HTTPS; the emulator speaks plain HTTP)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from sms_conversion import transport

BODY = b'{"Response": {"RequestId": "tls"}}'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.flush()
        try:
            for index in range(len(BODY)):
                if self.path == "/trickle":
                    time.sleep(0.02)
                self.wfile.write(BODY[index : index + 1])
                self.wfile.flush()
        except OSError:
            self.close_connection = True


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", cert
    server.shutdown()
    server.server_close()


def session_with(budget: float) -> tuple[requests.Session, transport.BoundedAdapter]:
    session = requests.Session()
    adapter = transport.install(session, transport.BoundedAdapter())
    adapter.budget = budget
    return session, adapter


def test_a_whole_tls_answer_within_the_budget(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    session, adapter = session_with(5.0)
    response = session.get(url, verify=str(cert), timeout=5, stream=True)
    assert response.content == BODY
    assert adapter.last_status == 200
    assert adapter.last_failure is None


def test_a_trickling_tls_answer_is_cut_at_the_budget(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    session, adapter = session_with(0.2)
    started = time.monotonic()
    with pytest.raises(transport.CallTimedOut, match=r"0\.20 s budget"):
        session.get(f"{url}/trickle", verify=str(cert), timeout=5, stream=True)
    assert time.monotonic() - started < 0.6  # the whole body would take ~0.7 s
    assert isinstance(adapter.last_failure, transport.CallTimedOut)
    assert transport.is_transient(adapter.last_failure)


def test_the_http_status_and_a_certificate_failure_are_remembered(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    session, adapter = session_with(5.0)
    assert session.get(f"{url}/missing", verify=str(cert), timeout=5).status_code == 404
    assert adapter.last_status == 404
    with pytest.raises(requests.exceptions.SSLError):
        session.get(url, timeout=5)  # not the test CA: a permanent failure, not worth a retry
    assert not transport.is_transient(adapter.last_failure)


def test_finished_calls_leave_the_watchdog_together_not_one_wake_up_each() -> None:
    # On a warm instance every call leaves an entry; waking once per finished call (seconds later,
    # while other calls run) cost the GIL hundreds of times a second under load.
    watchdog = transport.Watchdog()
    for _ in range(40):
        finished = transport.Call()
        watchdog.watch(finished, 0.5)
        finished.done = True
        time.sleep(0.002)  # spread out in time, as one call after another is (within one budget)
    in_flight = transport.Call()
    watchdog.watch(in_flight, 0.5)
    waited = time.monotonic() + 5.0
    while not in_flight.expired and time.monotonic() < waited:
        time.sleep(0.01)
    assert in_flight.expired  # the one still running is cut all the same
    assert watchdog.wake_ups <= 5  # one per call before: 40

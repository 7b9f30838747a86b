"""The bounded transport over real TLS (the real API is HTTPS; the emulator speaks plain HTTP)."""

from __future__ import annotations

import contextlib
import shutil
import socket
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
from conftest import free_port

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


def connection_to(url: str, cafile: str, budget: float, proxy: str | None = None) -> transport.Connection:
    connection = transport.Connection(url, cafile=cafile, timeout=5.0, proxy=proxy)
    connection.budget = budget
    return connection


def test_a_whole_tls_answer_within_the_budget(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    connection = connection_to(url, str(cert), 5.0)
    response = connection.request("GET", url + "/", None, {})
    assert response.content == BODY
    assert response.headers.get("content-type") == "application/json"  # any case, as the SDK asks
    assert connection.last_status == 200
    assert connection.last_failure is None


def test_a_trickling_tls_answer_is_cut_at_the_budget(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    connection = connection_to(url, str(cert), 0.2)
    started = time.monotonic()
    with pytest.raises(transport.CallTimedOut, match=r"0\.20 s budget"):
        connection.request("GET", f"{url}/trickle", None, {})
    assert time.monotonic() - started < 0.6  # the whole body would take ~0.7 s
    assert isinstance(connection.last_failure, transport.CallTimedOut)
    assert transport.is_transient(connection.last_failure)


def test_the_http_status_and_a_certificate_failure_are_remembered(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    connection = connection_to(url, str(cert), 5.0)
    assert connection.request("GET", f"{url}/missing", None, {}).status_code == 404
    assert connection.last_status == 404
    import certifi

    stranger = connection_to(url, certifi.where(), 5.0)  # not the test CA: a permanent failure
    with pytest.raises(requests.exceptions.SSLError):
        stranger.request("GET", url + "/", None, {})
    assert not transport.is_transient(stranger.last_failure)


def test_a_host_name_that_is_not_the_certificates_is_refused(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    connection = connection_to(url.replace("127.0.0.1", "localhost"), str(cert), 5.0)
    with pytest.raises(requests.exceptions.SSLError):
        connection.request("GET", url.replace("127.0.0.1", "localhost") + "/", None, {})


def test_https_proxy_is_used_through_a_connect_tunnel(tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    with connect_proxy() as (proxy_url, tunnels):
        connection = connection_to(url, str(cert), 5.0, proxy=proxy_url)
        assert connection.request("GET", url + "/", None, {}).content == BODY
    assert tunnels == [url.removeprefix("https://")]


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


@contextlib.contextmanager
def connect_proxy() -> Iterator[tuple[str, list[str]]]:
    """A forward proxy that only tunnels (CONNECT), recording each target."""
    tunnels: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def pipe(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                head = b""
                while b"\r\n\r\n" not in head:
                    head += client.recv(4096)
                target = head.split(b" ")[1].decode()
                tunnels.append(target)
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", tunnels
    finally:
        listener.close()


class _Plain(BaseHTTPRequestHandler):
    """Plain HTTP; counts connections and requests; `/close-idle` answers, then closes the connection
    without saying so (a server's idle timeout); `/swallow` reads the request and closes unanswered."""

    protocol_version = "HTTP/1.1"
    connections = 0
    requests: list[str] = []  # noqa: RUF012 - reset per test

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).requests.append(self.path)
        if self.path == "/swallow":
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
        if self.path == "/close-idle":
            self.close_connection = True


@pytest.fixture
def plain_server() -> Iterator[str]:
    _Plain.connections, _Plain.requests = 0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_connection_serves_call_after_call(plain_server: str) -> None:
    connection = connection_to(plain_server, "", 5.0)
    for _ in range(20):
        assert connection.request("POST", plain_server + "/", "{}", {}).status_code == 200
    assert (_Plain.connections, len(_Plain.requests)) == (1, 20)


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(plain_server: str) -> None:
    connection = connection_to(plain_server, "", 5.0)
    connection.request("POST", plain_server + "/close-idle", "{}", {})
    time.sleep(0.05)  # the server's FIN arrives while the connection is idle
    assert connection.request("POST", plain_server + "/", "{}", {}).status_code == 200
    # Each request reached the server once: the stale connection was never written to.
    assert _Plain.requests == ["/close-idle", "/"]
    assert _Plain.connections == 2


def test_a_request_that_reached_the_server_is_never_sent_again(plain_server: str) -> None:
    connection = connection_to(plain_server, "", 5.0)
    connection.request("POST", plain_server + "/", "{}", {})
    with pytest.raises(requests.exceptions.ConnectionError):
        connection.request("POST", plain_server + "/swallow", "{}", {})
    assert transport.is_transient(connection.last_failure)
    assert _Plain.requests == ["/", "/swallow"]  # no silent resend: the reporter's policy decides


def test_the_sdk_resolves_https_proxy_and_no_proxy_and_the_transport_follows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tencentcloud.common.http.request import ProxyConnection

    monkeypatch.setenv("HTTPS_PROXY", "http://user:pa%40ss@proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = transport.Connection.replacing(ProxyConnection("sms.tencentcloudapi.com"), is_http=False)
    assert proxied.proxy == "http://user:pa%40ss@proxy.internal:3128"
    assert (proxied.scheme, proxied.host, proxied.port) == ("https", "sms.tencentcloudapi.com", 443)
    monkeypatch.setenv("NO_PROXY", "sms.tencentcloudapi.com")
    direct = transport.Connection.replacing(ProxyConnection("sms.tencentcloudapi.com"), is_http=False)
    assert direct.proxy is None


def test_a_refused_connection_is_transient_and_a_foreign_url_is_not(plain_server: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    connection = connection_to(nowhere, "", 5.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        connection.request("POST", nowhere + "/", "{}", {})
    assert transport.is_transient(connection.last_failure)
    with pytest.raises(requests.exceptions.InvalidURL):
        connection.request("POST", "http://elsewhere.example/", "{}", {})
    assert not transport.is_transient(connection.last_failure)


@contextlib.contextmanager
def canned(*answers: bytes, close: bool = False) -> Iterator[tuple[str, list[bytes]]]:
    """A server that reads each request and writes the next canned answer as is, then closes the connection
    if the answer says so (or has no length), or always with `close`."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            pending = list(answers)
            while pending:
                client, _ = listener.accept()
                with client:
                    while pending:
                        data = b""
                        while b"\r\n\r\n" not in data:
                            chunk = client.recv(65536)
                            if not chunk:
                                break
                            data += chunk
                        if not data:
                            break
                        received.append(data)
                        answer = pending.pop(0)
                        client.sendall(answer)
                        if close or any(mark in answer for mark in (b"Connection: close", b"HTTP/1.0")):
                            break
                        if b"Content-Length" not in answer and b"chunked" not in answer:
                            break

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        listener.close()


OK_JSON = b'{"Response": {"RequestId": "r"}}'


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n" + OK_JSON[:10] + b"\r\n" + f"{len(OK_JSON) - 10:x}".encode() + b";ext=1\r\n" + OK_JSON[10:] + b"\r\n"
        b"0\r\nTrailer: x\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(OK_JSON)).encode() + b"\r\n\r\n" + OK_JSON,
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + OK_JSON,
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(OK_JSON)).encode() + b"\r\n\r\n" + OK_JSON,
    ],
    ids=["chunked", "100-continue first", "HTTP/1.0 until close", "connection close"],
)
def test_every_way_an_http_1_answer_ends_is_read_whole(answer: bytes) -> None:
    with canned(answer, answer) as (url, received):
        connection = connection_to(url, "", 5.0)
        for _ in range(2):  # the second call after a close must reconnect, not fail
            response = connection.request("POST", url + "/", '{"a": 1}', {"Content-Type": "application/json"})
            assert (response.status_code, response.content) == (200, OK_JSON)
            assert response.headers.get("Content-Type") == "application/json"
    assert len(received) == 2
    assert received[0].startswith(b"POST / HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 8\r\n" in received[0]
    assert received[0].endswith(b'\r\n\r\n{"a": 1}')  # one write: headers and body together


@pytest.mark.parametrize(
    ("answer", "failure"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"Resp', requests.exceptions.ChunkedEncodingError),
        (b"garbage\r\n\r\n", requests.exceptions.ConnectionError),
        (b"", requests.exceptions.ConnectionError),
    ],
    ids=["truncated body", "not HTTP", "closed unanswered"],
)
def test_a_broken_answer_is_a_transient_failure(answer: bytes, failure: type[Exception]) -> None:
    with canned(answer, close=True) as (url, _):
        connection = connection_to(url, "", 5.0)
        with pytest.raises(failure):
            connection.request("POST", url + "/", "{}", {})
    assert transport.is_transient(connection.last_failure)


def test_a_header_with_a_line_break_is_never_sent() -> None:
    connection = connection_to("http://127.0.0.1:9", "", 5.0)
    with pytest.raises(requests.exceptions.InvalidURL, match="line break"):
        connection.request("POST", "http://127.0.0.1:9/", "{}", {"X-TC-Token": "a\r\nInjected: 1"})

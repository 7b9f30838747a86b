"""The transport on a hostile wire: never another call's answer, never a leaked socket, every failure classified
by its cause.

Each case reports one conversion through the real SDK, the transport and the classifier (the reporter) against a
local peer that misbehaves as real networks, gateways and middleboxes do (tests/wire.py), and asserts three things:
the outcome and its classification, how many requests the peer received, and the client's open sockets to it
afterwards.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wire import Hostile, Peer, answer, api_body, gzipped, hostile, make_certificate

from sms_conversion import transport
from sms_conversion.classifier import Kind
from sms_conversion.clock import Deadline, SystemClock
from sms_conversion.message import ConversionMessage
from sms_conversion.outcome import Outcome, Status
from sms_conversion.reporter import ClientPool, ConversionReporter
from sms_conversion.settings import ConfigurationError, Endpoint

ATTEMPTS = 2
MESSAGE = ConversionMessage(SmsSdkAppId="1400006666", SerialNo="5000:wire-1")


class _Key:
    def get_credential_info(self) -> tuple[str, str, str | None]:
        return ("AKIDwiretest0000000000000000000000001", "wire-test-secret-key-00000000001", None)


def trusting(cafile: str | None) -> transport.TransportFactory:
    """The real transport, trusting `cafile` instead of the SDK's bundle (certifi) when given."""

    def factory(sdk_connection: Any, is_http: bool) -> transport.Transport:
        connection = transport.Connection.replacing(sdk_connection, is_http)
        if cafile is not None:
            connection.cafile = cafile
        return connection

    return factory


class Report:
    """One conversion reported to `host:port`; the pool stays open so its kept-alive socket can be counted."""

    def __init__(
        self,
        port: int,
        scheme: str = "http",
        cafile: str | None = None,
        host: str = "127.0.0.1",
        timeout: float = 2.0,
        seconds: float = 5.0,
        attempts: int = ATTEMPTS,
        calls: int = 1,
    ) -> None:
        clock = SystemClock()
        self.pool = ClientPool(_Key(), Endpoint(scheme, f"{host}:{port}"), "ap-guangzhou", "en-US", trusting(cafile))
        reporter = ConversionReporter(self.pool, clock, timeout, attempts, backoff_seconds=0.01)
        started = time.monotonic()
        self.outcomes: list[Outcome] = []
        for _ in range(calls):
            deadline = Deadline(clock, clock.monotonic() + seconds, clock.monotonic() + seconds + 1)
            self.outcomes.append(reporter.report(MESSAGE, deadline, True, lambda: None))
        self.seconds = time.monotonic() - started
        self.outcome = self.outcomes[-1]

    def close(self) -> None:
        self.pool.close()


def reported(outcome: Outcome) -> bool:
    return outcome.status is Status.REPORTED


def retried_and_failed(outcome: Outcome, words: str) -> bool:
    """A transient failure: retried to the last attempt, failed (redelivered), not a deployment fault."""
    return (
        outcome.status is Status.FAILED
        and outcome.fault is None
        and outcome.code == "ClientNetworkError"
        and outcome.attempts == ATTEMPTS
        and words in (outcome.message or "")
    )


def a_deployment_fault(outcome: Outcome, words: str) -> bool:
    """No retry fixes it: one attempt, the fault stops the reporting, the words name the cause."""
    return outcome.fault is not None and outcome.attempts == 1 and words in (outcome.message or "")


# ---- framing: an answer belongs to its call ----------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (answer() + answer("r-stale"), "more bytes followed the answer"),
        (answer(headers=b"Content-Length: 7\r\n"), "conflicting Content-Length"),
        (answer(headers=b"Transfer-Encoding: chunked\r\n"), "both Transfer-Encoding and Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n{}\r\n0\r\n\r\n",
            "malformed chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n",
            "not followed by CRLF",
        ),
        (answer(status="\u00b200 OK".encode()), "not an HTTP/1.x status line"),
        (answer(status=b"20 OK"), "not an HTTP/1.x status line"),
        (answer(headers=b"X-Folded: a\r\n b\r\n"), "obs-fold"),
        (answer(headers=b"Bad Name: x\r\n"), "not a header field"),
        (answer(headers=b"X-Big: " + b"a" * 70_000 + b"\r\n"), "head over"),
        (answer(headers=b"".join(b"X-%d: v\r\n" % n for n in range(101))), "more than 100 header fields"),
        (answer(headers=b"Content-Encoding: br\r\n"), "content coding this client did not ask for"),
        (answer(headers=b"Content-Encoding: gzip\r\n"), "does not decode"),
        (answer(status=b"101 Switching Protocols"), "101 Switching Protocols"),
    ],
    ids=[
        "a-second-answer-follows",
        "conflicting-lengths",
        "length-and-chunked",
        "bad-chunk-size",
        "chunk-without-crlf",
        "non-ascii-digit",
        "two-digit-status",
        "obs-fold",
        "space-in-a-name",
        "huge-header",
        "too-many-headers",
        "unknown-coding",
        "not-really-gzip",
        "switching-protocols",
    ],
)
def test_an_answer_that_is_not_one_valid_http_answer_is_never_reported_on(reply: bytes, words: str) -> None:
    def script(peer: Peer, number: int) -> None:
        while peer.request() is not None:
            peer.send(reply)

    with hostile(script) as server:
        report = Report(server.port)
        assert retried_and_failed(report.outcome, words), report.outcome
        assert server.requests == ATTEMPTS  # asked again, on purpose (the retry policy), never silently
        assert server.open_sockets() == 0  # each discarded at once
        report.close()


def test_bytes_arriving_while_idle_are_never_taken_for_the_next_calls_answer() -> None:
    def script(peer: Peer, number: int) -> None:
        first = True
        while peer.request() is not None:
            peer.send(answer(f"r-{number}-{server.requests}"))
            if first and number == 1:
                time.sleep(0.05)
                peer.send(answer("r-stale"))  # a second answer nobody asked for, after the first
            first = False

    with hostile(script) as server:
        connection = transport.Connection(f"http://127.0.0.1:{server.port}", cafile="")
        one = connection.request("POST", f"http://127.0.0.1:{server.port}/", "{}", {})
        time.sleep(0.1)
        two = connection.request("POST", f"http://127.0.0.1:{server.port}/", "{}", {})
        assert b"r-1-1" in one.content
        assert b"r-2-2" in two.content  # its own answer, on a new connection: never r-stale
        assert (server.connections, server.requests) == (2, 2)
        assert server.open_sockets() == 1  # the second, kept alive
        connection.close()
        assert server.open_sockets() == 0


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + answer(),
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"5;name=value\r\n"
        + api_body()[:5]
        + b"\r\n"
        + f"{len(api_body()) - 5:x}".encode()
        + b"\r\n"
        + api_body()[5:]
        + b"\r\n0\r\nX-Trailer: t\r\n\r\n",
        answer(headers=b"Content-Encoding: gzip\r\n", body=gzipped()),
        answer(headers=b"Content-Encoding: deflate\r\n", body=zlib.compress(api_body())),
        answer(headers=b"Content-Length: " + str(len(api_body())).encode() + b"\r\n"),  # a repeated, equal length
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + api_body(),
    ],
    ids=["interim-1xx", "chunk-extensions-and-trailers", "gzip", "deflate", "equal-lengths", "http-1.0-until-close"],
)
def test_every_valid_way_an_answer_is_framed_is_reported(reply: bytes) -> None:
    def script(peer: Peer, number: int) -> None:
        while peer.request() is not None:
            peer.send(reply)
            if reply.startswith(b"HTTP/1.0"):
                return  # the body ends with the connection

    with hostile(script) as server:
        report = Report(server.port)
        assert reported(report.outcome), report.outcome
        assert report.outcome.attempts == 1
        assert server.requests == 1
        assert server.open_sockets() == (0 if reply.startswith(b"HTTP/1.0") else 1)
        report.close()
        assert server.open_sockets() == 0


# ---- sockets: closed the moment they are done ---------------------------------------------------------


@pytest.mark.parametrize("ending", ["connection-close", "read-then-close", "reset-after-request", "reset-at-once"])
def test_every_way_a_connection_ends_leaves_no_socket_behind(ending: str) -> None:
    def script(peer: Peer, number: int) -> None:
        if ending == "reset-at-once":
            peer.reset()
            return
        if peer.request() is None:
            return
        if ending == "connection-close":
            peer.send(answer(headers=b"Connection: close\r\n"))
        elif ending == "reset-after-request":
            peer.reset()
        # read-then-close: the connection ends with no answer

    with hostile(script) as server:
        report = Report(server.port, calls=20)
        if ending == "connection-close":
            assert all(reported(outcome) for outcome in report.outcomes)
            assert server.requests == 20
        else:
            words = "reset" if ending.startswith("reset") else "without answering"
            assert all(retried_and_failed(outcome, words) for outcome in report.outcomes), report.outcome
            assert server.requests == (0 if ending == "reset-at-once" else 20 * ATTEMPTS)
        assert server.open_sockets() == 0  # never a CLOSE_WAIT left for the garbage collector
        report.close()


def test_ten_thousand_calls_of_closes_failures_and_reconnects_hold_at_most_one_socket_per_client() -> None:
    """SCF gives an instance 1,024 descriptors: 4 clients (SMS_CONCURRENCY 4) over 10,000 calls against a peer
    that closes, resets, answers garbage or keeps alive in turn must never hold more than 4 sockets."""

    def script(peer: Peer, number: int) -> None:
        while peer.request() is not None:
            kind = server.requests % 5
            if kind == 0:
                peer.send(answer(headers=b"Connection: close\r\n"))
                return
            if kind == 1:
                return  # closed unanswered
            if kind == 2:
                peer.reset()
                return
            if kind == 3:
                peer.send(b"garbage\r\n\r\n")
                return
            peer.send(answer())

    most = 0
    with hostile(script) as server:
        connections = [transport.Connection(f"http://127.0.0.1:{server.port}", cafile="") for _ in range(4)]

        odd: list[BaseException] = []

        def calls(connection: transport.Connection) -> None:
            for _ in range(2500):
                try:
                    connection.request("POST", f"http://127.0.0.1:{server.port}/", "{}", {})
                except Exception as exc:  # every failure must be one the transport names, and transient
                    if not transport.is_transient(exc):
                        odd.append(exc)

        threads = [threading.Thread(target=calls, args=(connection,)) for connection in connections]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            most = max(most, server.open_sockets())
            time.sleep(0.005)
        assert server.requests == 10_000
        assert odd == []
        assert most <= 4
        for connection in connections:
            connection.close()
        assert server.open_sockets() == 0


def test_a_warm_instance_that_changes_endpoint_closes_the_old_pool_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from sms_conversion.instance import WarmInstance
    from sms_conversion.settings import load_settings

    with hostile(lambda peer, number: peer.serve(lambda n: answer(f"r-{n}"))) as first:
        instance = WarmInstance(credential=_Key(), environ={})
        pool = instance.client_pool(load_settings({"SMS_ENDPOINT": f"http://127.0.0.1:{first.port}"}))
        with pool.lease() as client:
            client.transport.request("POST", f"http://127.0.0.1:{first.port}/", "{}", {})
        assert first.open_sockets() == 1
        instance.client_pool(load_settings({"SMS_ENDPOINT": "http://127.0.0.1:9", "SMS_REGION": "ap-singapore"}))
        assert first.open_sockets() == 0


def test_the_watchdog_never_shuts_a_connection_whose_call_has_finished() -> None:
    left, right = __import__("socket").socketpair()
    call = transport.Call(0.0)
    call.attach(left)
    call.finish()  # the call ended at its budget, a moment before the watchdog looked
    call.expire()
    right.sendall(b"x")
    assert left.recv(1) == b"x"  # still open: the next call may be using it
    assert not call.expired
    left.close()
    right.close()


# ---- the budget covers the whole call -------------------------------------------------------------------


def test_an_answer_dripping_a_byte_at_a_time_is_cut_at_the_budget() -> None:
    def script(peer: Peer, number: int) -> None:
        while peer.request() is not None:
            peer.drip(answer(), 0.05)

    with hostile(script) as server:
        report = Report(server.port, timeout=0.3, seconds=1.0, attempts=1)
        assert report.outcome.status is Status.FAILED
        assert "budget" in (report.outcome.message or "")
        assert report.seconds < 1.5  # the whole answer would take 10 s; each byte came within the 0.3 s timeout
        assert server.requests == 1
        assert server.open_sockets() == 0
        report.close()


def test_a_proxy_answering_connect_a_byte_every_half_second_is_cut_at_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def proxy(peer: Peer, number: int) -> None:
        peer.request()
        peer.drip(b"HTTP/1.1 200 Connection established\r\n\r\n", 0.5)

    with hostile(proxy) as server:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.port}")
        report = Report(443, scheme="https", host="sms.tencentcloudapi.com", timeout=2.0, seconds=2.5, attempts=1)
        assert report.outcome.status is Status.FAILED
        assert report.seconds < 3.0  # per-read timeouts alone: 19.5 s
        assert "budget" in (report.outcome.message or "") or "time" in (report.outcome.message or "")
        assert server.open_sockets() == 0


# ---- TLS: each failure by its cause, in words -----------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("wire-tls"))


def tls_server(cert: tuple[Path, Path], before: Any = None) -> Iterator[Hostile]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)

    def script(peer: Peer, number: int) -> None:
        if before is not None and before(peer, number):
            return
        peer.tls(context)
        peer.serve(lambda n: answer(f"r-{n}"))

    return hostile(script)  # type: ignore[return-value]


def test_a_fin_during_the_tls_handshake_is_transient_and_retried(certificate: tuple[Path, Path]) -> None:
    def fin_on_the_first(peer: Peer, number: int) -> bool:
        if number == 1:
            peer.sock.close()
            return True
        return False

    with tls_server(certificate, fin_on_the_first) as server:  # type: ignore[attr-defined]
        report = Report(server.port, scheme="https", cafile=str(certificate[0]))
        assert reported(report.outcome), report.outcome
        assert report.outcome.attempts == 2
        assert (server.connections, server.requests) == (2, 1)
        assert server.open_sockets() == 1
        report.close()


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("self-signed", "certificate verify failed: self-signed certificate"),
        ("host-name", "certificate verify failed: Hostname mismatch"),
        ("plain-port", "TLS: wrong version number"),
    ],
)
def test_a_tls_failure_no_retry_fixes_is_a_deployment_fault_named_in_words(
    how: str, words: str, certificate: tuple[Path, Path]
) -> None:
    if how == "plain-port":
        # A plain HTTP server (nginx, say) answers the ClientHello's bytes as a bad request, at once.
        def plain(peer: Peer, number: int) -> None:
            peer.sock.recv(65536)
            peer.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        server_context: Any = hostile(plain)
    else:
        server_context = tls_server(certificate)
    with server_context as server:
        cafile = None if how == "self-signed" else str(certificate[0])  # the SDK's bundle does not know ours
        host = "localhost" if how == "host-name" else "127.0.0.1"
        report = Report(server.port, scheme="https", cafile=cafile, host=host)
        assert a_deployment_fault(report.outcome, words), report.outcome
        assert report.outcome.fault is not None
        assert Kind.DEPLOYMENT_FAULT
        assert server.requests == 0
        assert server.open_sockets() == 0


def test_a_refused_protocol_version_is_a_deployment_fault(certificate: tuple[Path, Path]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    client = transport.tls_context(str(certificate[0]))
    if client.maximum_version not in (ssl.TLSVersion.MAXIMUM_SUPPORTED, ssl.TLSVersion.TLSv1_3):
        pytest.fail("the client context should allow TLS 1.3")

    def script(peer: Peer, number: int) -> None:
        peer.tls(context)
        peer.serve(lambda n: answer())

    # The server insists on TLS 1.3; a client limited to 1.2 is refused by version (as a server limited to an old
    # version refuses ours).
    limited = ssl.create_default_context(cafile=str(certificate[0]))
    limited.maximum_version = ssl.TLSVersion.TLSv1_2
    transport._contexts[str(certificate[0]) + "#tls12"] = limited
    with hostile(script) as server:
        report = Report(server.port, scheme="https", cafile=str(certificate[0]) + "#tls12")
        assert a_deployment_fault(report.outcome, "TLS: tlsv1 alert protocol version"), report.outcome
        assert server.requests == 0
        assert server.open_sockets() == 0
    del transport._contexts[str(certificate[0]) + "#tls12"]


# ---- proxies as users set them --------------------------------------------------------------------------


def test_http_proxy_credentials_are_sent_for_an_http_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    def proxy(peer: Peer, number: int) -> None:
        while (head := peer.request()) is not None:
            authorized = b"proxy-authorization: basic dxnlcjpwqhnz" in head.lower()
            peer.send(answer() if authorized and b"POST http://" in head else answer(status=b"407 Need Auth"))

    with hostile(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{server.port}")
        report = Report(9, scheme="http", host="10.255.255.1")  # only the proxy is reachable
        assert reported(report.outcome), report.outcome
        assert server.requests == 1
        report.close()


def test_a_proxy_asking_for_credentials_is_a_deployment_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    def proxy(peer: Peer, number: int) -> None:
        peer.request()
        peer.send(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

    with hostile(proxy) as server:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.port}")
        report = Report(443, scheme="https", host="sms.tencentcloudapi.com")
        assert a_deployment_fault(report.outcome, "the proxy asked for credentials (407)"), report.outcome
        assert server.open_sockets() == 0


@pytest.mark.parametrize(
    ("variable", "url", "words"),
    [
        ("HTTPS_PROXY", "https://proxy.internal:3128", "HTTPS_PROXY: an https:// proxy"),
        ("https_proxy", "socks5://proxy.internal:1080", "https_proxy: a SOCKS proxy is not supported"),
        ("HTTPS_PROXY", "ftp://proxy.internal", "HTTPS_PROXY: not a proxy URL"),
    ],
)
def test_a_proxy_the_transport_cannot_use_is_one_configuration_line_naming_the_variable(
    variable: str, url: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, url)
    with pytest.raises(ConfigurationError, match=words):
        ClientPool(_Key(), Endpoint("https", "sms.tencentcloudapi.com"), "ap-guangzhou", "en-US")
    monkeypatch.setenv("NO_PROXY", "sms.tencentcloudapi.com")  # as the SDK reads it: then no proxy at all
    ClientPool(_Key(), Endpoint("https", "sms.tencentcloudapi.com"), "ap-guangzhou", "en-US")


def test_no_environment_proxy_is_read_by_these_tests() -> None:
    assert not any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"))


def test_a_connection_closed_while_idle_is_replaced_and_never_written_to() -> None:
    def script(peer: Peer, number: int) -> None:
        if peer.request() is not None:
            peer.send(answer(f"r-{number}"))  # kept alive, says the answer; then the server's idle timeout
        # the connection ends here, unannounced

    with hostile(script) as server:
        report = Report(server.port, calls=1)
        time.sleep(0.05)  # the FIN arrives while the connection is idle
        assert server.open_sockets() == 1  # in CLOSE_WAIT until the next call looks at it
        clock = SystemClock()
        reporter = ConversionReporter(report.pool, clock, 2.0, ATTEMPTS, backoff_seconds=0.01)
        deadline = Deadline(clock, clock.monotonic() + 5, clock.monotonic() + 6)
        outcome = reporter.report(MESSAGE, deadline, True, lambda: None)
        assert reported(outcome)
        assert outcome.attempts == 1  # no failed attempt: the stale connection was closed before sending
        assert (server.connections, server.requests) == (2, 2)
        time.sleep(0.05)
        assert server.open_sockets() == 1  # the second one's, once its own FIN is read: never two
        report.close()
        assert server.open_sockets() == 0


def test_a_proxy_the_function_cannot_use_is_a_misconfiguration_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, scf_env: Any
) -> None:
    from conftest import body_of, http_event, scf_context

    from sms_conversion.handler import Application

    monkeypatch.setenv("SMS_ENDPOINT", "sms.tencentcloudapi.com")
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:proxy-secret-1@proxy.internal:1080")
    response = Application().handle(http_event({"SerialNo": "p-1"}), scf_context())
    assert response["statusCode"] == 500
    error = body_of(response)["Error"]
    assert error["Code"] == "InternalError.Misconfiguration"
    assert "HTTPS_PROXY: a SOCKS proxy is not supported" in error["Message"]
    assert "proxy-secret-1" not in response["body"]

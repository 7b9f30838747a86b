"""The SDK's HTTP transport: one keep-alive HTTP/1.1 connection per SDK client, each call bounded as a whole.

The SDK builds, signs and parses every request; beneath it, its request layer calls one object,
`conn.request(method, url, body, headers)`, which is a `requests.Session` wrapper. `Connection` stands in that
place. Under a CPU share (SCF gives a 128 MB function about a twelfth of a core) the `requests` machinery was
most of a call's CPU (bench/RESULTS.md, "per CPU share"). This module owns sockets, TLS, proxies and the
budget; where an answer starts and ends is `framing`'s alone.

Its promises (each pinned by tests/function/test_hostile_wire.py or test_transport.py):
- **An answer belongs to its call.** A connection is reused only when nothing is left of the last exchange,
  neither in this module's buffer nor on the socket (TLS's own buffer included); an answer followed at once by
  more bytes, or whose framing is ambiguous (see `framing`), is a failure and is never reported on.
- **Every socket is closed the moment it is done**: after a `Connection: close` answer, on any failure, when
  the watchdog expires a call, and when a warm instance changes endpoint or region (`ClientPool.close`). An
  instance holds at most one socket per SDK client (`SMS_CONCURRENCY`).
- **The budget covers the whole call**: connecting, the proxy's CONNECT, the TLS handshake, sending and the
  answer. Each step's socket timeout is what is left of the budget (at most the SDK's timeout), and a
  watchdog shuts the socket when the budget is spent, so an answer trickling in a byte at a time cannot hold
  the invocation. The name's resolution is the system resolver's (glibc: `options timeout` x `attempts` per
  nameserver in /etc/resolv.conf) and cannot be interrupted; it happens once per new connection, and a call
  that spent its budget resolving fails at the next step. The watchdog never shuts a connection once its call
  has finished (a lock orders the two), so a kept-alive connection is never cut under the next call.
- **Failures are classified here, by their cause, in words** (`failure_of`): a certificate that does not
  verify, a host name it does not cover, a refused protocol version, a port that does not speak TLS, or a
  proxy refusing us is not transient (a deployment fault: no retry fixes it); a timeout, a refused or reset
  connection, an EOF in the handshake, an unreadable, malformed or truncated answer is transient (retried
  within the deadline by the reporter's policy).
- **Proxies as the SDK resolves them**: `HTTPS_PROXY` for the https endpoint (`HTTP_PROXY` for an http one)
  unless `NO_PROXY` holds the host (the SDK's own substring test); credentials in the URL become
  `Proxy-Authorization`, on the CONNECT for https and on each request for http. An `https://` proxy (TLS to the
  proxy itself) and SOCKS are refused as a configuration error naming the variable.
- A request is sent a second time only when it cannot have reached the server: the idle connection is found
  closed before sending, or sending itself fails on a reused connection. Once sent, any failure is the
  reporter's to judge (its retry policy), never a silent resend that could report a conversion twice.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import itertools
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from requests import exceptions

from . import framing
from .framing import Headers
from .settings import ConfigurationError

__all__ = ["Headers"]


# ---- how a call ends, as the classifier knows it ---------------------------------------------------------


class CallTimedOut(exceptions.Timeout):
    """The whole call ran past its budget."""

    transient = True


class ConnectTimeout(exceptions.ConnectTimeout):
    transient = True


class ReadTimeout(exceptions.ReadTimeout):
    transient = True


class NetworkError(exceptions.ConnectionError):
    """Refused, reset or closed: the network, which a retry may fix."""

    transient = True


class UnreadableAnswer(exceptions.ConnectionError):
    """Bytes came back that are not one whole, unambiguous HTTP/1.1 answer."""

    transient = True


class TruncatedAnswer(exceptions.ChunkedEncodingError):
    transient = True


class TlsRefused(exceptions.SSLError):
    """The TLS handshake cannot succeed: certificate, host name, protocol version, or no TLS at that port."""

    transient = False


class TlsDropped(exceptions.SSLError):
    """The handshake was cut (EOF, reset): the network, which a retry may fix."""

    transient = True


class ProxyRefused(exceptions.ProxyError):
    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class InvalidURL(exceptions.InvalidURL):
    """A request this transport will not send (a header with a line break, a URL on another host)."""

    transient = False


# TLS reasons (OpenSSL's) that no retry fixes: the peer and we cannot agree, or it is not TLS at all.
_TLS_PERMANENT = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",
        "TLSV1_ALERT_PROTOCOL_VERSION",
        "NO_PROTOCOLS_AVAILABLE",
        "WRONG_VERSION_NUMBER",
        "WRONG_SSL_VERSION",
        "SSLV3_ALERT_HANDSHAKE_FAILURE",
        "NO_SHARED_CIPHER",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
        "TLSV1_ALERT_UNKNOWN_CA",
        "HTTP_REQUEST",
        "UNKNOWN_PROTOCOL",
    }
)


def failure_of(exc: BaseException, expired: bool, sent: bool, budget: float) -> exceptions.RequestException:
    """The one classification of how a call failed: a requests exception (what the classifier knows) whose
    `transient` says whether a retry can help and whose text names the cause in words."""
    if expired:
        return CallTimedOut(f"the call took longer than its {budget:.2f} s budget")
    if isinstance(exc, exceptions.RequestException):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TlsRefused(f"certificate verify failed: {exc.verify_message or exc.reason}")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return TlsDropped("TLS handshake: the server closed the connection")
    if isinstance(exc, ssl.SSLError):
        reason = str(exc.reason or "")
        words = reason.replace("_", " ").lower() or exc.__class__.__name__
        if reason in _TLS_PERMANENT:
            return TlsRefused(f"TLS: {words}")
        return TlsDropped(f"TLS: {words}")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return ReadTimeout("the API did not answer in time") if sent else ConnectTimeout("connect timed out")
    if isinstance(exc, framing.Truncated):
        return TruncatedAnswer(f"the answer ended early: {exc}")
    if isinstance(exc, framing.ProtocolFailure):
        return UnreadableAnswer(f"not one valid HTTP/1.1 answer: {exc}")
    if isinstance(exc, framing.NoAnswer):
        return NetworkError("the server closed the connection without answering")
    if isinstance(exc, (ValueError, UnicodeError)):
        return InvalidURL(str(exc))
    if isinstance(exc, OSError):
        return NetworkError(exc.strerror or type(exc).__name__)
    return NetworkError(type(exc).__name__)


def is_transient(failure: BaseException | None) -> bool:
    """A failure worth retrying (see `failure_of`)."""
    if failure is None:
        return True  # nothing recorded: assume the network, which a retry may fix
    return bool(getattr(failure, "transient", not isinstance(failure, exceptions.SSLError)))


# ---- the whole-call budget ----------------------------------------------------------------------------


class Call:
    """One call in flight: its deadline, the socket it uses, and whether the budget ran out.

    `attach`, `expire` and `finish` hold one lock, so a call that finished at its budget is never expired
    afterwards: the watchdog cannot shut a connection the next call has taken."""

    __slots__ = ("_lock", "_sock", "deadline", "done", "expired")

    def __init__(self, budget: float = 5.0) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.deadline = time.monotonic() + budget
        self.expired = False
        self.done = False

    def attach(self, sock: socket.socket) -> None:
        """From here the watchdog can shut `sock` (a socket, or the TLS socket that replaced it)."""
        with self._lock:
            if self.done:
                return
            self._sock = sock
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self._sock = None

    def step(self, timeout: float) -> float:
        """The timeout for the next socket operation: what is left of the budget, at most `timeout`."""
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError("the budget is spent")
        return min(timeout, left)


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown (not SSLSocket's, which drops its TLS object under the reading thread):
    # the blocked read or write returns at once, and the owner closes the socket.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread for every call's budget: cheaper per call than a timer thread each.

    A finished call is only marked done (no wake-up); when the earliest entry is due and done, every done
    entry leaves the heap at once, so the thread wakes about twice per budget, not once per call. It is woken
    early only when a new entry is due before every other one.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Call]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.wake_ups = 0  # times the thread woke from a wait: what a busy machine pays for the watchdog

    def watch(self, call: Call, budget: float) -> None:
        entry = (time.monotonic() + budget, next(self._order), call)
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="call-watchdog", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                    self.wake_ups += 1
                at, _, call = self._heap[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    self.wake_ups += 1
                    continue
                if call.done:
                    # Finished calls leave all at once (not before they are due: an empty heap would make
                    # every next call wake the thread).
                    self._heap = [entry for entry in self._heap if not entry[2].done]
                    heapq.heapify(self._heap)
                    continue
                heapq.heappop(self._heap)
            call.expire()  # a no-op if the call finished meanwhile (Call's lock)


_watchdog = Watchdog()


# ---- the answer, as the SDK reads it --------------------------------------------------------------------


class Response:
    """An answer, with what the SDK reads of one (`status_code`, `headers`, `content`; `text`, `reason`
    and `raw.version` for its DEBUG formatter)."""

    __slots__ = ("content", "headers", "reason", "status_code", "version")

    def __init__(self, status_code: int, reason: str, headers: Headers, content: bytes, version: int) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.content = content
        self.version = version

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @property
    def raw(self) -> Response:
        return self

    def iter_lines(self) -> Iterator[bytes]:
        return iter(self.content.splitlines())


class Transport(Protocol):
    """What the SDK's request layer calls, and what the reporter reads back after a call."""

    timeout: float
    budget: float
    request_length: int
    last_status: int | None
    last_failure: BaseException | None
    last_reused: bool  # whether the last call went out on a kept-alive connection (said at DEBUG)
    last_resolve_ms: float | None  # the name's resolution for a connection it opened (the step no budget bounds)

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any: ...

    def close(self) -> None: ...


# ---- one socket and its read buffer: framing's Source ----------------------------------------------------


class _Wire:
    """An open socket and the bytes read from it that no answer has used yet."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def head(self, limit: int) -> bytes:
        searched = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n", max(0, searched - 3))
            if end >= 0:
                if end + 4 > limit:
                    raise framing.ProtocolFailure(f"an answer head over {limit} bytes")
                return self._take(end + 4)
            if len(self.buffer) > limit:
                raise framing.ProtocolFailure(f"an answer head over {limit} bytes")
            searched = len(self.buffer)
            if not self._fill():
                if not self.buffer:
                    raise framing.NoAnswer("the connection closed before an answer")
                raise framing.Truncated("the connection closed inside the answer's head")

    def line(self, limit: int) -> bytes:
        searched = 0
        while True:
            end = self.buffer.find(b"\r\n", max(0, searched - 1))
            if end >= 0:
                if end + 2 > limit:
                    raise framing.ProtocolFailure(f"a line over {limit} bytes")
                return self._take(end + 2)
            if len(self.buffer) > limit:
                raise framing.ProtocolFailure(f"a line over {limit} bytes")
            searched = len(self.buffer)
            if not self._fill():
                raise framing.Truncated("the connection closed inside a chunked body")

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise framing.Truncated(f"{len(self.buffer)} of {size} bytes")
        return self._take(size)

    def rest(self, limit: int) -> bytes:
        while self._fill():
            if len(self.buffer) > limit:
                raise framing.ProtocolFailure(f"a body over {limit} bytes")
        return self._take(len(self.buffer))

    def leftover(self) -> bool:
        """Bytes past the last answer: in this buffer, in TLS's, or on the socket (the server spoke, or closed)."""
        if self.buffer:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


# ---- proxies ----------------------------------------------------------------------------------------------


class Proxy:
    """An HTTP proxy from HTTPS_PROXY / HTTP_PROXY: where it is, and its credentials as a header."""

    __slots__ = ("authorization", "host", "port")

    def __init__(self, url: str, variable: str) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        scheme = parts.scheme.lower()
        if scheme.startswith("socks"):
            raise ConfigurationError(
                f"invalid configuration: {variable}: a SOCKS proxy is not supported: use an HTTP proxy, "
                "http://host:port (the API's TLS goes through it end to end)"
            )
        if scheme == "https":
            raise ConfigurationError(
                f"invalid configuration: {variable}: an https:// proxy (TLS to the proxy itself) is not supported: "
                "use http://host:port (the API's TLS goes through it end to end)"
            )
        try:
            port = parts.port or 80
        except ValueError:
            port = 0
        if scheme != "http" or not parts.hostname or not port:
            raise ConfigurationError(f"invalid configuration: {variable}: not a proxy URL such as http://host:port")
        self.host, self.port = parts.hostname, port
        self.authorization: str | None = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.authorization = "Basic " + base64.b64encode(credentials).decode("ascii")


def proxy_variable(is_http: bool) -> str:
    """The variable the SDK reads the proxy from for this kind of endpoint, spelled as it is set."""
    name = "HTTP_PROXY" if is_http else "HTTPS_PROXY"
    return name.lower() if os.environ.get(name.lower()) else name


def check_proxy(host: str, is_http: bool) -> None:
    """ConfigurationError, naming the variable, for a proxy this transport cannot use (as the SDK resolves it)."""
    from tencentcloud.common.http.request import _get_proxy_from_env

    variable = proxy_variable(is_http)
    url = _get_proxy_from_env(host, varname=variable.upper())
    if url:
        Proxy(url, variable)


# ---- the connection -------------------------------------------------------------------------------------


# The proxy's answers to CONNECT (RFC 9110 numbers, not the function's).
_TUNNEL_OPEN = 200
_PROXY_AUTHENTICATION_REQUIRED = 407
_PROXY_FAULT = 500  # and above: the proxy's own trouble, which may pass

_contexts: dict[str, ssl.SSLContext] = {}
_contexts_lock = threading.Lock()


def tls_context(cafile: str) -> ssl.SSLContext:
    """A client context verifying certificates against `cafile` and host names (one per bundle: loading
    a CA bundle costs milliseconds, so every connection of a warm instance shares it)."""
    with _contexts_lock:
        context = _contexts.get(cafile)
        if context is None:
            context = ssl.create_default_context(cafile=cafile)
            _contexts[cafile] = context
        return context


class Connection:
    """A keep-alive connection to one endpoint, in the place of the SDK's `requests` session.

    One SDK client uses it from one thread at a time (the client pool's lease), so it holds at most one
    socket and needs no lock of its own.
    """

    def __init__(
        self,
        url: str,
        cafile: str,
        timeout: float = 60.0,
        proxy: str | None = None,
        request_host: str = "",
        proxy_variable: str = "HTTPS_PROXY",
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.request_host = request_host or parts.netloc
        self.cafile = cafile
        self.proxy = proxy
        self._proxy = Proxy(proxy, proxy_variable) if proxy else None
        self.timeout = timeout  # each socket operation at most: the SDK's request timeout
        self.budget = 5.0  # the whole call
        self.request_length = 0  # the SDK reads it after each call
        self.last_status: int | None = None
        self.last_failure: BaseException | None = None
        self.last_reused = False
        self.last_resolve_ms: float | None = None
        self._idle: _Wire | None = None
        self._paths: dict[str, str] = {}

    @classmethod
    def replacing(cls, sdk_connection: Any, is_http: bool) -> Connection:
        """Built from the SDK's own connection object: its host, CA bundle, timeout and resolved proxy."""
        proxies = getattr(sdk_connection, "proxy", None)
        proxy = proxies.get("https") if isinstance(proxies, dict) else None
        host = sdk_connection.request_host
        return cls(
            f"{'http' if is_http else 'https'}://{host}",
            cafile=sdk_connection.certification,
            timeout=sdk_connection.timeout,
            proxy=proxy,
            request_host=host,
            proxy_variable=proxy_variable(is_http),
        )

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        self.last_status = None
        self.last_failure = None
        self.last_reused = False
        self.last_resolve_ms = None
        call = Call(self.budget)
        _watchdog.watch(call, self.budget)
        wire: _Wire | None = None
        sent = False
        try:
            message = self._message(method, url, body, headers or {})
            wire, self.last_reused = self._ready(call)
            try:
                wire.sock.sendall(message)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                if not self.last_reused or call.expired:
                    raise
                # The kept-alive connection had been closed by the server: nothing of this request
                # reached it. One fresh connection, one more send.
                wire.close()
                wire, self.last_reused = self._ready(call)
                wire.sock.sendall(message)
            sent = True
            wire.sock.settimeout(call.step(self.timeout))
            answer = framing.read_answer(wire, method)
            if wire.buffer or (isinstance(wire.sock, ssl.SSLSocket) and wire.sock.pending()):
                raise framing.ProtocolFailure("more bytes followed the answer at once")
        except Exception as exc:
            if wire is not None:
                wire.close()
            failure = failure_of(exc, call.expired, sent, self.budget)
            self.last_failure = failure
            raise failure from None
        finally:
            call.finish()
        if answer.will_close or call.expired:
            wire.close()
        else:
            self._idle = wire
        self.request_length = len(message)
        self.last_status = answer.status
        return Response(answer.status, answer.reason, answer.headers, answer.content, answer.version)

    def close(self) -> None:
        wire, self._idle = self._idle, None
        if wire is not None:
            wire.close()

    # ---- inside --------------------------------------------------------------------------------

    def _message(self, method: str, url: str, body: Any, headers: dict[str, str]) -> bytes:
        """The whole request, for one write: line, headers, body."""
        data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        lines = [f"{method} {self._path(url)} HTTP/1.1"]
        given = set()
        for name, value in headers.items():
            text = f"{name}: {value}"
            if "\r" in text or "\n" in text:
                raise InvalidURL(f"the {name} header holds a line break")
            lines.append(text)
            given.add(name.lower())
        if "host" not in given:
            lines.append(f"Host: {self.request_host}")
        if "accept-encoding" not in given:
            lines.append("Accept-Encoding: identity")
        if self._proxy is not None and self._proxy.authorization and self.scheme == "http":
            lines.append(f"Proxy-Authorization: {self._proxy.authorization}")
        lines.append(f"Content-Length: {len(data)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data

    def _path(self, url: str) -> str:
        """The request target for `url`: its path and query, or the whole URL through a plain-HTTP proxy."""
        path = self._paths.get(url)
        if path is None:
            parts = urlsplit(url)
            if (parts.hostname, parts.port or self.port) != (self.host, self.port):
                raise InvalidURL(f"{url} is not on {self.scheme}://{self.host}:{self.port}")
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if self._proxy is not None and self.scheme == "http":
                path = f"http://{parts.netloc}{path}"
            if len(self._paths) < 16:
                self._paths[url] = path
        return path

    def _ready(self, call: Call) -> tuple[_Wire, bool]:
        """A connection to send on, and whether it was kept alive from an earlier call."""
        idle, self._idle = self._idle, None
        if idle is not None:
            if not idle.leftover():
                call.attach(idle.sock)
                idle.sock.settimeout(call.step(self.timeout))
                return idle, True
            idle.close()  # the server closed it, or sent what no request asked for
        return self._open(call), False

    def _open(self, call: Call) -> _Wire:
        target = (self._proxy.host, self._proxy.port) if self._proxy is not None else (self.host, self.port)
        sock = self._connect(target, call)
        try:
            # Headers and body go out in one write; without this a small request can still wait on
            # Nagle's algorithm and the peer's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._proxy is not None and self.scheme == "https":
                self._tunnel(sock, call)
            if self.scheme == "https":
                tls = tls_context(self.cafile).wrap_socket(
                    sock, server_hostname=self.host, do_handshake_on_connect=False
                )
                sock = tls  # the TLS socket owns the descriptor now
                call.attach(tls)
                tls.settimeout(call.step(self.timeout))
                tls.do_handshake()
        except BaseException:
            sock.close()
            raise
        return _Wire(sock)

    def _connect(self, target: tuple[str, int], call: Call) -> socket.socket:
        # The resolver is not bounded by the budget (see the module's docstring): measured instead, said at DEBUG.
        started = time.monotonic()
        addresses = socket.getaddrinfo(target[0], target[1], type=socket.SOCK_STREAM)
        self.last_resolve_ms = (time.monotonic() - started) * 1000
        error: OSError | None = None
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            call.attach(sock)
            try:
                sock.settimeout(call.step(self.timeout))
                sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
                if call.expired:
                    break
        raise error or OSError("the name resolved to no address")

    def _tunnel(self, sock: socket.socket, call: Call) -> None:
        """CONNECT through the proxy; what follows on `sock` is the endpoint's TLS."""
        assert self._proxy is not None
        target = f"{self.host}:{self.port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if self._proxy.authorization:
            lines.append(f"Proxy-Authorization: {self._proxy.authorization}")
        sock.settimeout(call.step(self.timeout))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        wire = _Wire(sock)
        _, status, reason, _ = framing.parse_head(wire.head(framing.MAX_HEAD))
        if status == _PROXY_AUTHENTICATION_REQUIRED:
            raise ProxyRefused(
                "the proxy asked for credentials (407): put them in the proxy URL, http://user:password@host:port",
                transient=False,
            )
        if status != _TUNNEL_OPEN:
            raise ProxyRefused(
                f"the proxy refused the tunnel: {status} {reason[:60]}", transient=status >= _PROXY_FAULT
            )
        if wire.buffer:
            raise framing.ProtocolFailure("the proxy sent bytes after its answer to CONNECT")


TransportFactory = Callable[[Any, bool], Transport]


def install(sdk_client: Any, factory: TransportFactory) -> Transport:
    """Put a transport made by `factory` where the SDK's request layer looks for its connection."""
    request = sdk_client.request
    connection = factory(request.conn, request.is_http)
    request.conn = connection
    return connection

"""The SDK's HTTP transport: one keep-alive HTTP/1.1 connection per SDK client, each call bounded as a whole.

The SDK builds, signs and parses every request; beneath it, its request layer
calls one object, `conn.request(method, url, body, headers)`, which is a
`requests.Session` wrapper. `Connection` stands in that place. Under a CPU
share (SCF gives a 128 MB function about a twelfth of a core) the `requests`
machinery (request preparation, the environment merge, adapters, the pool)
was most of a call's CPU. The exchange here is the least HTTP/1.1 one API
call needs: the request in one write, the status line and headers read into a
dict (not the `email` parser `http.client` uses, which cost more than the
SDK's signing), the body by Content-Length or chunks (bench/RESULTS.md, "per
CPU share").

What it keeps from the `requests` transport it replaces:
- TLS verified against the SDK's CA bundle (certifi, pinned in requirements.txt) and the host name;
- connect and read timeouts (the socket timeout, `timeout`), and a bound on the whole call (`budget`):
  a watchdog shuts the socket when the budget is spent, so an answer trickling in a byte at a time
  cannot hold the invocation past its deadline (a per-read timeout never fires on it);
- connection reuse, with a clean reconnect when a kept-alive connection has gone stale;
- the memory of how the last call ended (`last_status`, or `last_failure` as the `requests` exception
  the classifier knows), which the SDK's own exception does not say, so that a 404 is not retried
  like a 503, nor a certificate failure like a reset;
- proxies as the SDK resolves them: `HTTPS_PROXY` (`HTTP_PROXY` for an http endpoint) unless the host
  is in `NO_PROXY`, read once when the client is built; HTTPS goes through a CONNECT tunnel.

A request is sent a second time only when it cannot have reached the server: the idle connection is
found closed before sending (readable while idle means the server closed it), or sending itself fails
on a reused connection. Once the request is sent, any failure is the caller's to judge (the reporter's
retry policy and the classifier), never a silent resend that could report a conversion twice.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import http.client
import itertools
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from requests import exceptions

# The failures a call ends in, as the classifier knows them (`is_transient`).
ConnectTimeout = exceptions.ConnectTimeout
ReadTimeout = exceptions.ReadTimeout
SSLError = exceptions.SSLError
NetworkError = exceptions.ConnectionError
TruncatedAnswer = exceptions.ChunkedEncodingError
InvalidURL = exceptions.InvalidURL


class CallTimedOut(exceptions.Timeout):
    """The whole call ran past its budget."""


class Call:
    """One call in flight: the connection it uses, and whether its budget ran out."""

    __slots__ = ("_connection", "_lock", "done", "expired")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Any = None
        self.expired = False
        self.done = False

    def attach(self, connection: Any) -> None:
        """`connection`: anything with the `sock` the watchdog shuts."""
        with self._lock:
            self._connection = connection
            expired = self.expired
        if expired:
            _shut(connection)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            connection = self._connection
        if connection is not None:
            _shut(connection)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One daemon thread for every call's budget: cheaper per call than a timer thread each.

    A finished call is only marked done (no lock, no wake-up); when the earliest entry is due and
    done, every done entry leaves the heap at once, so the thread wakes about twice per budget, not
    once per call. It is woken early only when a new entry is due before every other one.
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
                    # Finished calls leave all at once: waking once for each of them would take the
                    # GIL from the calls in flight hundreds of times a second. (Not before they are
                    # due: an empty heap would make every next call wake the thread.)
                    self._heap = [entry for entry in self._heap if not entry[2].done]
                    heapq.heapify(self._heap)
                    continue
                heapq.heappop(self._heap)
            if not call.done:
                call.expire()


_watchdog = Watchdog()


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

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any: ...


class Headers(dict[str, str]):
    """An answer's headers, looked up in any case (the SDK asks for `Content-Type`)."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class _Wire:
    """One open socket and its buffered reader."""

    __slots__ = ("rfile", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            self.sock.close()


_MAX_LINE = 65536
_MAX_HEADERS = 100


class RemoteDisconnected(ConnectionError):
    """The server closed the connection before answering in full."""


class MalformedAnswer(Exception):
    """What came back is not HTTP/1.x."""


def _line(rfile: Any) -> bytes:
    line: bytes = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise MalformedAnswer("a header line longer than 64 KiB")
    return line


def _read_headers(rfile: Any) -> Headers:
    headers = Headers()
    for _ in range(_MAX_HEADERS + 1):
        line = _line(rfile)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise RemoteDisconnected("the connection closed inside the answer's headers")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise MalformedAnswer(f"a header line without a colon: {line[:40]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raise MalformedAnswer(f"more than {_MAX_HEADERS} headers")


def _read_chunked(rfile: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = _line(rfile)
        if not size_line:
            raise http.client.IncompleteRead(b"".join(parts))
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise MalformedAnswer(f"a bad chunk size: {size_line[:40]!r}") from None
        if size == 0:
            _read_headers(rfile)  # trailers, up to the blank line
            return b"".join(parts)
        chunk = rfile.read(size)
        if len(chunk) < size:
            raise http.client.IncompleteRead(b"".join([*parts, chunk]), size - len(chunk))
        parts.append(chunk)
        _line(rfile)  # the CRLF after the chunk


def _read_answer(rfile: Any, method: str) -> tuple[Response, bool]:
    """The answer on `rfile`, and whether the server will close the connection after it."""
    while True:
        status_line = _line(rfile)
        if not status_line:
            raise RemoteDisconnected("the connection closed without an answer")
        parts = status_line.decode("latin-1").rstrip("\r\n").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise MalformedAnswer(f"not an HTTP/1.x status line: {status_line[:40]!r}")
        version, status = parts[0], int(parts[1])
        headers = _read_headers(rfile)
        if status // 100 != 1:
            break  # an interim answer (100 Continue) is followed by the real one
    connection = headers.get("connection", "").lower()
    will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if status in (204, 304) or method == "HEAD":
        body = b""
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = _read_chunked(rfile)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"].split(",")[0])
        except ValueError:
            raise MalformedAnswer(f"a bad Content-Length: {headers['content-length'][:40]!r}") from None
        body = rfile.read(length)
        if len(body) < length:
            raise http.client.IncompleteRead(body, length - len(body))
    else:
        body, will_close = rfile.read(), True  # delimited by the connection's end
    reason = parts[2] if len(parts) > 2 else ""
    return Response(status, reason, headers, body, 10 if version == "HTTP/1.0" else 11), will_close


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
        self, url: str, cafile: str, timeout: float = 60.0, proxy: str | None = None, request_host: str = ""
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
        self.timeout = timeout  # each socket operation (connect, every read): the SDK's request timeout
        self.budget = 5.0  # the whole call
        self.request_length = 0  # the SDK reads it after each call
        self.last_status: int | None = None
        self.last_failure: BaseException | None = None
        self.last_reused = False
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
        )

    def request(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Response:
        self.last_status = None
        self.last_failure = None
        self.last_reused = False
        call = Call()
        _watchdog.watch(call, self.budget)
        sent = False
        try:
            message = self._message(method, url, body, headers or {})
            wire, reused = self._ready()
            self.last_reused = reused
            call.attach(wire)
            try:
                wire.sock.sendall(message)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                if not reused or call.expired:
                    raise
                # The kept-alive connection had been closed by the server: nothing of this request
                # reached it. One fresh connection, one more send.
                self.close()
                wire, self.last_reused = self._ready()
                call.attach(wire)
                wire.sock.sendall(message)
            sent = True
            response, will_close = _read_answer(wire.rfile, method)
        except Exception as exc:
            self.close()
            failure = self._failure(exc, call, sent)
            self.last_failure = failure
            raise failure from None
        finally:
            call.done = True
        if will_close:
            self.close()
        else:
            self._idle = wire
        self.request_length = len(message)
        self.last_status = response.status_code
        return response

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
            if self.proxy and self.scheme == "http":
                path = f"http://{parts.netloc}{path}"
            if len(self._paths) < 16:
                self._paths[url] = path
        return path

    def _ready(self) -> tuple[_Wire, bool]:
        """A connection to send on, and whether it was kept alive from an earlier call."""
        idle = self._idle
        if idle is not None:
            if not _closed_by_peer(idle.sock):
                idle.sock.settimeout(self.timeout)
                return idle, True
            self.close()
        return self._open(), False

    def _open(self) -> _Wire:
        proxy = urlsplit(self.proxy if "://" in (self.proxy or "") else f"http://{self.proxy}") if self.proxy else None
        target = (proxy.hostname or "", proxy.port or 80) if proxy is not None else (self.host, self.port)
        sock = socket.create_connection(target, timeout=self.timeout)
        try:
            # Headers and body go out in one write; without this a small request can still wait on
            # Nagle's algorithm and the peer's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if proxy is not None and self.scheme == "https":
                self._tunnel(sock, _proxy_authorization(proxy.username, proxy.password))
            if self.scheme == "https":
                sock = tls_context(self.cafile).wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        return _Wire(sock)

    def _tunnel(self, sock: socket.socket, authorization: dict[str, str] | None) -> None:
        """CONNECT through the proxy; what follows on `sock` is the endpoint's TLS."""
        target = f"{self.host}:{self.port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        lines += [f"{name}: {value}" for name, value in (authorization or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        with sock.makefile("rb") as rfile:  # nothing follows the proxy's answer until we speak TLS
            status_line = _line(rfile)
            _read_headers(rfile)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or parts[1] != b"200":
            raise NetworkError(f"the proxy refused the tunnel: {status_line.strip()[:80]!r}")

    def _failure(self, exc: Exception, call: Call, sent: bool) -> exceptions.RequestException:
        """The exception the classifier knows for how this call ended."""
        if call.expired:
            return CallTimedOut(f"the call took longer than its {self.budget:.2f} s budget")
        if isinstance(exc, exceptions.RequestException):
            return exc
        if isinstance(exc, ssl.SSLError):  # a certificate, a handshake: no retry fixes it
            return SSLError(f"TLS: {exc.__class__.__name__}: {exc}")
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return ReadTimeout("the API did not answer in time") if sent else ConnectTimeout("connect timed out")
        if isinstance(exc, http.client.IncompleteRead):
            return TruncatedAnswer(f"the answer ended early ({len(exc.partial)} bytes read)")
        if isinstance(exc, (ValueError, UnicodeError)):
            return InvalidURL(str(exc))
        return NetworkError(f"{type(exc).__name__}: {exc}")


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle connection that is readable has been closed (or garbled) by the server: never reuse it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _proxy_authorization(username: str | None, password: str | None) -> dict[str, str] | None:
    if username is None:
        return None
    token = base64.b64encode(f"{unquote(username)}:{unquote(password or '')}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}


TransportFactory = Callable[[Any, bool], Transport]


def install(sdk_client: Any, factory: TransportFactory) -> Transport:
    """Put a transport made by `factory` where the SDK's request layer looks for its connection."""
    request = sdk_client.request
    connection = factory(request.conn, request.is_http)
    request.conn = connection
    return connection


def is_transient(failure: BaseException | None) -> bool:
    """A failure worth retrying: a timeout or a dropped / refused connection, not a bad URL or certificate."""
    if failure is None:
        return True  # nothing recorded: assume the network, which a retry may fix
    if isinstance(failure, exceptions.SSLError):
        return False
    return isinstance(failure, (exceptions.Timeout, exceptions.ConnectionError, exceptions.ChunkedEncodingError))

"""HTTP transport for the SDK's `requests` session: a bound on each call's total time.

`requests` timeouts apply to each socket operation, so an answer that trickles
in a byte at a time never times out; with Redis, the in-progress mark could
then expire while the call still runs and another instance report the same
conversion. `BoundedAdapter` sets a watchdog for the whole call (connect, send,
headers and body, which it reads itself) that shuts the socket down when the
call's budget is spent. It also remembers how the last call ended (HTTP
status, or the `requests` exception), which the SDK's own exception does not
say, so that a 404 is not retried like a 503.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Call:
    """One call in flight: the connection it uses, and whether its budget ran out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self.expired = False
        self.done = False

    def attach(self, connection: HTTPConnection) -> None:
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


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


_current = threading.local()


def _attach_current(connection: HTTPConnection) -> None:
    call = getattr(_current, "call", None)
    if call is not None:
        call.attach(connection)


class _WatchedHTTPConnection(HTTPConnection):
    """Tells the call in flight on this thread which connection it uses, so its watchdog can shut it."""

    def connect(self) -> None:
        _attach_current(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach_current(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOL_CLASSES = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


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


class CallTimedOut(requests.exceptions.Timeout):
    """The whole call ran past its budget."""


class BoundedAdapter(HTTPAdapter):
    """A `requests` adapter whose calls end within `budget` seconds, all told."""

    def __init__(self) -> None:
        # One client (and so one adapter) serves one call at a time: one connection is enough.
        super().__init__(pool_connections=1, pool_maxsize=1)
        self.budget = 5.0
        self.last_status: int | None = None
        self.last_failure: BaseException | None = None

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOL_CLASSES

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.last_status = None
        self.last_failure = None
        call = Call()
        _current.call = call
        _watchdog.watch(call, self.budget)
        try:
            response = super().send(request, *args, **kwargs)
            # The SDK streams; read the body here, under the watchdog, so the whole call is bounded.
            _ = response.content
        except requests.RequestException as exc:
            failure: requests.RequestException = exc
            if call.expired:
                failure = CallTimedOut(f"the call took longer than its {self.budget:.2f} s budget")
            self.last_failure = failure
            if failure is exc:
                raise
            raise failure from None
        finally:
            _current.call = None
            call.done = True
        self.last_status = response.status_code
        return response


def install(session: requests.Session, adapter: BoundedAdapter) -> BoundedAdapter:
    """Route every call of `session` through `adapter`."""
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter


def is_transient(failure: BaseException | None) -> bool:
    """A failure worth retrying: a timeout or a dropped / refused connection, not a bad URL or certificate."""
    if failure is None:
        return True  # nothing recorded: assume the network, which a retry may fix
    if isinstance(failure, requests.exceptions.SSLError):
        return False
    return isinstance(
        failure,
        (requests.exceptions.Timeout, requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError),
    )

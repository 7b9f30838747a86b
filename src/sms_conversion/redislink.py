"""The Redis behind REDIS_URL, spoken to as TencentDB for Redis accepts, each operation within one budget.

What Tencent's Redis is, from its command reference (product 239/122188, "大版本命令使用差异") and its connection
guide (239/135926, 239/34590):
- RESP3 is not supported (5.0, 6.2, 7.0), and 4.0/5.0 have no `HELLO` at all: the client speaks RESP2.
- ACL is not supported: the account travels inside the password of a one-argument `AUTH` (`password`,
  `<instance-id>:password`, or `<account>@password`). Settings refuses a URL user name, which redis-py would
  send as `AUTH <user> <password>`.
- No client-side caching, no modules, no `CLIENT SETINFO` (Redis 7.2) nor redis-py's `CLIENT
  MAINT_NOTIFICATIONS`: a connection opens with `AUTH` (when there is a password) and `SELECT` (when the
  database is not 0), nothing else.
- The cluster edition's proxy routes a script by its keys: every script names its one key in `KEYS`, defines
  only `local` values, and is sent with `EVAL` (never `EVALSHA`), so a flushed script cache changes nothing.

Every operation (claim, complete, release, fleet slot) has one budget, at most REDIS_TIMEOUT_SECONDS, that covers
all of its steps: resolving and connecting, the TLS handshake, `AUTH`, `SELECT`, a health-check `PING`, the
command and its reply. A slow Redis cannot stack per-step timeouts past the invocation's time limit. A stale
pooled connection is reconnected once, inside the same budget (redis-py's default is ten retries with backoff).

Failures are classified here, once: a wrong password, a TLS mismatch, a command the server refuses or a cluster
node given in place of the proxy is a misconfiguration, said at ERROR once per warm instance with what to fix;
the rest (timeouts, resets, failover, OOM, loading, a reply of the wrong type) is transient.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from .logs import LOGGER_NAME

logger = logging.getLogger(LOGGER_NAME)
T = TypeVar("T")

# The end of the operation under way on this thread (time.monotonic()), read by the connection at each step.
_operation = threading.local()

# Redis answers that say the server will never accept what the function sends: the operator must act.
_REFUSED_COMMAND = ("unknown command", "unknown subcommand", "readonly table", "wrong number of arguments")
_CLUSTER_NODE = ("MOVED", "ASK", "CROSSSLOT", "CLUSTERDOWN")
_WHAT_IS_OFF = "duplicate protection (and SMS_FLEET_MAX_RPS's fleet limit) is off until it is fixed"


class RedisUnavailable(Exception):
    """A Redis operation gave no usable answer. `permanent`: a misconfiguration that will not pass by itself."""

    def __init__(self, reason: str, permanent: bool = False, fix: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.fix = fix


class Failure(NamedTuple):
    reason: str
    permanent: bool
    fix: str = ""


def _step_timeout(configured: float | None) -> float | None:
    """The timeout for the next step: what is left of the operation's budget (at most the configured one)."""
    at: float | None = getattr(_operation, "at", None)
    if at is None:
        return configured
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the Redis operation's budget is spent")
    return remaining if configured is None else min(configured, remaining)


def _connection_classes() -> dict[str, type]:
    """redis-py's connection classes for each URL scheme, each setting every step's timeout from the budget."""
    import redis

    class Budgeted:
        socket_timeout: float | None
        socket_connect_timeout: float | None
        _sock: Any

        def _connect(self) -> Any:
            timeout = _step_timeout(self.socket_timeout)
            # Resolution is not bounded by a socket timeout: it runs before connect, on the system resolver.
            self.socket_connect_timeout = timeout
            return super()._connect()  # type: ignore[misc]

        def _wrap_socket_with_ssl(self, sock: socket.socket) -> Any:
            sock.settimeout(_step_timeout(self.socket_timeout))
            return super()._wrap_socket_with_ssl(sock)  # type: ignore[misc]

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            self._bound_next_step()
            super().send_packed_command(command, check_health)  # type: ignore[misc]

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            self._bound_next_step()
            return super().read_response(*args, **kwargs)  # type: ignore[misc]

        def _bound_next_step(self) -> None:
            if self._sock is None:
                return
            try:
                self._sock.settimeout(_step_timeout(self.socket_timeout))
            except TimeoutError:
                # A reply may be on its way: a connection left in the pool would hand it to the next command.
                self.disconnect()  # type: ignore[attr-defined]
                raise

    class TcpConnection(Budgeted, redis.Connection):
        pass

    class TlsConnection(Budgeted, redis.SSLConnection):
        pass

    class UnixConnection(Budgeted, redis.UnixDomainSocketConnection):
        pass

    return {"redis": TcpConnection, "rediss": TlsConnection, "unix": UnixConnection}


def connect(url: str, timeout_seconds: float) -> Any:
    """A redis-py client for Tencent's Redis (see the module's docstring); connects to nothing yet.

    Imported here, not at module load: Redis costs no cold start unless REDIS_URL is set. Raises ValueError for a
    URL redis-py cannot read (Settings has refused the forms Tencent's Redis cannot take)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    scheme = url.split("://", 1)[0].lower()
    return redis.Redis.from_url(
        url,
        connection_class=_connection_classes()[scheme],
        protocol=2,
        driver_info=None,  # no CLIENT SETINFO (Redis 7.2; Tencent's 7.0 refuses it)
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 1),  # one reconnect for a stale pooled connection, within the same budget
        decode_responses=True,
        health_check_interval=30,
    )


def classify(exc: BaseException) -> Failure:
    """What a Redis failure says, in words that name the cause, and whether it is the operator's to fix."""
    import redis

    tls = _ssl_cause(exc)
    if tls is not None:
        if isinstance(tls, ssl.SSLCertVerificationError):
            return Failure(
                f"TLS: {tls.verify_message or tls.reason}",
                True,
                "REDIS_URL's rediss:// server presents a certificate this function does not trust",
            )
        if isinstance(tls, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return Failure(f"TLS: {_ssl_words(tls)}", False)
        return Failure(
            f"TLS: {_ssl_words(tls)}",
            True,
            "REDIS_URL says rediss:// (TLS) but the server does not speak TLS there, or the reverse: "
            "match the scheme to the instance's SSL setting",
        )
    if _in_chain(exc, lambda e: isinstance(e, TimeoutError) and "handshake" in str(e)):
        # A plain Redis reads a ClientHello as an unfinished command and never answers it.
        return Failure(
            "TLS: the handshake got no answer",
            True,
            "REDIS_URL says rediss:// (TLS) but the server does not seem to speak TLS there: match the scheme to "
            "the instance's SSL setting (if it does, the network dropped the handshake)",
        )
    if isinstance(exc, redis.AuthenticationError):
        return Failure(
            "Redis refused the password in REDIS_URL",
            True,
            "set REDIS_URL's password as TencentDB for Redis takes it: redis://:<password>@host:6379/0, "
            "redis://:<instance-id>%3A<password>@host:6379/0 or redis://:<account>%40<password>@host:6379/0",
        )
    if isinstance(exc, redis.ResponseError):
        text = str(exc)
        lowered = text.lower()
        # redis-py strips a known code (MOVED, NOPERM...) from the text and keeps it as `status_code`.
        code = str(getattr(exc, "status_code", None) or text.split(" ", 1)[0])
        if code in _CLUSTER_NODE:
            return Failure(
                f"Redis answered {code}",
                True,
                "REDIS_URL points at a cluster node: use the instance's address (its proxy)",
            )
        if code == "NOPERM" or any(marker in lowered for marker in _REFUSED_COMMAND):
            return Failure(
                f"Redis refused a command: {_first_words(text)}",
                True,
                "REDIS_URL must be a TencentDB for Redis (or Redis 4.0 or later) instance that accepts EVAL and SET",
            )
        # READONLY (failover), OOM, LOADING, BUSY, NOSCRIPT: the server's state, which passes.
        return Failure(f"Redis answered {code if code.isupper() else _first_words(text)}", False)
    if isinstance(exc, (redis.TimeoutError, TimeoutError, socket.timeout)):
        return Failure("Redis timed out", False)
    if isinstance(exc, redis.ConnectionError):
        return Failure(f"Redis connection failed: {_first_words(str(exc), 12)}", False)
    if isinstance(exc, redis.RedisError):
        return Failure(f"Redis error: {type(exc).__name__}", False)
    if isinstance(exc, OSError):
        return Failure(f"Redis connection failed: {exc.strerror or type(exc).__name__}", False)
    return Failure(f"unexpected Redis reply ({type(exc).__name__})", False)


def _in_chain(exc: BaseException, test: Callable[[BaseException], bool]) -> BaseException | None:
    """The first exception in `exc`'s cause/context chain that passes `test` (redis-py re-raises socket errors
    as its own, the original in the context)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if test(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    found = _in_chain(exc, lambda e: isinstance(e, ssl.SSLError))
    return found if isinstance(found, ssl.SSLError) else None


def _ssl_words(error: ssl.SSLError) -> str:
    return str(error.reason or error.strerror or type(error).__name__).replace("_", " ").lower()


def _first_words(text: str, count: int = 6) -> str:
    # An error's text can quote what was sent (Redis's "unknown command" quotes its arguments, which for AUTH
    # is the password): keep what comes before the arguments, and only its first words.
    return " ".join(text.split(", with args", 1)[0].split()[:count])


class RedisLink:
    """One per warm instance and REDIS_URL: the client, the budget of each operation, and what was said.

    A permanent failure is logged at ERROR once per warm instance (`redis_misconfigured`, which `make deploy`
    alarms on); every failure then reaches the caller as RedisUnavailable, which falls back (see idempotency and
    fleet) and warns once per invocation.
    """

    def __init__(self, client: Any, timeout_seconds: float) -> None:
        self.client = client
        self.timeout = timeout_seconds
        self._said: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, timeout_seconds: float) -> RedisLink:
        return cls(connect(url, timeout_seconds), timeout_seconds)

    def run(self, operation: str, budget: float, command: Callable[[Any], T]) -> T:
        """`command(client)`, all of its steps within min(REDIS_TIMEOUT_SECONDS, `budget`) seconds."""
        seconds = min(self.timeout, budget)
        if seconds <= 0:
            raise RedisUnavailable(f"no time left for the {operation}")
        _operation.at = time.monotonic() + seconds
        try:
            return command(self.client)
        except Exception as exc:  # redis-py's errors, OSError, and what a garbled reply makes its parser raise
            failure = classify(exc)
            if failure.permanent:
                self._say(failure)
            raise RedisUnavailable(failure.reason, failure.permanent, failure.fix) from None
        finally:
            _operation.at = None

    def _say(self, failure: Failure) -> None:
        with self._lock:
            if failure.reason in self._said:
                return
            self._said.add(failure.reason)
        logger.error(
            f"Redis misconfigured: {failure.reason}; {_WHAT_IS_OFF}",
            extra={"event": "redis_misconfigured", "reason": failure.reason, "hint": failure.fix},
        )


def unexpected_reply(operation: str, reply: object) -> RedisUnavailable:
    """A reply of a type the command cannot give: a proxy or server that misbehaves, treated as unavailable."""
    return RedisUnavailable(f"unexpected reply to the {operation} ({type(reply).__name__})")

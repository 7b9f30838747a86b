"""What a warm instance keeps between invocations: SDK clients (and their
connections), the rate limiter's window, the in-memory idempotency store, the
Redis client, the deployment faults seen lately and the cold-start flag."""

from __future__ import annotations

from collections.abc import Mapping

from . import transport
from .clock import Clock, SystemClock
from .credentials import RoleCredential
from .faults import FaultMemory
from .fleet import FleetLimiter
from .idempotency import IdempotencyStore, MemoryStore, RedisStore
from .pipeline import AppPolicy, ReportingPipeline
from .ratelimit import Limiter, RateLimiter
from .reporter import ClientPool, ConversionReporter, CredentialSource
from .settings import Settings


class WarmInstance:
    def __init__(
        self,
        clock: Clock | None = None,
        credential: CredentialSource | None = None,
        environ: Mapping[str, str] | None = None,
        store: IdempotencyStore | None = None,
        transport_factory: transport.TransportFactory = transport.Connection.replacing,
    ) -> None:
        """`transport_factory` makes what carries the SDK's requests: the keep-alive HTTP connection, or an
        in-process API in tests."""
        self.clock = clock or SystemClock()
        self.environ = environ
        self.credential = credential or RoleCredential(environ)
        self.rate_limiter = RateLimiter(self.clock, 1000)
        # An injected store replaces both the in-memory default and Redis.
        self._injected_store = store
        self.memory_store = MemoryStore(self.clock)
        self.fault_memory = FaultMemory(self.clock)
        self._transport = transport_factory
        self._pool: ClientPool | None = None
        self._redis: tuple[tuple[str, float], RedisStore] | None = None
        self._cold = True
        self._warned_open = False

    def take_cold_start(self) -> bool:
        cold, self._cold = self._cold, False
        return cold

    def first_open_request(self) -> bool:
        """True once per warm instance: the first unauthenticated HTTP request is warned about."""
        first, self._warned_open = not self._warned_open, True
        return first

    def client_pool(self, settings: Settings) -> ClientPool:
        key = (settings.endpoint, settings.SMS_REGION, settings.SMS_LANGUAGE)
        if self._pool is None or self._pool.key != key:
            old, self._pool = self._pool, ClientPool(self.credential, *key, transport_factory=self._transport)
            if old is not None:
                old.close()  # its sockets now, not whenever the garbage collector gets to them
        return self._pool

    def idempotency_store(self, settings: Settings) -> IdempotencyStore | None:
        """The store for these settings; building a Redis client connects to nothing yet."""
        if settings.IDEMPOTENCY_TTL_SECONDS == 0:
            return None
        if self._injected_store is not None:
            return self._injected_store
        return self.memory_store if settings.REDIS_URL is None else self._redis_store(settings)

    def _redis_store(self, settings: Settings) -> RedisStore:
        """The Redis link (in a store; the fleet limiter shares it) for these settings, kept while URL and timeout
        stay the same: its connections, and what it has said about a misconfiguration, last the warm instance."""
        assert settings.REDIS_URL is not None
        key = (settings.REDIS_URL, settings.REDIS_TIMEOUT_SECONDS)
        if self._redis is None or self._redis[0] != key:
            self._redis = (key, RedisStore.from_url(*key))
        return self._redis[1]

    def limiters(self, settings: Settings) -> list[Limiter]:
        """The per-instance window always; the fleet-wide one too when SMS_FLEET_MAX_RPS is set."""
        self.rate_limiter.set_limit(settings.SMS_MAX_RPS)
        limiters: list[Limiter] = [self.rate_limiter]
        if settings.SMS_FLEET_MAX_RPS is not None:
            link = self._redis_store(settings).link
            limiters.append(FleetLimiter(link, settings.SMS_FLEET_MAX_RPS, self.clock))
        return limiters

    def app_policy(self, settings: Settings) -> AppPolicy:
        return AppPolicy.of(settings)

    def pipeline(self, settings: Settings) -> ReportingPipeline:
        """A reporting pipeline for one invocation (or backfill run), on this instance's collaborators."""
        reporter = ConversionReporter(
            self.client_pool(settings), self.clock, settings.SMS_TIMEOUT_SECONDS, settings.SMS_MAX_ATTEMPTS
        )
        return ReportingPipeline(
            reporter,
            self.credential,
            self.app_policy(settings),
            self.idempotency_store(settings),
            settings.IDEMPOTENCY_TTL_SECONDS,
            settings.SMS_CONCURRENCY,
            self.fault_memory,
            self.limiters(settings),
        )

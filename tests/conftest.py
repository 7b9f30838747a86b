"""Shared fixtures: the SMS emulator over real HTTP, SCF's environment and context, sample events, Redis."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedApi
from hypothesis import settings

from emulator import PERMANENT_KEY, TEMPORARY_KEY, SmsEmulator
from emulator.tencent_redis import TencentRedis
from sms_conversion import logs
from sms_conversion.handler import Application
from sms_conversion.instance import WarmInstance
from sms_conversion.logfields import LOG_FIELDS

# Generated-input tests: a quick pass locally, a deeper one in CI (which has the time).
settings.register_profile("dev", max_examples=10)
# CI is derandomized: the same examples every run, so a landing never depends on luck.
settings.register_profile("ci", max_examples=300, derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
CONFIG_VARIABLES = (
    "SMS_SDK_APP_ID",
    "SMS_REGION",
    "SMS_ENDPOINT",
    "SMS_TIMEOUT_SECONDS",
    "SMS_MAX_ATTEMPTS",
    "SMS_CONCURRENCY",
    "SMS_MAX_RPS",
    "SMS_LANGUAGE",
    "IDEMPOTENCY_TTL_SECONDS",
    "REDIS_URL",
    "REDIS_TIMEOUT_SECONDS",
    "LOG_LEVEL",
    "REPORT_SIGNING_SECRET",
    "CMQ_PUSH_TOKEN",
    "SMS_ALLOWED_SDK_APP_IDS",
    "SMS_FLEET_MAX_RPS",
    "TENCENTCLOUD_SECRETID",
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_SESSION_TOKEN",
)


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def scf_context(request_id: str = "test-request", time_limit_in_ms: Any = 30_000, **extra: Any) -> dict[str, Any]:
    """The context dict SCF passes, including the `environ` string that may hold credentials."""
    context = {
        "request_id": request_id,
        "time_limit_in_ms": time_limit_in_ms,
        "memory_limit_in_mb": 128,
        "function_name": "report-conversion",
        "function_version": "$LATEST",
        "namespace": "default",
        "tencentcloud_region": "ap-guangzhou",
        "environ": ";".join(
            f"{name}={os.environ.get(name, '')}"
            for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")
        ),
    }
    context.update(extra)
    return context


def http_event(
    body: Any, method: str = "POST", api_gateway: bool = False, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "httpMethod": method,
        "headers": headers if headers is not None else {"content-type": "application/json"},
        "body": body if isinstance(body, str) else json.dumps(body),
        "path": "/",
        "queryString": {},
    }
    if api_gateway:
        event["requestContext"] = {"httpMethod": "ANY", "identity": {}, "stage": "release"}
        event["isBase64Encoded"] = False
    return event


def ckafka_event(
    bodies: list[Any], topic: str = "verification-success", partition: int = 0, first_offset: int = 0
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "Ckafka": {
                    "topic": topic,
                    "partition": partition,
                    "offset": first_offset + index,
                    "msgKey": "None",
                    "msgBody": body if isinstance(body, str) else json.dumps(body),
                }
            }
            for index, body in enumerate(bodies)
        ]
    }


def body_of(response: dict[str, Any]) -> Any:
    assert isinstance(response["body"], str)
    return json.loads(response["body"])


class FakeClock:
    """An injected clock: wall time starts now, and time moves only when told (or when slept)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wall = time.time()
        self._mono = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._wall + self._mono - 1000.0

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._mono += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._mono += seconds


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A small function zip for the deploy tests: what `make deploy` uploads, without building the real one."""
    path = tmp_path / "function.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.py", "def main_handler(event, context):\n    return {}\n")
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def _emulator_server() -> Iterator[SmsEmulator]:
    with SmsEmulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(_emulator_server: SmsEmulator) -> Iterator[SmsEmulator]:
    _emulator_server.reset()
    _emulator_server.latency = 0.0
    _emulator_server.on_request = None
    yield _emulator_server
    _emulator_server.reset()
    _emulator_server.latency = 0.0
    _emulator_server.on_request = None


@pytest.fixture
def scf_env(monkeypatch: pytest.MonkeyPatch, emulator: SmsEmulator, tmp_path: Path) -> SmsEmulator:
    """SCF's environment: the role's temporary keys, the function's variables, the emulator as endpoint."""
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.tencentcloud/credentials from the machine
    monkeypatch.setenv("SMS_ENDPOINT", emulator.endpoint)
    monkeypatch.setenv("SMS_SDK_APP_ID", "1400006666")
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", TEMPORARY_KEY.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", TEMPORARY_KEY.secret_key)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", TEMPORARY_KEY.token or "")
    return emulator


@pytest.fixture
def app(scf_env: SmsEmulator, clock: FakeClock) -> Application:
    """A fresh warm instance per test (so idempotency and clients do not leak between tests), on the
    injected clock: backoff and rate waits move it instead of sleeping."""
    return Application(WarmInstance(clock=clock))


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    yield
    logs.write_to(None)


def log_lines(output: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object whose fields CLS can index: listed in LOG_FIELDS, scalars."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    for line in lines:
        assert isinstance(line, dict), line
        unknown = set(line) - set(LOG_FIELDS)
        assert not unknown, f"fields not in logfields.LOG_FIELDS: {sorted(unknown)}"
        nested = [name for name, value in line.items() if isinstance(value, (dict, list))]
        assert not nested, f"CLS indexes only top-level scalars, these are nested: {nested}"
    return lines


def events_named(output: str, name: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(output) if line.get("event") == name]


# ---- the unit layer: the real SDK, an in-process API, no emulator ---------------------------

UNIT_APP_ID = "1400006666"


def unit_environ(**extra: str) -> dict[str, str]:
    """The function's environment as a mapping of its own (never os.environ): role keys and a default app id."""
    return {
        "SMS_ENDPOINT": "http://127.0.0.1:9",  # never reached: the scripted adapter answers
        "SMS_SDK_APP_ID": UNIT_APP_ID,
        "TENCENTCLOUD_SECRETID": TEMPORARY_KEY.secret_id,
        "TENCENTCLOUD_SECRETKEY": TEMPORARY_KEY.secret_key,
        "TENCENTCLOUD_SESSIONTOKEN": TEMPORARY_KEY.token or "",
        **extra,
    }


@pytest.fixture
def api() -> ScriptedApi:
    return ScriptedApi()


def unit_instance(api: ScriptedApi, clock: FakeClock, **environ: str) -> WarmInstance:
    return WarmInstance(clock=clock, environ=unit_environ(**environ), transport_factory=api.transport)


# ---- Redis ------------------------------------------------------------------------------


class RedisServer:
    """A real redis-server on a free loopback port, which tests may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        for _ in range(3):
            if self._start_once():
                return
            # Another test process took the port between free_port() and redis binding it: take another.
            self.port = free_port()
        raise RuntimeError("redis-server did not start")

    def _start_once(self) -> bool:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()


@pytest.fixture(scope="session")
def _redis_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("REQUIRE_REDIS") == "1" or os.environ.get("CI") == "true":
            pytest.fail("redis-server is required here (REQUIRE_REDIS/CI) but is not on PATH")
        pytest.skip("redis-server not installed (apt-get install redis-server); CI always runs these tests")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(_redis_session: RedisServer) -> Iterator[RedisServer]:
    if _redis_session.process is None:
        _redis_session.start()
    _redis_session.flush()
    yield _redis_session
    if _redis_session.process is None:
        _redis_session.start()


__all__ = ["PERMANENT_KEY", "TEMPORARY_KEY"]


@pytest.fixture(scope="session")
def _tencent_redis_session(_redis_session: RedisServer) -> Iterator[TencentRedis]:
    proxy = TencentRedis(lambda: _redis_session.port)
    yield proxy
    proxy.close()


@pytest.fixture
def tencent_redis(redis_server: RedisServer, _tencent_redis_session: TencentRedis) -> Iterator[TencentRedis]:
    """The strict stand-in for TencentDB for Redis in front of the test's redis-server, its faults cleared."""
    _tencent_redis_session.clear()
    _tencent_redis_session.commands.clear()
    _tencent_redis_session.refused.clear()
    yield _tencent_redis_session
    _tencent_redis_session.clear()
    _tencent_redis_session.drop_connections()


@pytest.fixture
def redis_env(
    scf_env: SmsEmulator, redis_server: RedisServer, tencent_redis: TencentRedis, monkeypatch: pytest.MonkeyPatch
) -> RedisServer:
    """SCF's environment with REDIS_URL pointing at the strict stand-in in front of the test's redis-server
    (what the function uses); the server itself is returned, its `url` for tests that look at the keys."""
    monkeypatch.setenv("REDIS_URL", tencent_redis.url)
    return redis_server


# ---- `make serve` as a process -----------------------------------------------------------------


def wait_for_port(port: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Served:
    """`make serve`'s command on a free port: its URL, its process, and where its stderr (the function's lines,
    the banner) went: a file, never a pipe nobody reads while requests run."""

    def __init__(self, home: Path, extra: dict[str, str]) -> None:
        env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
        env.update({"HOME": str(home), **extra})
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        self.stdout_path, self.stderr_path = home / "serve.stdout", home / "serve.stderr"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "local.serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=err
            )
        # The port is bound first, the function loaded next: ready once the banner says so.
        deadline = time.monotonic() + 20
        while (
            not (wait_for_port(port, 0.2) and "# serving the function" in self.stderr) and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        if "# serving the function" not in self.stderr:
            self.stop()
            raise RuntimeError(f"make serve did not start: {self.stderr[-300:]}")

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

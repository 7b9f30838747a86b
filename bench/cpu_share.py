"""Throughput per CPU share: the function and a bare SDK fan-out inside a cgroup CPU quota.

SCF gives a function CPU in proportion to its memory (doc 583/9207: 1,024 MB gets twice the CPU of 512 MB);
Tencent publishes no absolute figure, and the platforms that do give 128 MB about 0.07-0.083 of a core. So
each share here stands for a memory size under the assumption 128 MB = 8 % of a core, CPU in proportion to
memory. Each measurement is a fresh process placed in its own cgroup (v1 `cpu.cfs_quota_us`, or v2
`cpu.max`); the emulator runs outside it, with the injected latency standing in for the network.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PERIOD_US = 100_000
# (percent of a core, the memory it stands for). 100 % is the machine's whole core, for context.
SHARES = ((8, 128), (17, 256), (33, 512), (67, 1024), (100, None))
BATCH = 1000
CONCURRENCY = 16
TARGET_RATIO = {8: 2.0, 33: 2.0}

# The function: one warm instance, a warm-up batch, then BATCH CKafka records (logs on, to /dev/null).
FUNCTION = """
import json, os, sys, time
from contextlib import redirect_stdout
from bench.__main__ import ckafka_batch
from sms_conversion.handler import Application
app = Application()
with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
    app.handle(ckafka_batch("warm-" + sys.argv[1], 32), {"time_limit_in_ms": 600000})
    started = time.perf_counter()
    summary = app.handle(ckafka_batch("run-" + sys.argv[1], int(sys.argv[2])), {"time_limit_in_ms": 600000})
    elapsed = time.perf_counter() - started
assert summary["Reported"] == int(sys.argv[2]), summary
print(elapsed)
"""

# The baseline: the SDK as its documentation builds it, one client per thread, CONCURRENCY threads.
BARE = """
import itertools, sys, threading, time
from bench.__main__ import bare_client
from tencentcloud.sms.v20210111 import models
import os
endpoint, prefix, count, threads = os.environ["SMS_ENDPOINT"], sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
clients = [bare_client(endpoint) for _ in range(threads)]
def call(client, serial):
    request = models.ReportConversionRequest()
    request.SmsSdkAppId, request.SerialNo = "1400006666", serial
    assert client.ReportConversion(request).ReportConversionStatus.Code == "ok"
for index, client in enumerate(clients):
    call(client, f"warm-{prefix}-{index}")
numbers = itertools.count()
def worker(client):
    while (number := next(numbers)) < count:
        call(client, f"{prefix}-{number}")
running = [threading.Thread(target=worker, args=(client,)) for client in clients]
started = time.perf_counter()
for thread in running: thread.start()
for thread in running: thread.join()
print(time.perf_counter() - started)
"""


@dataclass
class ShareResult:
    percent: int
    memory_mb: int | None
    function_rate: float | None = None
    bare_rate: float | None = None
    cold_ms: float | None = None
    floor_ms: float | None = None
    problem: str | None = None


class CpuQuota:
    """A cgroup with a CPU quota that child processes join at start; `problem` says why there is none."""

    def __init__(self, percent: int) -> None:
        self.percent = percent
        self.path: Path | None = None
        self.problem: str | None = None

    def __enter__(self) -> CpuQuota:
        name = f"sms-bench-{os.getpid()}-{self.percent}"
        quota = PERIOD_US * self.percent // 100
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = next((p for p in (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup")) if _v2_with_cpu(p)), None)
        try:
            if (v1 / "cpu.cfs_quota_us").exists():
                self.path = v1 / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (self.path / "cpu.cfs_quota_us").write_text(str(quota if self.percent < 100 else -1))
            elif v2 is not None:
                self.path = v2 / name
                self.path.mkdir(exist_ok=True)
                (self.path / "cpu.max").write_text(f"{quota if self.percent < 100 else 'max'} {PERIOD_US}")
            else:
                self.problem = "no cgroup CPU controller here (neither v1 cpu.cfs_quota_us nor v2 cpu.max)"
        except OSError as exc:
            self.problem = f"cannot set a CPU quota here ({exc.strerror or type(exc).__name__}: needs root)"
            self.path = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()

    def _join(self) -> None:
        """In the child, before exec: the quota covers its interpreter start and imports too."""
        assert self.path is not None
        with open(self.path / "cgroup.procs", "w") as out:
            out.write(str(os.getpid()))

    def run(self, code: str, args: list[str], env: dict[str, str]) -> str:
        """The child's last stdout line."""
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env=env,
            preexec_fn=self._join,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
        return done.stdout.strip().splitlines()[-1]

    def ready_seconds(self, code: str, env: dict[str, str]) -> float:
        """Spawn to READY under the quota, timed from outside (see bench.__main__.until_ready)."""
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, preexec_fn=self._join
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "READY":
                break
        elapsed = time.perf_counter() - started
        process.stdout.read()
        assert process.wait() == 0
        return elapsed


def _v2_with_cpu(path: Path) -> bool:
    try:
        return "cpu" in (path / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False


def measure_shares(endpoint: str, env: dict[str, str], cold: dict[str, str], cold_runs: int) -> list[ShareResult]:
    results = []
    for percent, memory in SHARES:
        result = ShareResult(percent, memory)
        with CpuQuota(percent) as quota:
            if quota.problem is not None:
                result.problem = quota.problem
            else:
                child_env = dict(env)
                seconds = float(quota.run(FUNCTION, [f"f{percent}", str(BATCH)], child_env))
                result.function_rate = BATCH / seconds
                bare = float(quota.run(BARE, [f"b{percent}", str(BATCH), str(CONCURRENCY)], child_env))
                result.bare_rate = BATCH / bare
                runs = cold_runs if percent >= 33 else max(3, cold_runs // 3)
                quota.ready_seconds(cold["handler"], child_env)  # bytecode written once, outside the timing
                handler, floor = [], []
                for _ in range(runs):
                    handler.append(quota.ready_seconds(cold["handler"], child_env))
                    floor.append(quota.ready_seconds(cold["floor"], child_env))
                result.cold_ms = statistics.median(handler) * 1000
                result.floor_ms = statistics.median(floor) * 1000
        results.append(result)
    return results

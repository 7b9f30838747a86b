"""The HTTP/1.1 framing, hand-written (`sms_conversion.framing`) against h11 (the sans-IO parser httpcore and
uvicorn use), in one run: CPU per exchange, import time, and the import under the 8 % quota that stands for a
128 MB function (its share of a cold start there). The decision and its figures: docs/development.md#dependencies.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import timeit
from pathlib import Path
from typing import Any

from bench import cpu_share

ROOT = Path(__file__).resolve().parent.parent
BODY = (
    b'{"Response": {"ReportConversionStatus": {"Code": "ok", "Message": "report success"}, '
    b'"RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}}'
)
# What the API's gateway sends back for one ReportConversion (header set as seen from the emulator and nginx).
ANSWER = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Sun, 06 Dec 2026 10:00:00 GMT\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\nConnection: keep-alive\r\nX-TC-RequestId: a0aabda6\r\n\r\n" % len(BODY)
) + BODY
REQUEST_BODY = '{"SmsSdkAppId": "1400006666", "SerialNo": "5000:1045710669157053657849499619"}'
HEADERS = {
    "Content-Type": "application/json",
    "X-TC-Action": "ReportConversion",
    "X-TC-Version": "2021-01-11",
    "X-TC-Region": "ap-guangzhou",
    "X-TC-Timestamp": "1765000000",
    "Authorization": "TC3-HMAC-SHA256 Credential=AKID/2026-12-06/sms/tc3_request, SignedHeaders=content-type;host, "
    "Signature=0123456789abcdef",
}
EXCHANGES = 20_000


class _Bytes:
    """framing.Source over bytes already received (no socket: only the framing's own work is timed)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def head(self, limit: int) -> bytes:
        end = self.data.index(b"\r\n\r\n", self.at) + 4
        out, self.at = self.data[self.at : end], end
        return out

    def line(self, limit: int) -> bytes:
        end = self.data.index(b"\r\n", self.at) + 2
        out, self.at = self.data[self.at : end], end
        return out

    def exactly(self, size: int) -> bytes:
        out, self.at = self.data[self.at : self.at + size], self.at + size
        return out

    def rest(self, limit: int) -> bytes:
        out, self.at = self.data[self.at :], len(self.data)
        return out


def hand_written() -> Any:
    from sms_conversion import framing, transport

    connection = transport.Connection("https://sms.tencentcloudapi.com", cafile="")

    def exchange() -> Any:
        connection._message("POST", "https://sms.tencentcloudapi.com/", REQUEST_BODY, HEADERS)
        return framing.read_answer(_Bytes(ANSWER), "POST")

    return exchange


def with_h11() -> Any:
    import h11

    data = REQUEST_BODY.encode()
    headers = [*HEADERS.items(), ("Host", "sms.tencentcloudapi.com"), ("Content-Length", str(len(data)))]

    def exchange() -> Any:
        connection = h11.Connection(h11.CLIENT)
        connection.send(h11.Request(method="POST", target="/", headers=headers))
        connection.send(h11.Data(data=data))
        connection.send(h11.EndOfMessage())
        connection.receive_data(ANSWER)
        parts = []
        while not isinstance(event := connection.next_event(), h11.EndOfMessage):
            if isinstance(event, h11.Data):
                parts.append(event.data)
        return b"".join(parts)

    return exchange


def cpu_per_exchange(exchange: Any) -> float:
    """Microseconds: the least of 5 rounds of EXCHANGES (the least is the one least disturbed)."""
    return min(timeit.repeat(exchange, number=EXCHANGES, repeat=5)) / EXCHANGES * 1e6


# What the import adds to the function's cold start: measured after the SDK client the function imports anyway
# (re, zlib, ssl and the rest are loaded by then, as in the function).
_IMPORT = (
    "import time; from tencentcloud.sms.v20210111 import sms_client; started = time.perf_counter(); "
    "import {module}; print(time.perf_counter() - started)"
)


def import_ms(module: str, runs: int = 7) -> float:
    """Median milliseconds to import `module` in a fresh interpreter, after the SDK (bytecode cached by a first
    run)."""
    code = _IMPORT.format(module=module)
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    times = [
        float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times) * 1000


def import_ms_under_quota(module: str, percent: int, runs: int = 5) -> float | None:
    with cpu_share.CpuQuota(percent) as quota:
        if quota.problem is not None:
            return None
        code = _IMPORT.format(module=module)
        quota.run(code, [], {})
        return statistics.median(float(quota.run(code, [], {})) for _ in range(runs)) * 1000


def measure() -> dict[str, float | None]:
    return {
        "ours_us": cpu_per_exchange(hand_written()),
        "h11_us": cpu_per_exchange(with_h11()),
        "ours_import_ms": import_ms("sms_conversion.framing"),
        "h11_import_ms": import_ms("h11"),
        "ours_import_8_ms": import_ms_under_quota("sms_conversion.framing", 8),
        "h11_import_8_ms": import_ms_under_quota("h11", 8),
    }

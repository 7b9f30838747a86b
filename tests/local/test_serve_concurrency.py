"""`make serve` under concurrent requests: every line the function writes carries its own request's id, every
message gets its outcome line, and the server's stdout is never swapped (the lines go to stderr)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import ROOT, Served, free_port, log_lines, wait_for_port

REQUESTS = 64


def test_concurrent_requests_each_log_their_own_request_id(tmp_path: Path) -> None:
    # Both as an operator runs them: `make emulator` and `make serve` pointed at it, each a process of its own
    # (128 calls at once from one process to an emulator inside this test process starve on its threads).
    emulator_port = free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(emulator_port)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    wait_for_port(emulator_port)
    server = Served(tmp_path, {"SMS_ENDPOINT": f"http://127.0.0.1:{emulator_port}", "SMS_CONCURRENCY": "4"})
    try:

        def post(number: int) -> tuple[int, str, str]:
            # Two messages a request: both go through the pipeline's worker threads.
            body = json.dumps([{"SmsSdkAppId": "1400006666", "SerialNo": f"5000:c-{number}-{part}"} for part in "ab"])
            request = urllib.request.Request(server.url, data=body.encode(), method="POST")
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
            return number, answer["RequestId"], answer["Results"][0]["Outcome"]

        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            answers = list(pool.map(post, range(REQUESTS)))
    finally:
        server.stop()
        emulator.terminate()
        emulator.wait(timeout=10)
    stderr = server.stderr
    assert [outcome for _, _, outcome in answers] == ["reported"] * REQUESTS
    request_of = {number: request_id for number, request_id, _ in answers}
    assert len(set(request_of.values())) == REQUESTS
    lines = log_lines("\n".join(line for line in stderr.splitlines() if line.startswith("{")))
    records = [line for line in lines if line.get("event") == "record"]
    assert len(records) == 2 * REQUESTS  # every message's outcome line, none lost
    for line in records:
        number = int(line["serial_no"].split("-")[1])
        assert line["request_id"] == request_of[number], line
    invocations = [line for line in lines if line.get("event") == "invocation"]
    assert sorted(line["request_id"] for line in invocations) == sorted(request_of.values())
    assert server.stdout == ""  # the function's lines went to stderr; the process's stdout was never swapped in

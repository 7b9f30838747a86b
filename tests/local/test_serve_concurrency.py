"""`make serve` under concurrent requests: every line the function writes carries its own request's id, every
message gets its outcome line, and the server's stdout is never swapped (the lines go to stderr)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import CONFIG_VARIABLES, ROOT, free_port, log_lines

REQUESTS = 64


def wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)


def test_concurrent_requests_each_log_their_own_request_id(tmp_path: Path) -> None:
    # Both as an operator runs them: `make emulator` and `make serve` pointed at it, each a process of its own
    # (128 calls at once from one process to an emulator inside this test process starve on its threads).
    emulator_port, port = free_port(), free_port()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(emulator_port)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    wait_for(emulator_port)
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env.update({"HOME": str(tmp_path), "SMS_ENDPOINT": f"http://127.0.0.1:{emulator_port}", "SMS_CONCURRENCY": "4"})
    # Into files, not pipes: nobody reads a pipe while the requests run, and a full one would stall the server.
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with out_path.open("w") as out, err_path.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=err
        )
    try:
        wait_for(port)

        def post(number: int) -> tuple[int, str, str]:
            # Two messages a request: both go through the pipeline's worker threads.
            body = json.dumps([{"SmsSdkAppId": "1400006666", "SerialNo": f"5000:c-{number}-{part}"} for part in "ab"])
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body.encode(), method="POST")
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
            return number, answer["RequestId"], answer["Results"][0]["Outcome"]

        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            answers = list(pool.map(post, range(REQUESTS)))
    finally:
        process.terminate()
        process.wait(timeout=10)
        emulator.terminate()
        emulator.wait(timeout=10)
    stdout, stderr = out_path.read_text(), err_path.read_text()
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
    assert all(not line.startswith("{") for line in stdout.splitlines())  # the function never wrote to stdout

"""The callers teams copy (callers/<language>/) sign as docs/security.md says: each runs as its stock toolchain runs a
single file, against a real `make serve` with signing on, and the emulator behind it receives the report.

Slow (toolchains compile and start JVMs): `make test-slow`. In CI a missing toolchain fails the test (.ci/run
installs Go and PHP; the machine has Node.js and a JDK); elsewhere it is skipped with the install line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, Served, free_port

from emulator import SmsEmulator

pytestmark = pytest.mark.slow
SECRET = "caller-signing-secret-0001"
CALLERS = {
    "java": (["java", "Report.java"], "a JDK 11+ (apt-get install default-jdk-headless)"),
    "go": (["go", "run", "report.go"], "Go (apt-get install golang-go)"),
    "node": (["node", "report.mjs"], "Node.js 18+ (apt-get install nodejs)"),
    "php": (["php", "report.php"], "PHP (apt-get install php-cli)"),
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, _emulator_server: SmsEmulator) -> Iterator[Served]:
    """`make serve`'s command with signing on, in front of the test's emulator (an emulator you run)."""
    extra = {"REPORT_SIGNING_SECRET": SECRET, "SMS_ENDPOINT": _emulator_server.endpoint, "LOG_LEVEL": "WARNING"}
    server = Served(tmp_path_factory.mktemp("serve"), extra)
    yield server
    server.stop()


def toolchain(language: str) -> list[str]:
    command, install = CALLERS[language]
    if shutil.which(command[0]) is None:
        message = f"{command[0]} is not installed: {install}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run every caller: {message}")
        pytest.skip(message)
    return command


def run_caller(language: str, url: str, secret: str, body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "URL": url,
        "REPORT_SIGNING_SECRET": secret,
    }
    for name in ("GOCACHE", "GOPATH", "JAVA_HOME", "LANG"):
        if name in os.environ:
            env[name] = os.environ[name]
    return subprocess.run(
        [*toolchain(language), body],
        cwd=ROOT / "callers" / language,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_make_serve_says_signing_is_on(served: Served) -> None:
    assert "signing on (1 secret in REPORT_SIGNING_SECRET); push token off" in served.stderr


@pytest.mark.parametrize("language", sorted(CALLERS))
def test_each_caller_signs_and_its_conversion_is_reported(
    language: str, served: Served, emulator: SmsEmulator, tmp_path: Path
) -> None:
    serial = f"5000:caller-{language}-{time.time_ns()}"
    body = json.dumps({"SmsSdkAppId": "1400006666", "SerialNo": serial})
    done = run_caller(language, served.url, SECRET, body, tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr)
    status, answer = done.stdout.split("\n", 1)
    assert status == "HTTP 200"
    assert json.loads(answer)["Results"] == [
        {"SerialNo": serial, "Outcome": "reported", "RequestId": json.loads(answer)["Results"][0]["RequestId"]}
    ]
    assert [report["SerialNo"] for report in emulator.reports] == [serial]


@pytest.mark.parametrize("language", sorted(CALLERS))
def test_each_caller_with_a_wrong_secret_gets_401_and_exits_non_zero(
    language: str, served: Served, emulator: SmsEmulator, tmp_path: Path
) -> None:
    body = json.dumps({"SmsSdkAppId": "1400006666", "SerialNo": f"5000:wrong-{language}"})
    done = run_caller(language, served.url, "not-the-secret", body, tmp_path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout.startswith("HTTP 401\n")
    assert json.loads(done.stdout.split("\n", 1)[1])["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert emulator.reports == []


@pytest.mark.parametrize("language", sorted(CALLERS))
def test_each_caller_says_what_is_missing_or_unreachable_in_one_line(language: str, tmp_path: Path) -> None:
    # `go run` reports any non-zero exit of the program as 1, with an "exit status N" line of its own.
    could_not_ask, go_line = (1, ["exit status 2"]) if language == "go" else (2, [])
    usage = run_caller(language, "", SECRET, "{}", tmp_path)
    assert usage.returncode == could_not_ask
    assert usage.stderr.strip().splitlines() == [usage.stderr.splitlines()[0], *go_line]
    assert usage.stderr.startswith("usage: URL=")
    refused = run_caller(language, f"http://127.0.0.1:{free_port()}/", SECRET, "{}", tmp_path)
    assert refused.returncode == could_not_ask, (refused.stdout, refused.stderr)
    assert refused.stderr.startswith("could not reach http://127.0.0.1:")
    assert refused.stderr.strip().splitlines() == [refused.stderr.splitlines()[0], *go_line]


@pytest.mark.parametrize("language", sorted(CALLERS))
def test_each_caller_is_short_and_names_the_signed_bytes(language: str) -> None:
    [source] = [path for path in (ROOT / "callers" / language).iterdir() if path.is_file()]
    text = source.read_text()
    assert len(text.splitlines()) <= 60
    assert "The signed bytes: the X-Timestamp value, a dot, then the raw body exactly as sent." in text
    assert f"../callers/{language}/{source.name}" in (ROOT / "docs" / "security.md").read_text()

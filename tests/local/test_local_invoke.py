"""`make invoke`: every sample event against the embedded emulator, the way the deployment sees it.

Most runs are in-process (the runner's own `main`, a fresh warm instance per event); a few go through
the command a user types, `make invoke`, to pin what only a real process shows: stdout holds the answer
alone, exit statuses, one clear line for a bad file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from conftest import CONFIG_VARIABLES, EVENTS, ROOT

import local.invoke
from emulator import SmsEmulator
from local.invoke import exit_status
from local.runtime import import_handler
from sms_conversion.handler import Application

SECRET = "invoke-test-signing-secret-0001"
PUSH_TOKEN = "invoke-test-push-token-0001"
SAMPLES = sorted(path.name for path in EVENTS.glob("*.json"))


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The operator's shell: none of the function's variables, no credentials; restored afterwards."""
    with mock.patch.dict(os.environ):
        for name in CONFIG_VARIABLES:
            os.environ.pop(name, None)
        os.environ["HOME"] = str(tmp_path)
        yield os.environ  # type: ignore[misc]


def invoke(name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    """One `make invoke EVENT=events/<name>`, in-process, on a fresh warm instance (as a fresh process has)."""
    import_handler()
    setattr(sys.modules["index"], "application", Application())  # noqa: B010 - a module found at run time
    status = local.invoke.main([f"events/{name}"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out), captured.err


def answer_status(result: dict[str, Any]) -> int:
    return int(result.get("statusCode", result.get("StatusCode", 200)))


@pytest.mark.usefixtures("shell")
@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_event_is_reported_and_stdout_is_the_answer_alone(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, result, stderr = invoke(name, capsys)
    assert status == 0, stderr
    assert answer_status(result) == 200
    assert result.get("Failed", 0) == 0
    assert "against the SMS emulator" in stderr
    assert int(stderr.split("emulator accepted ")[1].split()[0]) >= 1
    assert {json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")} >= {"record"}


@pytest.mark.parametrize("name", SAMPLES)
def test_with_the_deploy_instructions_signing_secret_exported_every_sample_still_works(
    name: str, shell: dict[str, str], emulator: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deploy step 3 exports REPORT_SIGNING_SECRET: the runner signs HTTP events as callers would.

    Against an emulator already running (`SMS_ENDPOINT=http://127.0.0.1:...`, as with `make emulator`)."""
    shell["REPORT_SIGNING_SECRET"] = SECRET
    shell["SMS_ENDPOINT"] = emulator.endpoint
    status, result, stderr = invoke(name, capsys)
    assert (status, answer_status(result)) == (0, 200), stderr
    assert "against the SMS emulator you run" in stderr
    assert len(emulator.reports) >= 1
    if "httpMethod" in json.loads((EVENTS / name).read_text()):
        assert "signed it with REPORT_SIGNING_SECRET" in stderr


@pytest.mark.parametrize("name", ["cmq_push.json", "cmq_push_simplified.json", "function_url.json"])
def test_with_a_push_token_exported_http_events_carry_it_in_their_url(
    name: str, shell: dict[str, str], emulator: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    shell["CMQ_PUSH_TOKEN"] = PUSH_TOKEN
    shell["SMS_ENDPOINT"] = emulator.endpoint
    status, result, stderr = invoke(name, capsys)
    assert (status, answer_status(result)) == (0, 200), stderr
    assert "added ?token=<CMQ_PUSH_TOKEN>" in stderr
    assert PUSH_TOKEN not in stderr


def make_invoke(tmp_path: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    """The command as typed, `make invoke ...`, on this test's virtual environment (never a new one)."""
    venv = Path(sys.executable).parent.parent
    # Not the variables of a `make test` this may run under: a user's shell has none of them.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CONFIG_VARIABLES and key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
    }
    env["HOME"] = str(tmp_path)
    command = ["make", "invoke", f"VENV={venv}", "STAMP=", *variables]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_make_invoke_prints_the_answer_alone_on_stdout_without_make_s(tmp_path: Path) -> None:
    done = make_invoke(tmp_path, "EVENT=events/ckafka.json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # `make invoke | jq .` reads this
    assert (summary["Trigger"], summary["Reported"]) == ("ckafka", 2)


@pytest.mark.slow
def test_make_turns_a_4xx_answer_into_status_2_and_the_runner_keeps_its_own(tmp_path: Path) -> None:
    event = tmp_path / "bad.json"
    event.write_text(json.dumps({"SerialNo": ""}))
    done = make_invoke(tmp_path, f"EVENT={event}")
    assert done.returncode == 2  # make's own status for any failure (README says so)
    assert json.loads(done.stdout)["StatusCode"] == 400
    direct = run_local_invoke(tmp_path, str(event))
    assert direct.returncode == 1


def run_local_invoke(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local.invoke", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=clean_env(tmp_path), timeout=60)


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env["HOME"] = str(tmp_path)
    return env


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read the event file"), ("{oops", "is not valid JSON (line 1, column 2)")],
)
def test_a_bad_event_file_is_one_clear_line_and_status_64(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    done = run_local_invoke(tmp_path, str(path))
    assert done.returncode == 64
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"make invoke: {path}: ")
    assert message in line
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("result", "status"),
    [
        ({"statusCode": 200}, 0),
        ({"statusCode": 400}, 1),
        ({"StatusCode": 503}, 1),
        ({"Trigger": "ckafka", "Records": 1}, 0),
    ],
)
def test_the_exit_status_follows_the_answer(result: dict[str, Any], status: int) -> None:
    assert exit_status(result) == status


@pytest.mark.slow
def test_the_real_flag_without_credentials_fails_fast_and_clearly(tmp_path: Path) -> None:
    done = run_local_invoke(tmp_path, "events/direct.json", "--real")
    assert "REAL SMS API" in done.stderr
    assert "still carries a sample SmsSdkAppId" in done.stderr
    assert done.returncode == 1
    assert json.loads(done.stdout)["Error"]["Code"] == "InternalError.MissingCredentials"


@pytest.mark.parametrize("tool", ["serve", "emulator"])
def test_a_busy_port_is_one_clear_line_not_a_traceback(tool: str, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    import emulator.__main__
    import local.serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        main = local.serve.main if tool == "serve" else emulator.__main__.main
        assert main(["--port", str(port)]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"make {tool}: cannot listen on 127.0.0.1:{port}: the port is in use (another make {tool}?); "
        "choose another with PORT=..."
    )


# ---- settings the runners would otherwise ignore, or that the function would refuse -------------------


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        (
            {"SMS_ENDPOINT": "127.0.0.1:9000"},
            "SMS_ENDPOINT=127.0.0.1:9000 is read as https://127.0.0.1:9000 (a host without a scheme is https://, as "
            "the function reads it); for the emulator write SMS_ENDPOINT=http://127.0.0.1:9000",
        ),
        ({"SMS_ENDPOINT": "sms.tencentcloudapi.com"}, "is not on this machine: add REAL=1"),
        ({"LOG_LEVEL": "verbose"}, "invalid configuration: LOG_LEVEL:"),
        ({"REPORT_SIGNING_SECRET": "short-secret-x"}, "invalid configuration: REPORT_SIGNING_SECRET:"),
        ({"SMS_MAX_ATTEMPTS": "99"}, "invalid configuration: SMS_MAX_ATTEMPTS:"),
        ({"HTTP_PROXY": "socks5://127.0.0.1:1080"}, "invalid configuration: HTTP_PROXY: a SOCKS proxy"),
    ],
    ids=["loopback-without-scheme", "real-api-without-real", "log-level", "short-secret", "out-of-range", "socks"],
)
@pytest.mark.parametrize("runner", ["invoke", "serve"])
def test_a_setting_the_function_would_refuse_or_misread_stops_the_runner_in_one_line(
    runner: str, variables: dict[str, str], words: str, shell: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import local.serve

    shell.update(variables)
    status = local.invoke.main(["events/ckafka.json"]) if runner == "invoke" else local.serve.main(["--port", "0"])
    err = capsys.readouterr().err
    assert status == 78
    [line] = err.strip().splitlines()
    assert line.startswith(f"make {runner}: ")
    assert words in line
    for name, value in variables.items():
        if name != "SMS_ENDPOINT":
            assert value not in line  # the variable is named, its value never shown


@pytest.mark.usefixtures("shell")
def test_an_emulator_you_run_is_the_one_called_and_the_banner_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    mine = SmsEmulator().start()
    try:
        os.environ["SMS_ENDPOINT"] = mine.endpoint
        status, result, err = invoke("ckafka.json", capsys)
        assert status == 0
        assert f"against the SMS emulator you run at {mine.endpoint} (SMS_ENDPOINT from your shell)" in err
        assert result["Reported"] == len(mine.reports) == 2
    finally:
        mine.stop()

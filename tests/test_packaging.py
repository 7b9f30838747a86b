"""What users touch besides the code: template.yaml, README, `make invoke`'s runner, the cold-start path."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from conftest import CONFIG_VARIABLES, EVENTS, ROOT

from local.invoke import exit_status
from local.runtime import function_from_template
from sms_conversion.settings import Settings, load_settings

SETTINGS = sorted(Settings.model_fields)


def test_template_lists_every_setting_and_they_load() -> None:
    _, _, properties = function_from_template()
    variables = properties["Environment"]["Variables"]
    assert sorted(variables) == SETTINGS
    settings = load_settings({name: str(value) for name, value in variables.items()})
    assert settings.SMS_CONCURRENCY == 16
    assert settings.SMS_SDK_APP_ID is None


def test_readme_documents_settings_events_and_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in SETTINGS:
        assert f"`{name}`" in readme, name
    for event in EVENTS.glob("*.json"):
        assert f"events/{event.name}" in readme, event.name
    for command in ("make invoke", "make test", "make lint", "make bench"):
        assert command in readme


def run_local_invoke(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local.invoke", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=clean_env(tmp_path), timeout=60)


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env["HOME"] = str(tmp_path)
    return env


def test_local_invoke_runs_every_sample_event(tmp_path: Path) -> None:
    """Every sample, as a user runs it: return value alone on stdout, JSON logs on stderr, exit 0."""
    names = sorted(path.name for path in EVENTS.glob("*.json"))
    command = [sys.executable, "-m", "local.invoke"]
    # Started together: each is a fresh interpreter, and one at a time they cost seconds.
    running = {
        name: subprocess.Popen(
            [*command, f"events/{name}"], cwd=ROOT, env=clean_env(tmp_path), stdout=PIPE, stderr=PIPE, text=True
        )
        for name in names
    }
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, (name, stderr)
        assert "against the SMS emulator" in stderr
        accepted = int(stderr.split("emulator accepted ")[1].split()[0])
        assert accepted >= 1, name
        logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
        assert {line["event"] for line in logs} >= {"record", "invocation"}, name
        result = json.loads(stdout)  # nothing but the return value
        assert result.get("statusCode", result.get("StatusCode", 200)) == 200, name
        assert result.get("Failed", 0) == 0, name


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read the event file"), ("{oops", "is not valid JSON (line 1, column 2)")],
)
def test_local_invoke_bad_event_file_is_one_clear_line(tmp_path: Path, content: str | None, message: str) -> None:
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
def test_local_invoke_exit_status_follows_the_answer(result: dict[str, Any], status: int) -> None:
    assert exit_status(result) == status


def test_local_invoke_real_flag_without_credentials_fails_fast_and_clearly(tmp_path: Path) -> None:
    done = run_local_invoke(tmp_path, "events/direct.json", "--real")
    assert "REAL SMS API" in done.stderr
    assert "still carries a sample SmsSdkAppId" in done.stderr
    assert done.returncode == 1
    assert json.loads(done.stdout)["Error"]["Code"] == "InternalError.MissingCredentials"


def test_cold_start_imports_nothing_the_handler_does_not_need(tmp_path: Path) -> None:
    """Powertools' lesson (issue #8406): eager imports cost cold start. Redis loads only with REDIS_URL."""
    script = (
        "import sys; sys.path.insert(0, 'src'); import index; "
        "r = index.main_handler({'SerialNo': 'cold-1'}, {'time_limit_in_ms': 3000}); "
        "print(sorted(m for m in ('redis', 'yaml', 'emulator', 'pytest', 'httpx') if m in sys.modules))"
    )
    env = clean_env(tmp_path)
    env["SMS_SDK_APP_ID"] = "1400006666"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# The old SCF CLI's `scf native invoke` eval()s the event file: JSON's true/false/null break it.
NATIVE_INVOKE_SAFE = sorted(
    path.name for path in EVENTS.glob("*.json") if path.name not in ("apigw.json", "apigw_base64.json")
)


@pytest.mark.parametrize("event", NATIVE_INVOKE_SAFE)
def test_sample_events_for_scf_native_invoke_survive_its_eval(event: str) -> None:
    text = (EVENTS / event).read_text()
    assert ast.literal_eval(text) == json.loads(text)

"""What users touch besides the code: template.yaml, README, the cold-start path."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIG_VARIABLES, EVENTS, ROOT

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


def docs() -> str:
    return "\n".join(page.read_text() for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_readme_documents_settings_and_the_docs_every_event_and_command() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in SETTINGS:
        assert f"`{name}`" in readme, name  # the configuration table
    for event in EVENTS.glob("*.json"):
        assert f"events/{event.name}" in docs(), event.name
    for command in ("make invoke", "make test", "make lint", "make bench"):
        assert command in docs()


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env["HOME"] = str(tmp_path)
    return env


def test_cold_start_imports_nothing_the_handler_does_not_need(tmp_path: Path) -> None:
    """Powertools' lesson (issue #8406): eager imports cost cold start. Redis loads only with REDIS_URL."""
    script = (
        "import sys; import index; "
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


def test_the_docs_say_which_codes_are_which_and_name_every_log_event() -> None:
    from sms_conversion import classifier
    from sms_conversion.logfields import EVENTS as LOG_EVENTS

    readme = docs()
    for rule in classifier.RULES:
        assert f"`{rule.pattern}`" in readme, rule.pattern
    for event in LOG_EVENTS:
        assert f"`{event}`" in readme, event
    for command in ("make test-slow", "make deploy", "make destroy", "make old-cli", "--from-logs"):
        assert command in readme, command

"""The old SCF CLI (pip `scf` 0.2.8) runs the function from a fresh checkout, with the project's venv.

Slow: it installs that CLI into a virtual environment of its own under build/ (kept between runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIG_VARIABLES, ROOT

from emulator import SmsEmulator
from local import old_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
# Its own pins do not install on modern Python; these do (markupsafe, jinja2, itsdangerous, werkzeug of 2020).
CLI_PACKAGES = ["scf==0.2.8", "chardet", "markupsafe<2.0.0", "jinja2<3", "itsdangerous<2.1", "werkzeug<2.1"]


@pytest.fixture(scope="module")
def scf_cli() -> Path:
    venv = ROOT / "build" / f"scf-cli-{sys.version_info.major}.{sys.version_info.minor}"
    binary = venv / "bin" / "scf"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *CLI_PACKAGES,
            ],
            check=True,
            capture_output=True,
        )
    return binary


def test_template_codeuri_is_a_directory_of_the_checkout() -> None:
    """What the old CLI checked first, and what stopped it in a fresh clone before."""
    from local.runtime import function_from_template

    _, _, properties = function_from_template()
    assert (ROOT / properties["CodeUri"]).is_dir()


@pytest.mark.parametrize("event", ["ckafka.json", "direct.json", "cmq_topic.json"])
def test_scf_native_invoke_reports_through_the_projects_virtual_environment(
    scf_cli: Path, emulator: SmsEmulator, tmp_path: Path, event: str
) -> None:
    template, env_file = old_cli.write(emulator.endpoint, tmp_path / "old-cli")
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    # The project's interpreter first on PATH: the CLI runs `python3` for a Python3.6 function.
    env.update({"PATH": f"{Path(sys.executable).parent}:{env['PATH']}", "HOME": str(tmp_path)})
    done = subprocess.run(
        [str(scf_cli), "native", "invoke", "-t", str(template), "-e", f"events/{event}", "-n", str(env_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result.get("StatusCode", 200) == 200
    assert result.get("Failed", 0) == 0
    assert len(emulator.reports) >= 1
    # The handler's own JSON lines came through the CLI's runtime unchanged.
    assert '"event": "invocation"' in done.stdout + done.stderr

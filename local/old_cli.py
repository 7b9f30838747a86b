"""`make old-cli`: what the old SCF CLI (pip `scf`, last released 2020) needs to run the function locally.

    python -m local.old_cli [--endpoint http://127.0.0.1:9000]
    # then, with the project's .venv/bin first on PATH (its python3 runs the handler):
    PATH="$PWD/.venv/bin:$PATH" scf native invoke -t build/old-cli/template.yaml -e events/ckafka.json \\
        -n build/old-cli/env.json

That CLI validates templates against its own schema, which knows Python 2.7 and 3.6 only, so it refuses
template.yaml's `Runtime: Python3.10` whatever else is right. This writes a copy of template.yaml that
differs in two values: `Runtime: Python3.6` (the CLI then runs `python3` from PATH: the project's
virtual environment, Python 3.10) and `CodeUri` as an absolute path to src/ (the CLI checks it relative
to the working directory and joins it to the template's). `env.json` points the function at an emulator
(`make emulator`) with the temporary keys SCF would inject. Nothing here is deployed or committed
(build/ is ignored).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from emulator import TEMPORARY_KEY
from local.runtime import ROOT, TEMPLATE, function_from_template

OUTPUT = ROOT / "build" / "old-cli"


def write(endpoint: str, output: Path = OUTPUT) -> tuple[Path, Path]:
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    namespace, name, _ = function_from_template()
    properties = template["Resources"][namespace][name]["Properties"]
    properties["Runtime"] = "Python3.6"
    properties["CodeUri"] = str(ROOT / "src")
    output.mkdir(parents=True, exist_ok=True)
    template_path = output / "template.yaml"
    template_path.write_text(yaml.safe_dump(template, sort_keys=False), encoding="utf-8")
    variables = {key: str(value) for key, value in (properties.get("Environment") or {}).get("Variables", {}).items()}
    variables.update(
        {
            "SMS_ENDPOINT": endpoint,
            "SMS_SDK_APP_ID": variables.get("SMS_SDK_APP_ID") or "1400006666",
            "TENCENTCLOUD_SECRETID": TEMPORARY_KEY.secret_id,
            "TENCENTCLOUD_SECRETKEY": TEMPORARY_KEY.secret_key,
            "TENCENTCLOUD_SESSIONTOKEN": TEMPORARY_KEY.token or "",
        }
    )
    env_path = output / "env.json"
    env_path.write_text(json.dumps(variables, indent=2), encoding="utf-8")
    return template_path, env_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make old-cli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", default="http://127.0.0.1:9000", help="the emulator (make emulator)")
    args = parser.parse_args(argv)
    template_path, env_path = write(args.endpoint)
    relative = template_path.relative_to(ROOT), env_path.relative_to(ROOT)
    print(f"wrote {relative[0]} and {relative[1]}; with `make emulator` running:", file=sys.stderr)
    print(
        f'PATH="$PWD/.venv/bin:$PATH" scf native invoke -t {relative[0]} -e events/ckafka.json -n {relative[1]}',
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

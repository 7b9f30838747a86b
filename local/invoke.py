"""Run `main_handler` on an event file as SCF's Python runtime would, against the embedded emulator.

    python -m local.invoke events/ckafka.json          # emulator, no cloud account
    python -m local.invoke events/apigw.json --real    # the real API with your local credentials

The environment comes from template.yaml (variables already set in your shell
win), the context carries what SCF passes, and the emulator plays the SMS API
with temporary keys injected the way SCF injects the execution role's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ROLE_VARIABLES = ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN")


def function_from_template(path: Path) -> tuple[str, str, dict[str, Any]]:
    """(namespace, function name, properties) of the first function in a TCSAM template."""
    template = yaml.safe_load(path.read_text(encoding="utf-8"))
    for namespace, resources in (template.get("Resources") or {}).items():
        if not isinstance(resources, dict):
            continue
        for name, resource in resources.items():
            if isinstance(resource, dict) and resource.get("Type") == "TencentCloud::Serverless::Function":
                return namespace, name, resource.get("Properties") or {}
    raise SystemExit(f"{path}: no TencentCloud::Serverless::Function found")


def context_for(namespace: str, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    timeout = int(properties.get("Timeout") or 3)
    return {
        "request_id": str(uuid.uuid4()),
        "time_limit_in_ms": timeout * 1000,
        "memory_limit_in_mb": int(properties.get("MemorySize") or 128),
        "function_name": name,
        "function_version": "$LATEST",
        "namespace": namespace,
        "tencentcloud_region": os.environ.get("SMS_REGION", "ap-guangzhou"),
        "tencentcloud_appid": "1250000000",
        "tencentcloud_uin": "100000000001",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make invoke", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("event", type=Path, help="event file, e.g. events/ckafka.json")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--real", action="store_true", help="call the real SMS API with your local credentials")
    args = parser.parse_args(argv)

    namespace, name, properties = function_from_template(args.template)
    variables = ((properties.get("Environment") or {}).get("Variables")) or {}
    for key, value in variables.items():
        os.environ.setdefault(str(key), "" if value is None else str(value))
    event = json.loads(args.event.read_text(encoding="utf-8"))

    emulator = None
    if args.real:
        # Never send emulator keys to the real API, and never a role left in the shell.
        for variable in ROLE_VARIABLES:
            os.environ.pop(variable, None)
        print(
            f"# invoking {name} with {args.event} against the REAL SMS API ({os.environ['SMS_ENDPOINT']})",
            file=sys.stderr,
        )
    else:
        from emulator import TEMPORARY_KEY, SmsEmulator

        emulator = SmsEmulator().start()
        os.environ["SMS_ENDPOINT"] = emulator.endpoint
        # What SCF does with the execution role: temporary keys in these three variables.
        os.environ["TENCENTCLOUD_SECRETID"] = TEMPORARY_KEY.secret_id
        os.environ["TENCENTCLOUD_SECRETKEY"] = TEMPORARY_KEY.secret_key
        os.environ["TENCENTCLOUD_SESSIONTOKEN"] = TEMPORARY_KEY.token or ""
        print(f"# invoking {name} with {args.event} against the SMS emulator at {emulator.endpoint}", file=sys.stderr)

    sys.path.insert(0, str(ROOT / "src"))
    import index

    context = context_for(namespace, name, properties)
    try:
        result = index.main_handler(event, context)
    except Exception as exc:  # what SCF would record as a failed invocation
        print(f"# the invocation raised {type(exc).__name__}: {exc}", file=sys.stderr)
        print("# (SCF marks it failed; queue and async triggers redeliver it)", file=sys.stderr)
        if os.environ.get("LOG_LEVEL") == "DEBUG":
            traceback.print_exc()
        return 1
    finally:
        if emulator is not None:
            calls = emulator.reports
            emulator.stop()
            print(f"# emulator accepted {len(calls)} report(s)", file=sys.stderr)
    print("# return value:", file=sys.stderr)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

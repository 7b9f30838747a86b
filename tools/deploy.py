"""`make deploy FIRST=1` (a first deployment) or `make deploy` (an update), with tccli.

    python -m tools.deploy first    # role, policy, function, Function URL, CKafka trigger, concurrency cap
    python -m tools.deploy update   # code and configuration of an existing function
    python -m tools.deploy first --dry-run   # print the commands, run nothing

Every value comes from template.yaml (one source for the function's settings);
REPORT_SIGNING_SECRET, CMQ_PUSH_TOKEN and REDIS_URL come from your shell when
set there, so they never sit in a file of this repository. Requests too large
or too secret for a command line (the zip, the variables) go through tccli's
`--cli-input-json file://…`, written with mode 0600 under build/deploy/.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local.runtime import function_from_template  # noqa: E402

FUNCTION_ZIP = ROOT / "dist" / "function.zip"
REQUESTS = ROOT / "build" / "deploy"
POLICY_NAME = "ReportConversionSms"
FROM_SHELL = ("REPORT_SIGNING_SECRET", "CMQ_PUSH_TOKEN", "REDIS_URL")
# Instances the reserved concurrency allows (ReservedConcurrencyMem = MemorySize x instances).
DEFAULT_INSTANCES = 4
MAX_UPDATE_ZIP_BYTES = 20 * 1024 * 1024  # UpdateFunctionCode's ZipFile limit (CreateFunction: 50 MB)


@dataclass
class Command:
    service: str
    action: str
    parameters: dict[str, Any]
    request_file: Path | None = None
    note: str = ""

    def argv(self) -> list[str]:
        argv = ["tccli", self.service, self.action]
        if self.request_file is not None:
            return [*argv, "--cli-input-json", f"file://{self.request_file}"]
        for name, value in self.parameters.items():
            argv += [f"--{name}", value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))]
        return argv

    def shown(self) -> str:
        return " ".join(shlex.quote(part) for part in self.argv())


def policy(name: str) -> str:
    """A CAM policy document from deploy/, on one line as CAM's PolicyDocument parameter takes it."""
    return json.dumps(json.loads((ROOT / "deploy" / name).read_text()), separators=(",", ":"))


def environment(properties: dict[str, Any]) -> dict[str, Any]:
    variables = dict(((properties.get("Environment") or {}).get("Variables")) or {})
    for name in FROM_SHELL:
        if os.environ.get(name):
            variables[name] = os.environ[name]
    return {"Variables": [{"Key": key, "Value": str(value)} for key, value in variables.items()]}


def write_request(directory: Path, name: str, request: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.touch(mode=0o600)
    path.chmod(0o600)  # it can hold the signing secret and the zip
    path.write_text(json.dumps(request))
    return path


def plan(first: bool, zip_path: Path = FUNCTION_ZIP, requests_dir: Path = REQUESTS) -> list[Command]:
    namespace, name, properties = function_from_template()
    role = properties["Role"]
    if not zip_path.is_file():
        raise SystemExit("deploy: build the package first (make package)")
    zip_base64 = base64.b64encode(zip_path.read_bytes()).decode("ascii")
    variables = environment(properties)
    configured = {item["Key"]: item["Value"] for item in variables["Variables"]}
    if not configured.get("REPORT_SIGNING_SECRET"):
        raise SystemExit(
            "deploy: REPORT_SIGNING_SECRET is empty: the Function URL would be open to anyone. Export it "
            "(e.g. export REPORT_SIGNING_SECRET=$(openssl rand -hex 32)) and deploy again."
        )
    function = {"FunctionName": name, "Namespace": namespace}
    configuration = {
        **function,
        "Runtime": properties["Runtime"],
        "MemorySize": int(properties["MemorySize"]),
        "Timeout": int(properties["Timeout"]),
        "Role": role,
        "Description": properties.get("Description", ""),
        "Environment": variables,
    }
    vpc = properties.get("VpcConfig")
    if vpc:
        configuration["VpcConfig"] = {"VpcId": vpc["VpcId"], "SubnetId": vpc["SubnetId"]}
    if not first:
        if zip_path.stat().st_size > MAX_UPDATE_ZIP_BYTES:
            raise SystemExit("deploy: the zip is over UpdateFunctionCode's 20 MB: upload it to COS instead")
        return [
            Command("scf", "UpdateFunctionCode", {}, write_request(
                requests_dir, "update-code", {**function, "Handler": properties["Handler"], "ZipFile": zip_base64})),
            Command("scf", "UpdateFunctionConfiguration", {},
                    write_request(requests_dir, "update-configuration", configuration)),
        ]  # fmt: skip
    instances = int(os.environ.get("RESERVED_INSTANCES", DEFAULT_INSTANCES))
    commands = [
        Command("cam", "CreateRole", {
            "RoleName": role,
            "PolicyDocument": policy("trust-policy.json"),
            "Description": "Execution role of the report-conversion SCF function",
        }),
        Command("cam", "CreatePolicy", {
            "PolicyName": POLICY_NAME,
            "PolicyDocument": policy("access-policy.json"),
            "Description": "Report SMS conversions (sms:ReportConversion) and nothing else",
        }),
        Command("cam", "AttachRolePolicy", {"AttachRoleName": role, "PolicyName": POLICY_NAME}),
        Command("scf", "CreateFunction", {}, write_request(requests_dir, "create-function", {
            **configuration, "Handler": properties["Handler"], "Code": {"ZipFile": zip_base64}})),
        Command("scf", "CreateTrigger", {
            **function,
            "TriggerName": "report-conversion-url",
            "Type": "http",
            "TriggerDesc": {"AuthType": "NONE", "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}},
        }, note="the Function URL: open, and the function demands signed requests (REPORT_SIGNING_SECRET)"),
    ]  # fmt: skip
    for event in (properties.get("Events") or {}).values():
        if event.get("Type") == "Ckafka" and "xxxx" not in str(event["Properties"].get("Name")):
            kafka = event["Properties"]
            commands.append(Command("scf", "CreateTrigger", {
                **function,
                "TriggerName": f"{kafka['Name']}-{kafka['Topic']}",
                "Type": "ckafka",
                "TriggerDesc": {"maxMsgNum": int(kafka["MaxMsgNum"]), "offset": kafka.get("Offset", "latest"),
                                "retry": 10000, "timeOut": 60},
            }))  # fmt: skip
    commands.append(
        Command("scf", "PutReservedConcurrencyConfig", {
            **function, "ReservedConcurrencyMem": int(properties["MemorySize"]) * instances},
            note=f"caps the function at {instances} instances: the fleet's cost and API rate"),
    )  # fmt: skip
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make deploy", description=__doc__)
    parser.add_argument("mode", choices=["first", "update"])
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    commands = plan(args.mode == "first")
    if not args.dry_run and shutil.which("tccli") is None:
        raise SystemExit("deploy: tccli is not installed (pip install tccli; tccli configure)")
    for command in commands:
        print(f"$ {command.shown()}" + (f"    # {command.note}" if command.note else ""), flush=True)
        if not args.dry_run:
            subprocess.run(command.argv(), check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

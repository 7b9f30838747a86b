"""Regenerate emulator/cloud/api/: the part of tccli's own API definitions the deploy tool's calls reach.

    python -m emulator.cloud.extract <tccli's services directory>

tccli ships, for each service and version, `api.json` (every action, its input and output objects, every member
with its type, whether it is required, and its document text) and `examples.json` (the published examples).
The stand-in judges every request and answer by them (emulator/cloud/definitions.py). The copy here keeps the
actions `make deploy` calls and every object they reach, so the fast tests need no 500 MB tccli; the slow suite
proves the copy equal to what the pinned tccli (TCCLI_VERSION) ships.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent / "api"
# tccli 3.1.189.1: the version tests/tools/test_deploy_with_tccli.py installs and deploy/README.md cites.
TCCLI_VERSION = "3.1.189.1"
VERSIONS = {"scf": "v20180416", "cam": "v20190116", "cls": "v20201016", "monitor": "v20180724", "region": "v20220627"}
# Every action the deploy tool sends (tests/tools/test_api_definitions.py proves the list complete).
ACTIONS = {
    "scf": [
        "CreateFunction", "CreateTrigger", "DeleteFunction", "DeleteTrigger", "GetFunction",
        "GetFunctionEventInvokeConfig", "GetReservedConcurrencyConfig", "ListFunctions", "ListTriggers",
        "PutReservedConcurrencyConfig", "UpdateFunctionCode", "UpdateFunctionConfiguration",
        "UpdateFunctionEventInvokeConfig", "UpdateTrigger",
    ],
    "cam": [
        "AttachRolePolicy", "CreatePolicy", "CreateRole", "DeletePolicy", "DeleteRole", "DetachRolePolicy",
        "GetPolicy", "GetRole", "ListAttachedRolePolicies", "ListPolicies", "UpdateAssumeRolePolicy", "UpdatePolicy",
    ],
    "cls": [
        "CreateAlarm", "CreateAlarmNotice", "CreateDashboard", "CreateIndex", "CreateLogset", "CreateTopic",
        "DeleteAlarm", "DeleteAlarmNotice", "DeleteDashboard", "DeleteLogset", "DeleteTopic", "DescribeAlarmNotices",
        "DescribeAlarms", "DescribeDashboards", "DescribeIndex", "DescribeLogsets", "DescribeTopics", "ModifyAlarm",
        "ModifyAlarmNotice", "ModifyIndex",
    ],
    "monitor": [
        "BindingPolicyObject", "CreateAlarmNotice", "CreateAlarmPolicy", "DeleteAlarmNotices", "DeleteAlarmPolicy",
        "DescribeAlarmNotices", "DescribeAlarmPolicies", "ModifyAlarmNotice", "ModifyAlarmPolicyCondition",
        "ModifyAlarmPolicyInfo", "ModifyAlarmPolicyNotice",
    ],
    "region": ["DescribeRegions"],
}  # fmt: skip


def extract(services: Path, service: str) -> dict[str, Any]:
    """The service's actions that the tool calls, the objects they reach, and their published examples."""
    folder = services / service / VERSIONS[service]
    api = json.loads((folder / "api.json").read_text(encoding="utf-8"))
    examples = json.loads((folder / "examples.json").read_text(encoding="utf-8"))
    objects: dict[str, Any] = {}

    def reach(name: str) -> None:
        if name in objects or name not in api["objects"]:
            return
        objects[name] = api["objects"][name]
        for member in objects[name]["members"]:
            reach(member["member"])

    actions = {name: api["actions"][name] for name in ACTIONS[service]}
    for action in actions.values():
        reach(action["input"])
        reach(action["output"])
    return {
        "source": f"tccli {TCCLI_VERSION}: tccli/services/{service}/{VERSIONS[service]}/api.json and examples.json",
        "version": api["metadata"]["apiVersion"],
        "actions": actions,
        "objects": dict(sorted(objects.items())),
        "examples": {name: examples["actions"].get(name, []) for name in ACTIONS[service]},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0], "scf").is_dir():
        print("usage: python -m emulator.cloud.extract <site-packages>/tccli/services", file=sys.stderr)
        return 2
    HERE.mkdir(exist_ok=True)
    for service in VERSIONS:
        data = extract(Path(argv[0]), service)
        (HERE / f"{service}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

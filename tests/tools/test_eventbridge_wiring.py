"""docs/deploy.md's EventBridge wiring commands work as written: every `tccli eb` action and parameter, and every
key of the JSON values, exists in the EventBridge API's request models (tccli is generated from the same API)."""

from __future__ import annotations

import json
import re
import shlex
import warnings
from typing import Any

import pytest
from conftest import ROOT
from tencentcloud.eb.v20210416 import models


def wiring_commands() -> list[list[str]]:
    page = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = page.split("## Wiring EventBridge to the function", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    inline = re.search(r"`(tccli eb PutEvents .+?)`;", section, re.DOTALL)
    assert inline is not None, "the PutEvents example is gone from docs/deploy.md"
    commands.append(shlex.split(inline.group(1).replace("\n", " ")))
    return commands


def test_the_readme_shows_a_bus_a_connector_a_rule_a_target_and_a_publish() -> None:
    actions = [command[2] for command in wiring_commands()]
    assert actions == ["CreateEventBus", "CreateConnection", "CreateRule", "CreateTarget", "PutEvents"]


@pytest.mark.parametrize("command", wiring_commands(), ids=lambda command: command[2])
def test_each_wiring_command_names_only_parameters_the_api_has(command: list[str]) -> None:
    assert command[:2] == ["tccli", "eb"]
    request = getattr(models, f"{command[2]}Request")()
    params: dict[str, Any] = {}
    arguments = iter(command[3:])
    for flag in arguments:
        assert flag.startswith("--"), flag
        value = next(arguments)
        if flag == "--region":
            continue
        name = flag[2:]
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        request._deserialize(params)
    # The SDK warns "<names> fileds are useless." for every name a model (or a nested one) does not have.
    assert [str(warning.message) for warning in caught] == []
    for name, value in params.items():
        assert getattr(request, name) is not None, name
        if isinstance(value, dict):
            assert json.loads(request.to_json_string())[name].keys() >= value.keys()


def test_the_target_turns_batch_delivery_on_and_the_pattern_is_json() -> None:
    by_action = {command[2]: command for command in wiring_commands()}
    target = by_action["CreateTarget"]
    description = json.loads(target[target.index("--TargetDescription") + 1])
    assert description["SCFParams"]["EnableBatchDelivery"] is True
    assert description["ResourceDescription"].startswith("qcs::scf:")
    rule = by_action["CreateRule"]
    assert isinstance(json.loads(rule[rule.index("--EventPattern") + 1]), dict)
    events = json.loads(by_action["PutEvents"][by_action["PutEvents"].index("--EventList") + 1])
    assert json.loads(events[0]["Data"])["SmsSdkAppId"] == "1400006666"

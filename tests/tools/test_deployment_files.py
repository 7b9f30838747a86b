"""Deployment files that work as written: template.yaml, serverless.yml and the CAM policies (the deploy
tool itself: test_deploy_tool.py, and with the real tccli: test_deploy_with_tccli.py)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from conftest import ROOT

from local.runtime import function_from_template
from tools.stack import SECRETS

# The `scf` component's documented inputs and trigger types (serverless-components/tencent-scf,
# docs/configure.md and src/config.js `triggerTypes`), plus `http`, the Function URL of Tencent's newer docs.
COMPONENT_INPUTS = {
    "name", "namespace", "role", "enableRoleAuth", "src", "type", "handler", "runtime", "region", "description",
    "memorySize", "timeout", "initTimeout", "environment", "publicAccess", "vpcConfig", "cfs", "deadLetter",
    "layers", "cls", "eip", "asyncRunEnable", "tags", "events",
}  # fmt: skip
COMPONENT_TRIGGERS = {"apigw", "cos", "timer", "cmq", "ckafka", "cls", "mps", "clb", "http"}
CKAFKA_PARAMETERS = {"qualifier", "name", "topic", "maxMsgNum", "offset", "enable", "retry", "timeout"}
TCSAM_PROPERTIES = {
    "CodeUri", "Handler", "Runtime", "Description", "MemorySize", "Timeout", "Role", "Environment", "VpcConfig",
    "Events",
}  # fmt: skip


def serverless() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "serverless.yml").read_text())
    return document


def test_template_declares_the_packaged_function() -> None:
    namespace, _, properties = function_from_template()
    assert namespace == "default"
    assert properties["Handler"] == "index.main_handler"
    assert properties["Runtime"] == "Python3.10"
    # The code in a checkout (the old CLI runs it with the project's venv); deploys upload the package.
    assert properties["CodeUri"] == "./src"
    assert set(properties) <= TCSAM_PROPERTIES  # the TCSAM schema forbids other properties
    events = {event["Type"]: event["Properties"] for event in properties["Events"].values()}
    assert set(events) == {"Ckafka"}  # API Gateway and classic CMQ are legacy, left as comments
    assert {"Name", "Topic", "MaxMsgNum", "Offset", "Enable"} <= set(events["Ckafka"])
    text = (ROOT / "template.yaml").read_text()
    assert "NAT gateway" in text
    assert "2025-06-30" in text


def test_serverless_yml_uses_documented_inputs_and_the_templates_values() -> None:
    document = serverless()
    assert document["component"] == "scf"
    inputs = document["inputs"]
    assert set(inputs) <= COMPONENT_INPUTS
    namespace, name, properties = function_from_template()
    assert (inputs["name"], inputs["namespace"]) == (name, namespace)
    assert inputs["src"] == "./build/function"  # the package (make package), never bare src/
    assert inputs["handler"] == properties["Handler"]
    assert inputs["runtime"] == properties["Runtime"]
    assert inputs["memorySize"] == properties["MemorySize"]
    assert inputs["timeout"] == properties["Timeout"]
    assert inputs["role"] == properties["Role"]
    assert inputs["description"] == properties["Description"]
    assert inputs["region"] == properties["Environment"]["Variables"]["SMS_REGION"]
    template_variables = {key: str(value) for key, value in properties["Environment"]["Variables"].items()}
    component_variables = inputs["environment"]["variables"]
    assert set(component_variables) == set(template_variables)
    for key, value in component_variables.items():
        if key in SECRETS:
            assert value == f"${{env.{key}}}"  # secrets come from the deployer's shell
        else:
            assert str(value) == template_variables[key], key
    triggers = {next(iter(event)): next(iter(event.values()))["parameters"] for event in inputs["events"]}
    assert set(triggers) <= COMPONENT_TRIGGERS
    assert triggers["http"]["netConfig"] == {"enableIntranet": False, "enableExtranet": True}
    assert set(triggers["ckafka"]) <= CKAFKA_PARAMETERS
    [kafka] = [event["Properties"] for event in properties["Events"].values() if event["Type"] == "Ckafka"]
    assert triggers["ckafka"]["maxMsgNum"] == kafka["MaxMsgNum"]
    assert triggers["ckafka"]["topic"] == kafka["Topic"]


def test_cam_policy_files() -> None:
    trust = json.loads((ROOT / "deploy" / "trust-policy.json").read_text())
    assert trust == {
        "version": "2.0",
        "statement": [{"action": "name/sts:AssumeRole", "effect": "allow", "principal": {"service": "scf.qcloud.com"}}],
    }
    access = json.loads((ROOT / "deploy" / "access-policy.json").read_text())
    assert access == {
        "version": "2.0",
        "statement": [{"effect": "allow", "action": ["name/sms:ReportConversion"], "resource": ["*"]}],
    }

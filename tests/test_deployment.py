"""Deployment files that work as written: template.yaml, serverless.yml, CAM policies and the tccli plan."""

from __future__ import annotations

import importlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from local.runtime import function_from_template
from tools import deploy

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
        if key in deploy.FROM_SHELL:
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


def request_fields(service: str, action: str) -> set[str]:
    """The parameters the API (and so tccli, which is generated from it) accepts for one action."""
    version = {"scf": "v20180416", "cam": "v20190116"}[service]
    models = importlib.import_module(f"tencentcloud.{service}.{version}.models")
    return {name.lstrip("_") for name in vars(getattr(models, f"{action}Request")())}


def nested_fields(model: str) -> set[str]:
    models = importlib.import_module("tencentcloud.scf.v20180416.models")
    return {name.lstrip("_") for name in vars(getattr(models, model)())}


SECRET = "deploy-test-signing-secret"


@pytest.fixture
def package_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "function.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index.py", "")
    monkeypatch.setenv("REPORT_SIGNING_SECRET", SECRET)
    return path


def plan(first: bool, package_zip: Path) -> list[deploy.Command]:
    return deploy.plan(first, package_zip, package_zip.parent / "requests")


@pytest.mark.parametrize("first", [True, False])
def test_every_tccli_command_uses_the_apis_own_parameter_names(package_zip: Path, first: bool) -> None:
    commands = plan(first, package_zip)
    assert commands
    for command in commands:
        accepted = request_fields(command.service, command.action)
        parameters = command.parameters
        if command.request_file is not None:
            assert command.request_file.stat().st_mode & 0o077 == 0  # it holds the secret
            parameters = json.loads(command.request_file.read_text())
        assert parameters
        assert set(parameters) <= accepted, (command.action, set(parameters) - accepted)
        if "Code" in parameters:
            assert set(parameters["Code"]) <= nested_fields("Code")
        if "Environment" in parameters:
            for variable in parameters["Environment"]["Variables"]:
                assert set(variable) == nested_fields("Variable")
        argv = command.argv()
        assert argv[:3] == ["tccli", command.service, command.action]
        assert all(re.fullmatch(r"--[A-Za-z-]+", flag) for flag in argv[3::2])
    actions = [command.action for command in commands]
    if first:
        assert actions[:5] == ["CreateRole", "CreatePolicy", "AttachRolePolicy", "CreateFunction", "CreateTrigger"]
        assert actions[-1] == "PutReservedConcurrencyConfig"
    else:
        assert actions == ["UpdateFunctionCode", "UpdateFunctionConfiguration"]


def test_the_signing_secret_comes_from_the_shell_and_is_never_printed(package_zip: Path) -> None:
    commands = plan(True, package_zip)
    shown = "\n".join(command.shown() for command in commands)
    assert SECRET not in shown
    [create] = [command for command in commands if command.action == "CreateFunction"]
    assert create.request_file is not None
    variables = json.loads(create.request_file.read_text())["Environment"]["Variables"]
    assert {"Key": "REPORT_SIGNING_SECRET", "Value": SECRET} in variables


def test_deploying_an_open_url_is_refused(package_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPORT_SIGNING_SECRET")
    with pytest.raises(SystemExit, match="REPORT_SIGNING_SECRET is empty"):
        plan(True, package_zip)

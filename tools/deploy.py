"""`make deploy` / `make destroy`: the function and everything around it on Tencent Cloud, with tccli.

    python -m tools.deploy apply [--dry-run] [--unset NAME,...] [--zip dist/function.zip]
    python -m tools.deploy destroy [--dry-run]

Create-or-update, every time: each run reads what exists (the execution role and its policy, the CLS
logset, topic and index, the function, its triggers, async retries and concurrency cap, the alarm notice,
alarms and dashboard, the Cloud Monitor alarm policies), creates what is missing, updates what differs and
leaves alone what it does not own (other triggers, other variables, other alarms). A failed step prints one
line naming it and the tccli error, exits 1, and the next run continues from there: nothing is created twice.
It waits for the function to be `Active` between the calls that change it. `--dry-run` prints the plan
(reads only). `destroy` removes what this tool created, and nothing else.

Variables: an update starts from the function's current variables. A variable exported in the shell, or
given a value in template.yaml, updates it; one set in neither keeps its current value; a secret
(REPORT_SIGNING_SECRET, CMQ_PUSH_TOKEN, REDIS_URL) is never written as an empty string and never printed.
Removing one is explicit: `--unset NAME,...` (make deploy UNSET=...). Requests too large or too secret for
a command line travel in `--cli-input-json file://…` files, mode 0600, deleted as soon as tccli has read them.

The region is REGION, else TENCENTCLOUD_REGION, else template.yaml's SMS_REGION. TCCLI names the tccli
binary; DEPLOY_API_ENDPOINT (host:port) sends every call to one endpoint (the tests' stand-in).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from local.runtime import function_from_template  # noqa: E402
from sms_conversion.logfields import LOG_FIELDS  # noqa: E402
from tools.sizing import Sizing, capacity_rps  # noqa: E402

FUNCTION_ZIP = ROOT / "dist" / "function.zip"
REQUESTS = ROOT / "build" / "deploy"
MARKER = "managed by make deploy"
POLICY_NAME = "ReportConversionSms"
SECRETS = ("REPORT_SIGNING_SECRET", "CMQ_PUSH_TOKEN", "REDIS_URL")
# The account's ReportConversion quota (API page: 1,000 requests per second).
DEFAULT_QUOTA_RPS = 1000
DEFAULT_INSTANCES = 4
# SMS_MAX_RPS when the function has none set (the function's own default).
FUNCTION_DEFAULT_MAX_RPS = 1000
MAX_UPDATE_ZIP_BYTES = 20 * 1024 * 1024  # UpdateFunctionCode's ZipFile limit (CreateFunction: 50 MB)
# The longest redelivery the platform allows (README, "How long the operator has"): CKafka's trigger retries
# run errors up to `retry` times; asynchronous triggers (a CMQ topic) up to RetryNum times within MsgTTL.
CKAFKA_RETRY = 10000
ASYNC_RETRY = {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}
# CLS fields the platform adds to every line of a function's log (SCF doc 583/60336), indexed beside ours.
SCF_FIELDS = ("SCF_FunctionName", "SCF_Namespace", "SCF_RequestId", "SCF_Message", "SCF_Type", "SCF_Level")
ALARM_LEVELS = {"warn": 0, "info": 1, "critical": 2}
_NOT_FOUND = re.compile(r"(NotExist|NotFound|ResourceNotFound)")


class DeployError(Exception):
    """One line for the operator: what failed, and what the API said."""


class CloudError(DeployError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def not_found(self) -> bool:
        return bool(_NOT_FOUND.search(self.code))


class Cloud(Protocol):
    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]: ...


_TCCLI_ERROR = re.compile(r"code:(?P<code>\S+) message:(?P<message>.*?)(?: requestId:\S*)?$", re.S)


class Tccli:
    """Every call through the real tccli: `tccli <service> <Action> --cli-input-json file://<0600 file>`."""

    def __init__(self, binary: str, region: str, endpoint: str | None, workdir: Path = REQUESTS) -> None:
        self.binary = binary
        self.region = region
        self.endpoint = endpoint
        self.workdir = workdir

    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f"{action}-", suffix=".json", dir=self.workdir)
        try:
            # mkstemp creates the file 0600: it may hold the zip, the signing secret, the push token.
            with os.fdopen(handle, "w") as out:
                json.dump(params, out)
            argv = [self.binary, service, action, "--region", self.region, "--cli-input-json", f"file://{name}"]
            if self.endpoint:
                argv[3:3] = ["--endpoint", self.endpoint]
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
            except subprocess.TimeoutExpired:
                raise CloudError("Timeout", f"tccli {service} {action} did not answer within 300 s") from None
            except OSError as exc:
                raise CloudError("TccliNotRunnable", f"{self.binary}: {exc.strerror or type(exc).__name__}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)
        if done.returncode != 0:
            text = (done.stdout + done.stderr).strip()
            match = _TCCLI_ERROR.search(text.splitlines()[-1] if text else "")
            if match:
                raise CloudError(match["code"], match["message"].strip())
            raise CloudError("TccliFailed", text.splitlines()[-1] if text else f"exit status {done.returncode}")
        try:
            answer = json.loads(done.stdout or "{}")
        except ValueError:
            raise CloudError("TccliOutput", "tccli did not print JSON") from None
        return answer if isinstance(answer, dict) else {}


# ---- what the template asks for ------------------------------------------------------------------


@dataclass
class Desired:
    namespace: str
    name: str
    properties: dict[str, Any]
    region: str
    zip_path: Path
    shell: Mapping[str, str]
    unset: frozenset[str] = frozenset()
    instances: int = DEFAULT_INSTANCES
    quota_rps: int = DEFAULT_QUOTA_RPS
    repo: Path = ROOT

    @classmethod
    def from_template(cls, shell: Mapping[str, str], zip_path: Path, unset: frozenset[str]) -> Desired:
        namespace, name, properties = function_from_template()
        region = (
            shell.get("REGION")
            or shell.get("TENCENTCLOUD_REGION")
            or str(_template_variables(properties).get("SMS_REGION") or "ap-guangzhou")
        )
        return cls(
            namespace,
            name,
            properties,
            region,
            zip_path,
            shell,
            unset,
            instances=int(shell.get("RESERVED_INSTANCES") or DEFAULT_INSTANCES),
            quota_rps=int(shell.get("SMS_ACCOUNT_QUOTA_RPS") or DEFAULT_QUOTA_RPS),
        )

    @property
    def role(self) -> str:
        return str(self.properties["Role"])

    @property
    def logset(self) -> str:
        return self.name

    @property
    def topic(self) -> str:
        return f"{self.name}-logs"

    @property
    def http_trigger(self) -> str:
        return f"{self.name}-url"

    @property
    def alarm_prefix(self) -> str:
        return f"{self.name}: "

    @property
    def notice(self) -> str:
        return f"{self.name}-operators"

    @property
    def memory(self) -> int:
        return int(self.properties["MemorySize"])

    @property
    def timeout(self) -> int:
        return int(self.properties["Timeout"])

    def sizing(self, variables: Mapping[str, str]) -> Sizing:
        """The plan's capacity at this memory beside its rate cap (tools/sizing.py)."""
        batches = [
            int(event["Properties"]["MaxMsgNum"])
            for event in (self.properties.get("Events") or {}).values()
            if event.get("Type") == "Ckafka" and "MaxMsgNum" in (event.get("Properties") or {})
        ]
        return Sizing(
            memory_mb=self.memory,
            capacity_rps=capacity_rps(self.memory),
            cap_rps=int(variables.get("SMS_MAX_RPS") or FUNCTION_DEFAULT_MAX_RPS),
            instances=self.instances,
            batch=max(batches) if batches else None,
            timeout_s=self.timeout,
        )

    def package_sha(self) -> str:
        return hashlib.sha256(self.zip_path.read_bytes()).hexdigest()

    def description(self) -> str:
        """The function's description: the template's, plus who manages it and which package it runs."""
        return f"{self.properties.get('Description', '')} ({MARKER}; package sha256:{self.package_sha()[:16]})"

    def variables(self, current: Mapping[str, str]) -> dict[str, str]:
        return merged_variables(current, _template_variables(self.properties), self.shell, self.unset)

    def ckafka_triggers(self) -> list[dict[str, Any]]:
        found = []
        for event in (self.properties.get("Events") or {}).values():
            kafka = event.get("Properties") or {}
            if event.get("Type") == "Ckafka" and "xxxx" not in str(kafka.get("Name")):
                found.append(kafka)
        return found

    def notice_target(self) -> dict[str, Any] | None:
        """Who alarms tell: a web callback (ALARM_WEBHOOK) and/or CAM users or groups, or nobody."""
        webhook = self.shell.get("ALARM_WEBHOOK", "").strip()
        uins = [item.strip() for item in self.shell.get("ALARM_CAM_UINS", "").split(",") if item.strip()]
        groups = [item.strip() for item in self.shell.get("ALARM_CAM_GROUPS", "").split(",") if item.strip()]
        if not (webhook or uins or groups):
            return None
        return {
            "webhook": webhook,
            "webhook_type": self.shell.get("ALARM_WEBHOOK_TYPE", "WeCom"),
            "uins": uins,
            "groups": groups,
        }


def _template_variables(properties: Mapping[str, Any]) -> dict[str, str]:
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return {str(name): "" if value is None else str(value) for name, value in variables.items()}


def merged_variables(
    current: Mapping[str, str], template: Mapping[str, str], shell: Mapping[str, str], unset: frozenset[str]
) -> dict[str, str]:
    """The function's variables after a deploy: its current ones, updated by the shell or the template.

    For each variable the template lists: a non-empty value in the shell wins, else a non-empty value in the
    template; with neither, the current value stays (an empty string is never written, so a secret not
    exported is never erased). Variables the template does not list are kept. `unset` removes, explicitly.
    """
    result = dict(current)
    for name, default in template.items():
        value = shell.get(name) or default
        if value:
            result[name] = value
    for name in unset:
        result.pop(name, None)
    return result


def quota_problem(variables: Mapping[str, str], instances: int, quota: int) -> str | None:
    """Why the fleet could exceed the account's ReportConversion quota, or None."""
    fleet = variables.get("SMS_FLEET_MAX_RPS")
    if fleet:
        if not variables.get("REDIS_URL"):
            return "SMS_FLEET_MAX_RPS needs REDIS_URL (the fleet's calls are counted in Redis): export REDIS_URL"
        if int(fleet) > quota:
            return f"SMS_FLEET_MAX_RPS={fleet} is over the account's quota of {quota} calls per second"
        return None
    per_instance = int(variables.get("SMS_MAX_RPS") or FUNCTION_DEFAULT_MAX_RPS)
    if instances * per_instance > quota:
        return (
            f"{instances} instances x SMS_MAX_RPS={per_instance} = {instances * per_instance} calls per second, over "
            f"the account's ReportConversion quota of {quota}: lower SMS_MAX_RPS (at most {quota // instances}) or "
            "RESERVED_INSTANCES, or set SMS_FLEET_MAX_RPS with REDIS_URL so the fleet shares one limit"
        )
    return None


def index_rule() -> dict[str, Any]:
    """The CLS key-value index: every field the function prints (logfields.LOG_FIELDS) and SCF's own."""
    key_values = [
        {"Key": name, "Value": {"Type": kind, "SqlFlag": True, **({"Tokenizer": _TOKENIZER} if kind == "text" else {})}}
        for name, kind in sorted(LOG_FIELDS.items())
    ]
    key_values += [
        {"Key": name, "Value": {"Type": "text", "Tokenizer": _TOKENIZER, "SqlFlag": True}} for name in SCF_FIELDS
    ]
    return {
        "FullText": {"CaseSensitive": False, "Tokenizer": _TOKENIZER, "ContainZH": False},
        "KeyValue": {"CaseSensitive": True, "KeyValues": key_values},
    }


# CLS's default separators for text fields (CLS "Index configuration"): a serial such as 5000:1045…
# stays one token only when ':' is not among them.
_TOKENIZER = "@&?|#()='\",;<>[]{}/ \n\t\r\\"


def load_json(relative: str) -> Any:
    return json.loads((ROOT / "deploy" / relative).read_text(encoding="utf-8"))


# ---- the plan --------------------------------------------------------------------------------------


@dataclass
class Plan:
    out: TextIO
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def say(self, verb: str, what: str, detail: str = "") -> None:
        self.counts[verb] = self.counts.get(verb, 0) + 1
        shown = f"would {verb}" if self.dry_run and verb not in ("keep", "leave") else verb
        print(f"  {shown:<15} {what}" + (f": {detail}" if detail else ""), file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(f"deploy: {text}", file=self.out, flush=True)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """A failure inside names the step it happened in."""
    try:
        yield
    except CloudError as exc:
        raise DeployError(f'step "{name}" failed: {exc}') from None


class Deployer:
    def __init__(
        self,
        cloud: Cloud,
        desired: Desired,
        plan: Plan,
        poll_seconds: float = 2.0,
        wait_seconds: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cloud = cloud
        self.desired = desired
        self.plan = plan
        self.dry_run = plan.dry_run
        self.poll_seconds = poll_seconds
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self.function_key = {"FunctionName": desired.name, "Namespace": desired.namespace}

    def call(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.cloud.call(service, action, params)

    def change(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """A call that changes something: skipped in a dry run."""
        if self.dry_run:
            return {}
        return self.call(service, action, params)

    def read(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """A read of something that may not exist: None when the API says it does not."""
        try:
            return self.call(service, action, params)
        except CloudError as exc:
            if exc.not_found:
                return None
            raise

    # ---- apply ----------------------------------------------------------------------------------

    def apply(self) -> None:
        desired = self.desired
        with step("read the function"):
            current = self.read("scf", "GetFunction", self.function_key)
        variables = desired.variables(_variables_of(current))
        problem = quota_problem(variables, desired.instances, desired.quota_rps)
        if problem:
            raise DeployError(f"refused: {problem}")
        if not variables.get("REPORT_SIGNING_SECRET"):
            raise DeployError(
                "refused: REPORT_SIGNING_SECRET is not set on the function nor in your shell, and the Function URL is "
                "open to anyone: export REPORT_SIGNING_SECRET=$(openssl rand -hex 32) and deploy again"
            )
        self.plan.note(f"region {desired.region}, namespace {desired.namespace}, function {desired.name}")
        sized = desired.sizing(variables)
        self.plan.note(sized.note())
        for warning in sized.warnings():
            self.plan.note(f"warning: {warning}")
        with step("execution role"):
            self.role()
        with step("role policy"):
            policy_id = self.policy()
        with step("attach the policy to the role"):
            self.attachment(policy_id)
        with step("CLS logset"):
            logset_id = self.logset()
        with step("CLS log topic"):
            topic_id = self.topic(logset_id)
        with step("CLS index"):
            self.index(topic_id)
        with step("function"):
            self.function(current, variables, logset_id, topic_id)
        with step("Function URL"):
            self.http_trigger()
        with step("CKafka trigger"):
            self.ckafka_triggers()
        with step("asynchronous retries"):
            self.async_retries()
        with step("reserved concurrency"):
            self.reserved_concurrency()
        with step("CLS alarm notice"):
            notice_id = self.cls_notice()
        with step("CLS alarms"):
            self.cls_alarms(topic_id, logset_id, notice_id)
        with step("CLS dashboard"):
            self.dashboard(topic_id)
        with step("Cloud Monitor notice"):
            monitor_notice = self.monitor_notice()
        with step("Cloud Monitor alarms"):
            self.monitor_alarms(monitor_notice)
        if notice_id is None:
            self.plan.note(
                "alarms are created but nobody is notified: set ALARM_WEBHOOK (a WeCom, DingTalk or Lark robot URL; "
                "ALARM_WEBHOOK_TYPE=WeCom|DingTalk|Lark|Http) or ALARM_CAM_UINS / ALARM_CAM_GROUPS and deploy again"
            )

    def role(self) -> None:
        desired = self.desired
        trust = _policy_document("trust-policy.json")
        found = self.read("cam", "GetRole", {"RoleName": desired.role})
        if found is None:
            self.change(
                "cam",
                "CreateRole",
                {
                    "RoleName": desired.role,
                    "PolicyDocument": trust,
                    "Description": f"Execution role of the {desired.name} SCF function ({MARKER})",
                },
            )
            self.plan.say("create", f"cam role {desired.role}", "trusted by scf.qcloud.com")
            return
        info = found.get("RoleInfo") or {}
        if MARKER not in str(info.get("Description", "")):
            self.plan.say("leave", f"cam role {desired.role}", "not created by make deploy: its trust is left as is")
        elif _same_json(info.get("PolicyDocument"), trust):
            self.plan.say("keep", f"cam role {desired.role}")
        else:
            self.change("cam", "UpdateAssumeRolePolicy", {"RoleName": desired.role, "PolicyDocument": trust})
            self.plan.say("update", f"cam role {desired.role}", "trust policy")

    def policy(self) -> str:
        document = _policy_document("access-policy.json")
        listed = self.call("cam", "ListPolicies", {"Keyword": POLICY_NAME, "Scope": "Local", "Rp": 200, "Page": 1})
        match = [item for item in listed.get("List") or [] if item.get("PolicyName") == POLICY_NAME]
        if not match:
            created = self.change(
                "cam",
                "CreatePolicy",
                {
                    "PolicyName": POLICY_NAME,
                    "PolicyDocument": document,
                    "Description": f"Report SMS conversions (sms:ReportConversion) and nothing else ({MARKER})",
                },
            )
            self.plan.say("create", f"cam policy {POLICY_NAME}", "name/sms:ReportConversion on *")
            return str(created.get("PolicyId", "(new)"))
        policy_id = str(match[0]["PolicyId"])
        current = self.call("cam", "GetPolicy", {"PolicyId": int(policy_id)})
        if _same_json(current.get("PolicyDocument"), document):
            self.plan.say("keep", f"cam policy {POLICY_NAME}")
        else:
            self.change("cam", "UpdatePolicy", {"PolicyId": int(policy_id), "PolicyDocument": document})
            self.plan.say("update", f"cam policy {POLICY_NAME}", "document")
        return policy_id

    def attachment(self, policy_id: str) -> None:
        role = self.desired.role
        attached = self.read("cam", "ListAttachedRolePolicies", {"RoleName": role, "Page": 1, "Rp": 200})
        ids = {str(item.get("PolicyId")) for item in (attached or {}).get("List") or []}
        if policy_id in ids:
            self.plan.say("keep", f"cam attachment {POLICY_NAME} -> {role}")
            return
        if not policy_id.isdigit():  # created in this dry run: nothing to attach yet
            self.plan.say("create", f"cam attachment {POLICY_NAME} -> {role}")
            return
        self.change("cam", "AttachRolePolicy", {"PolicyId": int(policy_id), "AttachRoleName": role})
        self.plan.say("create", f"cam attachment {POLICY_NAME} -> {role}")

    def logset(self) -> str:
        name = self.desired.logset
        found = self.call("cls", "DescribeLogsets", {"Filters": [{"Key": "logsetName", "Values": [name]}]})
        match = [item for item in found.get("Logsets") or [] if item.get("LogsetName") == name]
        if match:
            self.plan.say("keep", f"cls logset {name}")
            return str(match[0]["LogsetId"])
        created = self.change("cls", "CreateLogset", {"LogsetName": name})
        self.plan.say("create", f"cls logset {name}")
        return str(created.get("LogsetId", "(new)"))

    def topic(self, logset_id: str) -> str:
        name = self.desired.topic
        found = self.call(
            "cls",
            "DescribeTopics",
            {"Filters": [{"Key": "topicName", "Values": [name]}, {"Key": "logsetId", "Values": [logset_id]}]},
        )
        match = [item for item in found.get("Topics") or [] if item.get("TopicName") == name]
        if match:
            self.plan.say("keep", f"cls topic {name}")
            return str(match[0]["TopicId"])
        created = self.change("cls", "CreateTopic", {"LogsetId": logset_id, "TopicName": name, "Period": 30})
        self.plan.say("create", f"cls topic {name}", "30 days")
        return str(created.get("TopicId", "(new)"))

    def index(self, topic_id: str) -> None:
        rule = index_rule()
        current = None if topic_id == "(new)" else self.read("cls", "DescribeIndex", {"TopicId": topic_id})
        fields = f"{len(rule['KeyValue']['KeyValues'])} key-value fields"
        if not current or not current.get("Rule"):
            self.change("cls", "CreateIndex", {"TopicId": topic_id, "Rule": rule, "Status": True})
            self.plan.say("create", "cls index", fields)
        elif _same_json(_index_fields(current["Rule"]), _index_fields(rule)):
            self.plan.say("keep", "cls index")
        else:
            self.change("cls", "ModifyIndex", {"TopicId": topic_id, "Rule": rule, "Status": True})
            self.plan.say("update", "cls index", f"{fields} (applies to lines written from now on)")

    def function(
        self, current: dict[str, Any] | None, variables: dict[str, str], logset_id: str, topic_id: str
    ) -> None:
        desired = self.desired
        properties = desired.properties
        configuration: dict[str, Any] = {
            **self.function_key,
            "Runtime": properties["Runtime"],
            "MemorySize": desired.memory,
            "Timeout": desired.timeout,
            "Role": desired.role,
            "Description": desired.description(),
            "Environment": {"Variables": [{"Key": key, "Value": value} for key, value in sorted(variables.items())]},
            "ClsLogsetId": logset_id,
            "ClsTopicId": topic_id,
        }
        vpc = properties.get("VpcConfig")
        if vpc:
            configuration["VpcConfig"] = {"VpcId": vpc["VpcId"], "SubnetId": vpc["SubnetId"]}
        zip_base64 = base64.b64encode(desired.zip_path.read_bytes()).decode("ascii")
        if current is None:
            self.change(
                "scf",
                "CreateFunction",
                {**configuration, "Handler": properties["Handler"], "Code": {"ZipFile": zip_base64}},
            )
            self.plan.say("create", f"scf function {desired.name}", _describe_variables({}, variables))
            self.wait_active("created")
            return
        self.wait_active("found")
        if f"sha256:{desired.package_sha()[:16]}" not in str(current.get("Description", "")):
            if desired.zip_path.stat().st_size > MAX_UPDATE_ZIP_BYTES:
                raise CloudError(
                    "LimitExceeded.ZipFile", "the zip is over UpdateFunctionCode's 20 MB: upload it to COS"
                )
            self.change(
                "scf",
                "UpdateFunctionCode",
                {**self.function_key, "Handler": properties["Handler"], "ZipFile": zip_base64},
            )
            self.plan.say("update", f"scf function {desired.name}", "code (a new package)")
            self.wait_active("code updated")
        differences = _configuration_differences(current, configuration)
        if differences:
            self.change("scf", "UpdateFunctionConfiguration", configuration)
            detail = ", ".join(differences)
            if "variables" in differences:
                detail += f" ({_describe_variables(_variables_of(current), variables)})"
            self.plan.say("update", f"scf function {desired.name}", detail)
            self.wait_active("configuration updated")
        else:
            self.plan.say("keep", f"scf function {desired.name} configuration")

    def wait_active(self, why: str) -> None:
        """Calls that change a function are refused until it is Active again."""
        if self.dry_run:
            return
        waited = 0.0
        while True:
            status = self.call("scf", "GetFunction", self.function_key)
            state = str(status.get("Status", ""))
            if state == "Active":
                return
            if state.endswith("Failed"):
                reasons = "; ".join(str(item.get("ErrorMessage", item)) for item in status.get("StatusReasons") or [])
                raise CloudError(f"Function{state}", reasons or str(status.get("StatusDesc") or state))
            if waited >= self.wait_seconds:
                raise CloudError("Timeout", f"the function was still {state} after {waited:.0f} s ({why})")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def _triggers(self) -> list[dict[str, Any]]:
        listed = self.read("scf", "ListTriggers", {**self.function_key, "Limit": 100})
        return list((listed or {}).get("Triggers") or [])

    def http_trigger(self) -> None:
        name = self.desired.http_trigger
        desc = {"AuthType": "NONE", "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}}
        triggers = self._triggers()
        mine = [item for item in triggers if item.get("TriggerName") == name]
        other = [item for item in triggers if item.get("Type") == "http" and item.get("TriggerName") != name]
        if mine:
            if _same_json(mine[0].get("TriggerDesc"), desc):
                self.plan.say("keep", f"scf Function URL {name}")
            else:
                differs = (
                    "its settings differ from the template's; a new URL would break callers: change it in the console"
                )
                self.plan.say("leave", f"scf Function URL {name}", differs)
        elif other:
            self.plan.say("leave", f"scf Function URL {other[0].get('TriggerName')}", "a function has one URL: kept")
        else:
            self.change(
                "scf",
                "CreateTrigger",
                {
                    **self.function_key,
                    "TriggerName": name,
                    "Type": "http",
                    "Qualifier": "$DEFAULT",
                    "TriggerDesc": json.dumps(desc, separators=(",", ":")),
                },
            )
            self.plan.say("create", f"scf Function URL {name}", "open; the function demands signed requests")

    def ckafka_triggers(self) -> None:
        triggers = {item.get("TriggerName"): item for item in self._triggers()}
        for kafka in self.desired.ckafka_triggers():
            name = f"{kafka['Name']}-{kafka['Topic']}"
            desc = {
                "maxMsgNum": int(kafka["MaxMsgNum"]),
                "offset": kafka.get("Offset", "latest"),
                "retry": CKAFKA_RETRY,
                "timeOut": self.desired.timeout,
            }
            found = triggers.get(name)
            params = {
                **self.function_key,
                "TriggerName": name,
                "Type": "ckafka",
                "TriggerDesc": json.dumps(desc, separators=(",", ":")),
            }
            if found is None:
                self.change("scf", "CreateTrigger", {**params, "Qualifier": "$DEFAULT"})
                self.plan.say("create", f"scf CKafka trigger {name}", f"retry {CKAFKA_RETRY}")
            elif _same_json(found.get("TriggerDesc"), desc):
                self.plan.say("keep", f"scf CKafka trigger {name}")
            else:
                # Updated in place: deleting and re-creating it would move the consumer's offset.
                self.change("scf", "UpdateTrigger", {**params, "Qualifier": str(found.get("Qualifier") or "$DEFAULT")})
                self.plan.say("update", f"scf CKafka trigger {name}", "maxMsgNum, offset, retry or timeout")

    def async_retries(self) -> None:
        current = self.read("scf", "GetFunctionEventInvokeConfig", self.function_key) or {}
        if _same_json(current.get("AsyncTriggerConfig"), ASYNC_RETRY):
            self.plan.say("keep", "scf asynchronous retries")
            return
        self.change("scf", "UpdateFunctionEventInvokeConfig", {**self.function_key, "AsyncTriggerConfig": ASYNC_RETRY})
        self.plan.say("update", "scf asynchronous retries", "2 retries within 6 hours (CMQ topic, Invoke Event)")

    def reserved_concurrency(self) -> None:
        memory = self.desired.memory * self.desired.instances
        current = self.read("scf", "GetReservedConcurrencyConfig", self.function_key) or {}
        if current.get("ReservedMem") == memory:
            self.plan.say("keep", "scf reserved concurrency", f"{self.desired.instances} instances")
            return
        self.change("scf", "PutReservedConcurrencyConfig", {**self.function_key, "ReservedConcurrencyMem": memory})
        verb = "update" if current.get("ReservedMem") else "create"
        self.plan.say(
            verb, "scf reserved concurrency", f"{self.desired.instances} instances x {self.desired.memory} MB"
        )

    def cls_notice(self) -> str | None:
        target = self.desired.notice_target()
        name = self.desired.notice
        found = self.call("cls", "DescribeAlarmNotices", {"Filters": [{"Key": "name", "Values": [name]}]})
        match = [item for item in found.get("AlarmNotices") or [] if item.get("Name") == name]
        if target is None:
            if match:
                self.plan.say("keep", f"cls alarm notice {name}", "no target in this shell: its receivers are kept")
                return str(match[0]["AlarmNoticeId"])
            return None
        notice: dict[str, Any] = {"Name": name, "Type": "All"}
        receivers = []
        if target["uins"]:
            receivers.append(
                {
                    "ReceiverType": "Uin",
                    "ReceiverIds": [int(uin) for uin in target["uins"]],
                    "ReceiverChannels": ["Email", "Sms"],
                }
            )
        if target["groups"]:
            receivers.append(
                {
                    "ReceiverType": "Group",
                    "ReceiverIds": [int(group) for group in target["groups"]],
                    "ReceiverChannels": ["Email", "Sms"],
                }
            )
        if receivers:
            notice["NoticeReceivers"] = receivers
        if target["webhook"]:
            notice["WebCallbacks"] = [
                {"CallbackType": target["webhook_type"], "Url": target["webhook"], "Method": "POST"}
            ]
        if not match:
            created = self.change("cls", "CreateAlarmNotice", notice)
            self.plan.say("create", f"cls alarm notice {name}", _describe_target(target))
            return str(created.get("AlarmNoticeId", "(new)"))
        notice_id = str(match[0]["AlarmNoticeId"])
        if _same_json(_notice_view(match[0]), _notice_view(notice)):
            self.plan.say("keep", f"cls alarm notice {name}")
        else:
            self.change("cls", "ModifyAlarmNotice", {**notice, "AlarmNoticeId": notice_id})
            self.plan.say("update", f"cls alarm notice {name}", _describe_target(target))
        return notice_id

    def cls_alarms(self, topic_id: str, logset_id: str, notice_id: str | None) -> None:
        prefix = self.desired.alarm_prefix
        found = self.call("cls", "DescribeAlarms", {"Filters": [{"Key": "name", "Values": [prefix]}], "Limit": 100})
        existing = {item.get("Name"): item for item in found.get("Alarms") or []}
        for alarm in load_json("cls/alarms.json"):
            name = prefix + alarm["name"]
            wanted: dict[str, Any] = {
                "Name": name,
                "AlarmTargets": [
                    {
                        "TopicId": topic_id,
                        "LogsetId": logset_id,
                        "Query": alarm["query"],
                        "Number": 1,
                        "StartTimeOffset": -int(alarm["window_minutes"]),
                        "EndTimeOffset": 0,
                        "SyntaxRule": 1,
                    }
                ],
                "MonitorTime": {"Type": "Period", "Time": int(alarm["every_minutes"])},
                "Condition": alarm["condition"],
                "AlarmLevel": ALARM_LEVELS[alarm["level"]],
                "TriggerCount": int(alarm["trigger_count"]),
                "AlarmPeriod": int(alarm["repeat_minutes"]),
                "Status": True,
                "MessageTemplate": alarm["runbook"],
            }
            if notice_id is not None:
                wanted["AlarmNoticeIds"] = [notice_id]
            current = existing.get(name)
            if current is None:
                self.change("cls", "CreateAlarm", wanted)
                self.plan.say("create", f"cls alarm {name!r}", alarm["condition"])
            elif _same_json({key: current.get(key) for key in wanted}, wanted):
                self.plan.say("keep", f"cls alarm {name!r}")
            else:
                self.change("cls", "ModifyAlarm", {**wanted, "AlarmId": current["AlarmId"]})
                self.plan.say("update", f"cls alarm {name!r}")

    def dashboard(self, topic_id: str) -> None:
        board = load_json("cls/dashboard.json")
        name = board["name"]
        data = json.dumps(
            {
                "version": 1,
                "region": self.desired.region,
                "charts": [
                    {"title": chart["title"], "type": chart["type"], "query": chart["query"], "topicId": topic_id}
                    for chart in board["charts"]
                ],
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        found = self.call("cls", "DescribeDashboards", {"Filters": [{"Key": "dashboardName", "Values": [name]}]})
        match = [item for item in found.get("DashboardInfos") or [] if item.get("DashboardName") == name]
        if not match:
            self.change("cls", "CreateDashboard", {"DashboardName": name, "Data": data})
            self.plan.say("create", f"cls dashboard {name}", f"{len(board['charts'])} charts")
        elif match[0].get("Data") == data:
            self.plan.say("keep", f"cls dashboard {name}")
        else:
            self.change(
                "cls", "ModifyDashboard", {"DashboardId": match[0]["DashboardId"], "DashboardName": name, "Data": data}
            )
            self.plan.say("update", f"cls dashboard {name}")

    def monitor_notice(self) -> str | None:
        target = self.desired.notice_target()
        name = self.desired.notice
        found = self.call(
            "monitor",
            "DescribeAlarmNotices",
            {"Module": "monitor", "PageNumber": 1, "PageSize": 100, "Order": "ASC", "Name": name},
        )
        match = [item for item in found.get("Notices") or [] if item.get("Name") == name]
        if match:
            self.plan.say("keep", f"monitor notice {name}")
            return str(match[0]["Id"])
        if target is None:
            return None
        notice: dict[str, Any] = {"Module": "monitor", "Name": name, "NoticeType": "ALL", "NoticeLanguage": "en-US"}
        if target["uins"] or target["groups"]:
            notice["UserNotices"] = [
                {
                    "ReceiverType": "USER" if target["uins"] else "GROUP",
                    "StartTime": 0,
                    "EndTime": 86399,
                    "NoticeWay": ["EMAIL", "SMS"],
                    "UserIds": [int(uin) for uin in target["uins"]],
                    "GroupIds": [int(group) for group in target["groups"]],
                }
            ]
        if target["webhook"]:
            notice["URLNotices"] = [{"URL": target["webhook"], "StartTime": 0, "EndTime": 86399}]
        created = self.change("monitor", "CreateAlarmNotice", notice)
        self.plan.say("create", f"monitor notice {name}", _describe_target(target))
        return str(created.get("NoticeId", "(new)"))

    def monitor_alarms(self, notice_id: str | None) -> None:
        desired = self.desired
        for alarm in load_json("monitor/alarms.json"):
            name = f"{desired.name}-{alarm['name'].replace(' ', '-')}"
            value = alarm.get("value")
            if "value_share_of_timeout" in alarm:
                value = round(desired.timeout * 1000 * float(alarm["value_share_of_timeout"]))
            condition = {
                "IsUnionRule": 0,
                "Rules": [
                    {
                        "MetricName": alarm["metric"],
                        "Period": int(alarm["period_seconds"]),
                        "Operator": alarm["operator"],
                        "Value": str(value),
                        "ContinuePeriod": int(alarm["continue_periods"]),
                        "NoticeFrequency": int(alarm["repeat_seconds"]),
                        "IsPowerNotice": 0,
                    }
                ],
            }
            found = self.call(
                "monitor",
                "DescribeAlarmPolicies",
                {"Module": "monitor", "PageNumber": 1, "PageSize": 100, "PolicyName": name},
            )
            match = [item for item in found.get("Policies") or [] if item.get("PolicyName") == name]
            notices = [notice_id] if notice_id is not None else list(match[0].get("NoticeIds") or []) if match else []
            if match:
                current = match[0]
                same_rules = _same_json(_rules_view(current.get("Condition")), _rules_view(condition))
                if same_rules and list(current.get("NoticeIds") or []) == notices:
                    self.plan.say("keep", f"monitor alarm {name}")
                else:
                    change: dict[str, Any] = {
                        "Module": "monitor",
                        "PolicyId": current["PolicyId"],
                        "Condition": condition,
                    }
                    if notices:
                        change["NoticeIds"] = notices
                    self.change("monitor", "ModifyAlarmPolicyCondition", change)
                    self.plan.say("update", f"monitor alarm {name}", f"{alarm['metric']} {alarm['operator']} {value}")
                continue
            policy: dict[str, Any] = {
                "Module": "monitor",
                "PolicyName": name,
                "MonitorType": "MT_QCE",
                "Namespace": "scf_v2",
                "Condition": condition,
                "Enable": 1,
                "Remark": f"{alarm['runbook']} ({MARKER})",
            }
            if notice_id is not None:
                policy["NoticeIds"] = [notice_id]
            created = self.change("monitor", "CreateAlarmPolicy", policy)
            dimensions = json.dumps(
                {"functionName": desired.name, "namespace": desired.namespace}, separators=(",", ":")
            )
            if not self.dry_run:
                self.change(
                    "monitor",
                    "BindingPolicyObject",
                    {
                        "Module": "monitor",
                        "GroupId": 0,
                        "PolicyId": created["PolicyId"],
                        "Dimensions": [{"Region": desired.region, "Dimensions": dimensions}],
                    },
                )
            self.plan.say("create", f"monitor alarm {name}", f"{alarm['metric']} {alarm['operator']} {value}")

    # ---- destroy ------------------------------------------------------------------------------------

    def destroy(self) -> None:
        desired = self.desired
        self.plan.note(f"region {desired.region}, namespace {desired.namespace}, function {desired.name}")
        with step("Cloud Monitor alarms"):
            for alarm in load_json("monitor/alarms.json"):
                name = f"{desired.name}-{alarm['name'].replace(' ', '-')}"
                found = self.call(
                    "monitor",
                    "DescribeAlarmPolicies",
                    {"Module": "monitor", "PageNumber": 1, "PageSize": 100, "PolicyName": name},
                )
                for item in found.get("Policies") or []:
                    if item.get("PolicyName") == name:
                        self.change(
                            "monitor", "DeleteAlarmPolicy", {"Module": "monitor", "PolicyIds": [item["PolicyId"]]}
                        )
                        self.plan.say("delete", f"monitor alarm {name}")
        with step("Cloud Monitor notice"):
            found = self.call(
                "monitor",
                "DescribeAlarmNotices",
                {"Module": "monitor", "PageNumber": 1, "PageSize": 100, "Order": "ASC", "Name": desired.notice},
            )
            for item in found.get("Notices") or []:
                if item.get("Name") == desired.notice:
                    self.change("monitor", "DeleteAlarmNotices", {"Module": "monitor", "NoticeIds": [item["Id"]]})
                    self.plan.say("delete", f"monitor notice {desired.notice}")
        with step("CLS dashboard"):
            board = load_json("cls/dashboard.json")["name"]
            found = self.call("cls", "DescribeDashboards", {"Filters": [{"Key": "dashboardName", "Values": [board]}]})
            for item in found.get("DashboardInfos") or []:
                if item.get("DashboardName") == board:
                    self.change("cls", "DeleteDashboard", {"DashboardId": item["DashboardId"]})
                    self.plan.say("delete", f"cls dashboard {board}")
        with step("CLS alarms"):
            names = {desired.alarm_prefix + alarm["name"] for alarm in load_json("cls/alarms.json")}
            found = self.call(
                "cls", "DescribeAlarms", {"Filters": [{"Key": "name", "Values": [desired.alarm_prefix]}], "Limit": 100}
            )
            for item in found.get("Alarms") or []:
                if item.get("Name") in names:
                    self.change("cls", "DeleteAlarm", {"AlarmId": item["AlarmId"]})
                    self.plan.say("delete", f"cls alarm {item['Name']!r}")
        with step("CLS alarm notice"):
            found = self.call("cls", "DescribeAlarmNotices", {"Filters": [{"Key": "name", "Values": [desired.notice]}]})
            for item in found.get("AlarmNotices") or []:
                if item.get("Name") == desired.notice:
                    self.change("cls", "DeleteAlarmNotice", {"AlarmNoticeId": item["AlarmNoticeId"]})
                    self.plan.say("delete", f"cls alarm notice {desired.notice}")
        with step("function"):
            self.destroy_function()
        with step("CLS log topic and logset"):
            self.destroy_logs()
        with step("role policy and role"):
            self.destroy_cam()

    def destroy_function(self) -> None:
        desired = self.desired
        current = self.read("scf", "GetFunction", self.function_key)
        if current is None:
            return
        if MARKER not in str(current.get("Description", "")):
            self.plan.say("leave", f"scf function {desired.name}", "not deployed by make deploy")
            return
        for trigger in self._triggers():
            name = trigger.get("TriggerName")
            ours = name == desired.http_trigger or name in {
                f"{k['Name']}-{k['Topic']}" for k in desired.ckafka_triggers()
            }
            if ours:
                self.change("scf", "DeleteTrigger", {**self.function_key, "TriggerName": name, "Type": trigger["Type"]})
                self.plan.say("delete", f"scf trigger {name}")
        self.change("scf", "DeleteFunction", self.function_key)
        self.plan.say("delete", f"scf function {desired.name}", "with its reserved concurrency and retry settings")

    def destroy_logs(self) -> None:
        desired = self.desired
        found = self.call("cls", "DescribeLogsets", {"Filters": [{"Key": "logsetName", "Values": [desired.logset]}]})
        for logset in found.get("Logsets") or []:
            if logset.get("LogsetName") != desired.logset:
                continue
            topics = self.call(
                "cls", "DescribeTopics", {"Filters": [{"Key": "logsetId", "Values": [logset["LogsetId"]]}]}
            )
            others = 0
            for topic in topics.get("Topics") or []:
                if topic.get("TopicName") == desired.topic:
                    self.change("cls", "DeleteTopic", {"TopicId": topic["TopicId"]})
                    self.plan.say("delete", f"cls topic {desired.topic}", "and its logs")
                else:
                    others += 1
            if others:
                self.plan.say("leave", f"cls logset {desired.logset}", f"it holds {others} other topic(s)")
            else:
                self.change("cls", "DeleteLogset", {"LogsetId": logset["LogsetId"]})
                self.plan.say("delete", f"cls logset {desired.logset}")

    def destroy_cam(self) -> None:
        desired = self.desired
        listed = self.call("cam", "ListPolicies", {"Keyword": POLICY_NAME, "Scope": "Local", "Rp": 200, "Page": 1})
        for item in listed.get("List") or []:
            if item.get("PolicyName") != POLICY_NAME:
                continue
            if MARKER not in str(item.get("Description", "")):
                self.plan.say("leave", f"cam policy {POLICY_NAME}", "not created by make deploy")
                continue
            self.change("cam", "DetachRolePolicy", {"PolicyId": int(item["PolicyId"]), "DetachRoleName": desired.role})
            self.change("cam", "DeletePolicy", {"PolicyId": [int(item["PolicyId"])]})
            self.plan.say("delete", f"cam policy {POLICY_NAME}")
        role = self.read("cam", "GetRole", {"RoleName": desired.role})
        if role is not None:
            if MARKER in str((role.get("RoleInfo") or {}).get("Description", "")):
                self.change("cam", "DeleteRole", {"RoleName": desired.role})
                self.plan.say("delete", f"cam role {desired.role}")
            else:
                self.plan.say("leave", f"cam role {desired.role}", "not created by make deploy")


# ---- comparisons -----------------------------------------------------------------------------------


def _policy_document(name: str) -> str:
    return json.dumps(load_json(name), separators=(",", ":"))


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            from urllib.parse import unquote

            try:
                return json.loads(unquote(value))  # CAM answers policy documents URL-encoded
            except ValueError:
                return value
    return value


def _same_json(current: Any, wanted: Any) -> bool:
    return bool(_parsed(current) == _parsed(wanted))


def _index_fields(rule: Any) -> dict[str, Any]:
    rule = _parsed(rule) or {}
    key_values = ((rule.get("KeyValue") or {}).get("KeyValues")) or []
    return {item.get("Key"): (item.get("Value") or {}).get("Type") for item in key_values}


def _variables_of(function: Mapping[str, Any] | None) -> dict[str, str]:
    if not function:
        return {}
    variables = (function.get("Environment") or {}).get("Variables") or []
    return {str(item.get("Key")): str(item.get("Value", "")) for item in variables}


def _configuration_differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    labels = {
        "Runtime": "runtime",
        "MemorySize": "memory",
        "Timeout": "timeout",
        "Role": "role",
        "Description": "description",
        "ClsLogsetId": "log topic",
        "ClsTopicId": "log topic",
        "VpcConfig": "VPC",
    }
    found = []
    for key, label in labels.items():
        if (
            key in wanted
            and str(current.get(key) or "") != str(wanted[key])
            and not _same_json(current.get(key), wanted[key])
        ):
            found.append(label)
    if _variables_of(current) != {item["Key"]: item["Value"] for item in wanted["Environment"]["Variables"]}:
        found.append("variables")
    return list(dict.fromkeys(found))


def _describe_variables(current: Mapping[str, str], wanted: Mapping[str, str]) -> str:
    """What changes among the variables, values shown except secrets'."""
    parts = []
    for name in sorted(set(current) | set(wanted)):
        before, after = current.get(name), wanted.get(name)
        if before == after:
            continue
        if after is None:
            parts.append(f"{name} removed")
        elif name in SECRETS:
            parts.append(f"{name} {'set' if before is None else 'changed'}")
        else:
            parts.append(f"{name}={after}")
    kept = [name for name in SECRETS if name in current and name in wanted and current[name] == wanted[name]]
    if kept:
        parts.append("keeps " + ", ".join(kept))
    return "; ".join(parts) if parts else "variables unchanged"


def _describe_target(target: Mapping[str, Any]) -> str:
    parts = []
    if target["webhook"]:
        parts.append(f"{target['webhook_type']} web callback")
    if target["uins"]:
        parts.append(f"{len(target['uins'])} user(s)")
    if target["groups"]:
        parts.append(f"{len(target['groups'])} group(s)")
    return ", ".join(parts)


def _notice_view(notice: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "receivers": notice.get("NoticeReceivers") or [],
        "callbacks": [
            {"CallbackType": item.get("CallbackType"), "Url": item.get("Url")}
            for item in notice.get("WebCallbacks") or []
        ],
    }


def _rules_view(condition: Any) -> list[tuple[Any, ...]]:
    rules = (_parsed(condition) or {}).get("Rules") or []
    return [
        (rule.get("MetricName"), rule.get("Operator"), str(rule.get("Value")), rule.get("Period")) for rule in rules
    ]


# ---- the command -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="make deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["apply", "destroy"])
    parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing (reads only)")
    parser.add_argument("--unset", default="", help="comma-separated variables to remove from the function")
    parser.add_argument("--zip", type=Path, default=FUNCTION_ZIP, help="the package (make package)")
    args = parser.parse_args(argv)
    shell = os.environ if environ is None else environ
    binary = shell.get("TCCLI") or shutil.which("tccli")
    if binary is None:
        print("deploy: tccli is not installed: pip install tccli, then tccli configure (README, Deploy)", file=out)
        return 1
    if args.command == "apply" and not args.zip.is_file():
        print(f"deploy: no package at {args.zip}: make package", file=out)
        return 1
    # A run killed with SIGKILL leaves the one request file tccli had open (it may hold a secret): gone now.
    for stale in REQUESTS.glob("*.json") if REQUESTS.is_dir() else []:
        stale.unlink(missing_ok=True)
    try:
        unset = frozenset(name.strip() for name in args.unset.split(",") if name.strip())
        desired = Desired.from_template(shell, args.zip, unset)
        cloud = Tccli(binary, desired.region, shell.get("DEPLOY_API_ENDPOINT") or None)
        plan = Plan(out, args.dry_run)
        deployer = Deployer(cloud, desired, plan, poll_seconds=float(shell.get("DEPLOY_POLL_SECONDS") or 2.0))
        print(f"deploy: {'plan (dry run, nothing changes)' if args.dry_run else args.command}", file=out, flush=True)
        deployer.apply() if args.command == "apply" else deployer.destroy()
    except DeployError as exc:
        print(f"deploy: {exc}", file=out)
        print("deploy: nothing after that step ran; fix it and run the same command again (it continues)", file=out)
        return 1
    finally:
        with contextlib.suppress(OSError):
            REQUESTS.rmdir()  # empty: every request file is deleted as soon as tccli has read it
    summary = ", ".join(f"{count} {verb}" for verb, count in sorted(plan.counts.items()))
    print(f"deploy: done ({summary})" if not args.dry_run else f"deploy: plan: {summary}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the template, the stack file and the shell ask for."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.runtime import function_from_template
from sms_conversion.logfields import LOG_FIELDS
from tools.sizing import Sizing, capacity_rps
from tools.stack import DEFAULT, STACKS, Names, Source, StackError, StackSettings, from_shell, variable_sources

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_ZIP = ROOT / "dist" / "function.zip"
# The account's ReportConversion quota (API page: 1,000 requests per second).
DEFAULT_QUOTA_RPS = 1000
DEFAULT_INSTANCES = 4
# SMS_MAX_RPS when the function has none set (the function's own default).
FUNCTION_DEFAULT_MAX_RPS = 1000
# What SCF takes in a function's description (UpdateFunctionConfiguration.Description in tccli's api.json; the one
# for CreateFunction also allows newlines): "最大支持 1000 个英文字母、数字、空格、逗号和英文句号，支持中文".
DESCRIPTION_TEXT = "最大支持 1000 个英文字母、数字、空格、逗号和英文句号，支持中文"
DESCRIPTION_RULE = re.compile(r"[A-Za-z0-9 ,.\u4e00-\u9fff]")
DESCRIPTION_LIMIT = 1000
# CLS fields the platform adds to every line of a function's log (SCF doc 583/60336), indexed beside ours.
SCF_FIELDS = ("SCF_FunctionName", "SCF_Namespace", "SCF_RequestId", "SCF_Message", "SCF_Type", "SCF_Level")


# ---- what the template and the stack ask for ------------------------------------------------------


@dataclass
class Desired:
    namespace: str
    names: Names
    properties: dict[str, Any]
    settings: StackSettings
    region: str
    zip_path: Path
    shell: Mapping[str, str]
    unset: frozenset[str] = frozenset()
    instances: int = DEFAULT_INSTANCES
    quota_rps: int = DEFAULT_QUOTA_RPS
    # The package is the one this run builds from the sources (make deploy), not one given (--zip).
    from_sources: bool = False

    @classmethod
    def from_template(
        cls,
        shell: Mapping[str, str],
        zip_path: Path,
        unset: frozenset[str],
        stacks: Path = STACKS,
        from_sources: bool = False,
    ) -> Desired:
        namespace, name, properties = function_from_template()
        settings = StackSettings.load(shell.get("STACK") or DEFAULT, stacks)
        settings.check_keys(template_variables(properties))
        values = settings.values
        region = (
            shell.get("REGION")
            or shell.get("TENCENTCLOUD_REGION")
            or values.get("REGION")
            or str(values.get("SMS_REGION") or template_variables(properties).get("SMS_REGION") or "ap-guangzhou")
        )
        instances = values.get("RESERVED_INSTANCES") or shell.get("RESERVED_INSTANCES") or str(DEFAULT_INSTANCES)
        try:
            count = int(instances)
        except ValueError:
            where = f"{settings.where('RESERVED_INSTANCES')}: " if values.get("RESERVED_INSTANCES") else ""
            raise StackError(f"{where}RESERVED_INSTANCES={instances!r} is not a whole number") from None
        return cls(
            namespace,
            Names(settings.name, name, str(properties["Role"])),
            properties,
            settings,
            region,
            zip_path,
            shell,
            unset,
            instances=count,
            quota_rps=int(shell.get("SMS_ACCOUNT_QUOTA_RPS") or DEFAULT_QUOTA_RPS),
            from_sources=from_sources,
        )

    @property
    def memory(self) -> int:
        return int(self.properties["MemorySize"])

    @property
    def timeout(self) -> int:
        return int(self.properties["Timeout"])

    def setting(self, name: str) -> str:
        """A deploy setting: the stack file's, else the shell's (ALARM_*, and CKafka / VPC for the default stack)."""
        return (self.settings.values.get(name) or self.shell.get(name) or "").strip()

    def package_sha(self) -> str:
        """What the function's description records of its code: the digest of the sources a package built by this
        run comes from (known to a dry run, which never builds), else the given zip's digest ("unbuilt" when a dry
        run names a zip that is not there)."""
        if self.from_sources:
            return sources_digest()
        if not self.zip_path.is_file():
            return "unbuilt"
        return hashlib.sha256(self.zip_path.read_bytes()).hexdigest()

    def package_mark(self) -> str:
        return f"package sha256 {self.package_sha()[:16]}"

    def description(self, marker: str) -> str:
        """The function's description: the template's, then who manages it and which package it runs, in the only
        characters SCF takes (`DESCRIPTION_RULE`; the stack is in the function's tags)."""
        return f"{str(self.properties.get('Description', '')).rstrip('. ')}, {marker}, {self.package_mark()}."

    def description_problem(self) -> str | None:
        """Why template.yaml's Description would be refused, or None."""
        text = str(self.properties.get("Description", ""))
        wrong = sorted({char for char in text if not DESCRIPTION_RULE.fullmatch(char)})
        if wrong:
            return (
                f"template.yaml: the function's Description has {''.join(wrong)!r}, which SCF refuses "
                f"({DESCRIPTION_TEXT}, UpdateFunctionConfiguration.Description): keep to letters, digits, spaces, "
                "commas and periods"
            )
        if len(self.description("managed by make deploy")) > DESCRIPTION_LIMIT:
            return (
                f"template.yaml: the function's Description is too long: SCF takes {DESCRIPTION_LIMIT} characters in "
                "all, the tool's mark and the package's digest included"
            )
        return None

    def variable_sources(self, current: Mapping[str, str]) -> tuple[dict[str, Source], list[str]]:
        template = template_variables(self.properties)
        stack = {name: value for name, value in self.settings.values.items() if name in template}
        return variable_sources(current, template, stack, self.shell, from_shell(self.shell), self.unset)

    def ckafka_triggers(self) -> list[dict[str, Any]]:
        """The stack's CKafka trigger (CKAFKA_INSTANCE / CKAFKA_TOPIC), else the template's when it is filled in."""
        instance, topic = self.setting("CKAFKA_INSTANCE"), self.setting("CKAFKA_TOPIC")
        template = [
            dict(event.get("Properties") or {})
            for event in (self.properties.get("Events") or {}).values()
            if event.get("Type") == "Ckafka"
        ]
        base = template[0] if template else {"MaxMsgNum": 1000, "Offset": "latest"}
        if instance and topic:
            batch = self.setting("CKAFKA_MAX_MSG_NUM") or str(base.get("MaxMsgNum", 1000))
            return [{**base, "Name": instance, "Topic": topic, "MaxMsgNum": int(batch)}]
        return [kafka for kafka in template if "xxxx" not in str(kafka.get("Name"))]

    def vpc(self) -> dict[str, str] | None:
        vpc_id, subnet = self.setting("VPC_ID"), self.setting("SUBNET_ID")
        if vpc_id and subnet:
            return {"VpcId": vpc_id, "SubnetId": subnet}
        vpc = self.properties.get("VpcConfig")
        return {"VpcId": vpc["VpcId"], "SubnetId": vpc["SubnetId"]} if vpc else None

    def notice_target(self) -> dict[str, Any] | None:
        """Who alarms tell: a web callback (ALARM_WEBHOOK) and/or CAM users or groups, or nobody."""
        webhook = self.setting("ALARM_WEBHOOK")
        uins = [item.strip() for item in self.setting("ALARM_CAM_UINS").split(",") if item.strip()]
        groups = [item.strip() for item in self.setting("ALARM_CAM_GROUPS").split(",") if item.strip()]
        if not (webhook or uins or groups):
            return None
        return {
            "webhook": webhook,
            "webhook_type": self.setting("ALARM_WEBHOOK_TYPE") or "WeCom",
            "uins": uins,
            "groups": groups,
        }

    def sizing(self, variables: Mapping[str, str]) -> Sizing:
        """The plan's capacity at this memory beside its rate cap (tools/sizing.py)."""
        batches = [int(kafka["MaxMsgNum"]) for kafka in self.ckafka_triggers() if "MaxMsgNum" in kafka]
        template = [
            int((event.get("Properties") or {}).get("MaxMsgNum", 0))
            for event in (self.properties.get("Events") or {}).values()
            if event.get("Type") == "Ckafka"
        ]
        batch = max(batches or template or [0]) or None
        return Sizing(
            memory_mb=self.memory,
            capacity_rps=capacity_rps(self.memory),
            cap_rps=int(variables.get("SMS_MAX_RPS") or FUNCTION_DEFAULT_MAX_RPS),
            instances=self.instances,
            batch=batch,
            timeout_s=self.timeout,
        )


def sources_digest() -> str:
    """sha256 over everything `make package` builds the function from: src/ (without bytecode), the pinned
    requirements and the build itself (tools/package.py). The same sources build the same package."""
    digest = hashlib.sha256()
    files = [ROOT / "requirements.txt", ROOT / "tools" / "package.py"]
    files += sorted(path for path in (ROOT / "src").rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def template_variables(properties: Mapping[str, Any]) -> dict[str, str]:
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return {str(name): "" if value is None else str(value) for name, value in variables.items()}


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

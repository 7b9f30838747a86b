"""A stack: one deployed copy of the function and everything around it (staging, production, a second region).

`make deploy STACK=<name>` derives every resource name from the stack. The default stack keeps the names
the tool always used (the function `report-conversion`, the role `SCF_ReportConversionRole`, the policy
`ReportConversionSms`, the dashboard `report-conversion`), so a deployment made before stacks existed
updates in place; any other stack appends `-<name>` to each of them.

Per-stack settings live in `deploy/stacks/<name>.env`, a file the operator owns (KEY=VALUE lines; an
example is `deploy/stacks/example.env`): the function's variables (SMS_REGION, SMS_ENDPOINT, SMS_SDK_APP_ID,
SMS_ALLOWED_SDK_APP_IDS, SMS_MAX_RPS, ...), REGION (where the function lives, unless the shell says
`REGION=`), RESERVED_INSTANCES, CKAFKA_INSTANCE / CKAFKA_TOPIC / CKAFKA_MAX_MSG_NUM, VPC_ID / SUBNET_ID, and
who alarms tell (ALARM_WEBHOOK, ALARM_CAM_UINS, ...). Nobody edits template.yaml for a second copy.

Where each function variable comes from, in this order (later wins, an empty value never wins):
the function's current value (kept), template.yaml, the stack file, and from the shell only the secrets
(REPORT_SIGNING_SECRET, CMQ_PUSH_TOKEN, REDIS_URL) and the names listed in FROM_SHELL=NAME,... Anything
else the shell exports (an SMS_ENDPOINT left from a rehearsal against the emulator) is ignored, and the
plan says so.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

STACKS = Path(__file__).resolve().parent.parent / "deploy" / "stacks"
DEFAULT = "default"
SECRETS = ("REPORT_SIGNING_SECRET", "CMQ_PUSH_TOKEN", "REDIS_URL")
# Settings of the deploy itself (not function variables) a stack file may hold.
DEPLOY_SETTINGS = (
    "REGION",
    "RESERVED_INSTANCES",
    "CKAFKA_INSTANCE",
    "CKAFKA_TOPIC",
    "CKAFKA_MAX_MSG_NUM",
    "VPC_ID",
    "SUBNET_ID",
    "ALARM_WEBHOOK",
    "ALARM_WEBHOOK_TYPE",
    "ALARM_CAM_UINS",
    "ALARM_CAM_GROUPS",
)
_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")
_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
# The SMS API's mainland regions answer at sms.tencentcloudapi.com; the others at sms.intl.tencentcloudapi.com
# (SMS API docs, "Region list"; the international site's ReportConversion page).
MAINLAND_SMS_REGIONS = ("ap-guangzhou", "ap-beijing", "ap-nanjing", "ap-shanghai", "ap-chengdu", "ap-chongqing")
DOMESTIC_ENDPOINT = "sms.tencentcloudapi.com"
INTERNATIONAL_ENDPOINT = "sms.intl.tencentcloudapi.com"


# The documented limits of the names a stack derives, with the text each comes from: the member's document in
# tccli 3.1.189.1's api.json (tccli/services/<service>/<version>/api.json).
NAME_LIMITS = (
    ("scf function", "function", 60, "scf CreateFunction.FunctionName: 名称长度2-60"),
    ("cam role", "role", 128, "cam CreateRole.RoleName: 长度为1~128个字符"),
    ("cam policy", "policy", 128, "cam CreatePolicy.PolicyName: 长度为1~128个字符"),
    ("cls logset", "logset", 255, "cls CreateLogset.LogsetName: 最大支持255个字符"),
    ("monitor notice", "notice", 60, "monitor CreateAlarmNotice.Name: 通知模板名称 60字符以内"),
    ("monitor alarm policy", "monitor_alarm", 60, "monitor CreateAlarmPolicy.PolicyName: 策略名称，不超过60字符"),
)
# SCF's quota page (product 583/11637): a function's environment variables, 4 KB in all.
VARIABLES_LIMIT_BYTES = 4096


class StackError(Exception):
    """One line: what is wrong with the stack or its settings, and what to do."""


@dataclass(frozen=True)
class Names:
    """Every name a stack's resources carry, derived in one place."""

    stack: str
    base_function: str
    base_role: str

    def suffix(self, name: str) -> str:
        return name if self.stack == DEFAULT else f"{name}-{self.stack}"

    @property
    def function(self) -> str:
        return self.suffix(self.base_function)

    @property
    def role(self) -> str:
        return self.suffix(self.base_role)

    @property
    def policy(self) -> str:
        return self.suffix("ReportConversionSms")

    @property
    def logset(self) -> str:
        return self.function

    @property
    def topic(self) -> str:
        return f"{self.function}-logs"

    @property
    def http_trigger(self) -> str:
        return f"{self.function}-url"

    @property
    def alarm_prefix(self) -> str:
        return f"{self.function}: "

    @property
    def notice(self) -> str:
        return f"{self.function}-operators"

    def dashboard(self, base: str) -> str:
        return self.suffix(base)

    def monitor_alarm(self, alarm: str) -> str:
        return f"{self.function}-{alarm.replace(' ', '-')}"

    def too_long(self, monitor_alarms: list[str]) -> list[str]:
        """Each derived name over its documented limit, said with the limit's text and what to do."""
        problems = []
        for what, attribute, limit, text in NAME_LIMITS:
            found = [self.monitor_alarm(alarm) for alarm in monitor_alarms] if attribute == "monitor_alarm" else []
            for name in found or [getattr(self, attribute)]:
                if len(name) > limit:
                    over = len(name) - limit
                    problems.append(
                        f"STACK={self.stack} makes the {what} name {name} ({len(name)} characters), over the "
                        f"documented {limit} ({text}): choose a stack name {over} or more characters shorter"
                    )
        return problems


@dataclass
class Source:
    """Where a variable's value comes from, for the plan."""

    value: str
    origin: str  # "template", "stack file", "shell", "kept"


@dataclass
class StackSettings:
    name: str
    path: Path | None
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # the line each key was set on (errors name it)

    @classmethod
    def load(cls, name: str, directory: Path = STACKS) -> StackSettings:
        if not _NAME.fullmatch(name):
            raise StackError(
                f"STACK={name!r}: a stack name is 1 to 20 lower-case letters, digits and dashes, starting with a letter"
            )
        path = directory / f"{name}.env"
        if not path.is_file():
            if name == DEFAULT:
                return cls(name, None)
            raise StackError(f"no settings for stack {name!r}: copy deploy/stacks/example.env to {path} and fill it in")
        values: dict[str, str] = {}
        lines: dict[str, int] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise StackError(f"{path}: cannot read the stack file ({why})") from None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            key, equals, value = line.partition("=")
            key, value = key.strip().removeprefix("export ").strip(), value.strip()
            if not equals or not _KEY.fullmatch(key):
                raise StackError(f"{path}:{number}: not KEY=VALUE: {raw.strip()[:60]!r}")
            if key in SECRETS:
                raise StackError(
                    f"{path}:{number}: {key} is a secret: export it in the shell when you deploy, never in a file"
                )
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[key] = value
            lines[key] = number
        return cls(name, path, values, lines)

    def where(self, key: str) -> str:
        """`file:line` of a key set in the stack file (the file alone for one it does not set)."""
        return f"{self.path}:{self.lines[key]}" if key in self.lines else str(self.path)

    def check_keys(self, template_variables: Mapping[str, str]) -> None:
        allowed = set(template_variables) | set(DEPLOY_SETTINGS)
        unknown = sorted(set(self.values) - allowed, key=lambda key: self.lines.get(key, 0))
        if unknown:
            problems = []
            for key in unknown:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                problems.append(
                    f"{self.where(key)}: unknown setting {key}{f' (did you mean {close[0]}?)' if close else ''}"
                )
            raise StackError(
                "; ".join(problems) + f": a stack file holds the function's variables (template.yaml's) and "
                f"{', '.join(DEPLOY_SETTINGS)}"
            )


def from_shell(shell: Mapping[str, str]) -> frozenset[str]:
    """The variables the operator asked to take from the shell: the secrets and FROM_SHELL's names."""
    named = {name.strip() for name in shell.get("FROM_SHELL", "").split(",") if name.strip()}
    return frozenset(SECRETS) | frozenset(named)


def variable_sources(
    current: Mapping[str, str],
    template: Mapping[str, str],
    stack: Mapping[str, str],
    shell: Mapping[str, str],
    taken_from_shell: frozenset[str],
    unset: frozenset[str],
) -> tuple[dict[str, Source], list[str]]:
    """Each variable's value and where it comes from, and the shell variables that were ignored."""
    result = {name: Source(value, "kept") for name, value in current.items()}
    for origin, layer in (("template", template), ("stack file", stack)):
        for name, value in layer.items():
            if name in template and value:
                result[name] = Source(value, origin)
    ignored = []
    for name in template:
        value = shell.get(name) or ""
        if not value:
            continue
        if name in taken_from_shell:
            result[name] = Source(value, "shell")
        elif value != (result.get(name) or Source("", "")).value:
            ignored.append(name)
    for name in unset:
        result.pop(name, None)
    return result, sorted(ignored)


def endpoint_problem(endpoint: str, region: str) -> str | None:
    """Why the function must not be deployed with this SMS endpoint and region, or None."""
    text = endpoint.strip()
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme != "https":
        return f"SMS_ENDPOINT={text} is not HTTPS: the function must reach the API over TLS"
    host = (parts.hostname or "").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return f"SMS_ENDPOINT={text} is this machine: a rehearsal's emulator (unset SMS_ENDPOINT or fix the stack file)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (address.is_loopback or address.is_private or address.is_link_local):
        return f"SMS_ENDPOINT={text} is a loopback or private address: the function would never reach the API"
    mainland = region in MAINLAND_SMS_REGIONS
    if host == DOMESTIC_ENDPOINT and not mainland:
        return (
            f"SMS_REGION={region} is served by the international site: pair it with "
            f"SMS_ENDPOINT={INTERNATIONAL_ENDPOINT} (or choose a mainland region)"
        )
    if host == INTERNATIONAL_ENDPOINT and mainland:
        return (
            f"SMS_REGION={region} is a mainland region: pair it with SMS_ENDPOINT={DOMESTIC_ENDPOINT} "
            "(or choose an international region such as ap-singapore)"
        )
    return None

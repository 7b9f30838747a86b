"""The plan: the walk over the stack's resources, the checks that refuse it, and what it prints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from sms_conversion.settings import ConfigurationError, check_against_limit, load_settings
from tools.deploy import resources
from tools.deploy.desired import FUNCTION_DEFAULT_MAX_RPS, Desired, index_rule, load_json, quota_problem
from tools.deploy.resources import Resource
from tools.deploy.resources.base import Context, parsed, variables_of
from tools.deploy.tccli import Cloud, CloudError, DeployError
from tools.stack import DEFAULT, SECRETS, VARIABLES_LIMIT_BYTES, Source, endpoint_problem

# The description mark of everything the tool made before it tagged (kept on what it makes now, as a note).
MARKER = "managed by make deploy"
MANAGED_BY = ("managed-by", "report-conversion-deploy")
STACK_TAG = "stack"


# ---- the plan --------------------------------------------------------------------------------------


@dataclass
class Plan:
    out: TextIO
    dry_run: bool
    command: str = "deploy"
    counts: dict[str, int] = field(default_factory=dict)

    def say(self, verb: str, what: str, detail: str = "") -> None:
        self.counts[verb] = self.counts.get(verb, 0) + 1
        shown = f"would {verb}" if self.dry_run and verb not in ("keep", "leave") else verb
        print(f"  {shown:<15} {what}" + (f": {detail}" if detail else ""), file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(f"{self.command}: {text}", file=self.out, flush=True)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """A failure inside names the step it happened in (and what to fix, when the caller is the problem)."""
    try:
        yield
    except CloudError as exc:
        advice = exc.advice()
        raise DeployError(advice or f'step "{name}" failed: {exc}') from None


class Deployer(Context):
    plan: Plan  # the printing plan; a resource sees it as base.Plan

    def __init__(
        self,
        cloud: Cloud,
        desired: Desired,
        plan: Plan,
        poll_seconds: float = 2.0,
        wait_seconds: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        build_package: Callable[[], None] | None = None,
    ) -> None:
        self.cloud = cloud
        # Called once the plan has passed its checks (a dry run never builds the package).
        self.build_package = build_package
        # Why the cloud could not be asked (a dry run goes on with what needs no account), or None.
        self.unknown: str | None = None
        self.desired = desired
        self.names = desired.names
        self.plan = plan
        self.dry_run = plan.dry_run
        self.poll_seconds = poll_seconds
        self.wait_seconds = wait_seconds
        self.sleep = sleep
        self.marker = MARKER
        self.function_key = {"FunctionName": desired.names.function, "Namespace": desired.namespace}
        self.ids: dict[str, str] = {}
        # Ids that an owned resource refers to: how a resource made before tags is shown to be the stack's.
        self.referenced: set[str] = set()
        self.current: dict[str, Any] | None = None  # the stack's own function, when it exists
        self.foreign: dict[str, Any] | None = None  # a function of the stack's name that is not the stack's
        self.variables: dict[str, str] = {}
        self.sources: dict[str, Source] = {}
        self.deleted_topic = False
        self.function_created = False
        self.refusals: list[str] = []
        self._triggers: list[dict[str, Any]] | None = None
        self._alarms: dict[str, dict[str, Any]] | None = None
        self.walk = resources.resources(
            desired.ckafka_triggers(), load_json("cls/alarms.json"), load_json("monitor/alarms.json")
        )

    # ---- what resources share -------------------------------------------------------------------------

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": MANAGED_BY[0], "Value": MANAGED_BY[1]}, {"Key": STACK_TAG, "Value": self.names.stack}]

    def owns(self, resource: Resource, found: Mapping[str, Any]) -> bool:
        """The one ownership check: the stack's tags, or (default stack) the tool's mark from before tags."""
        tags = _tag_map(resource.tags(found))
        if tags.get(MANAGED_BY[0]) == MANAGED_BY[1]:
            return tags.get(STACK_TAG) == self.names.stack
        return self.names.stack == DEFAULT and resource.legacy(self, found)

    def document(self, name: str) -> str:
        return json.dumps(load_json(name), separators=(",", ":"))

    def index_rule(self) -> dict[str, Any]:
        return index_rule()

    def board(self) -> dict[str, Any]:
        board: dict[str, Any] = load_json("cls/dashboard.json")
        return board

    def triggers(self) -> list[dict[str, Any]]:
        if self.current is None:
            return []
        if self._triggers is None:
            self._triggers = list(self.each("scf", "ListTriggers", dict(self.function_key), "Triggers"))
        return self._triggers

    def forget_triggers(self) -> None:
        self._triggers = None

    def cls_alarms(self) -> dict[str, dict[str, Any]]:
        if self._alarms is None:
            filters = [{"Key": "name", "Values": [self.names.alarm_prefix]}]
            self._alarms = {
                str(item.get("Name")): dict(item)
                for item in self.each("cls", "DescribeAlarms", {"Filters": filters}, "Alarms")
            }
        return self._alarms

    def describe_variables(self, current: Mapping[str, str]) -> str:
        """What changes among the variables, values shown except secrets'."""
        parts = []
        for name in sorted(set(current) | set(self.variables)):
            before, after = current.get(name), self.variables.get(name)
            if before == after:
                continue
            if after is None:
                parts.append(f"{name} removed")
            elif name in SECRETS:
                parts.append(f"{name} {'set' if before is None else 'changed'}")
            else:
                parts.append(f"{name}={after}")
        kept = [
            name
            for name in SECRETS
            if name in current and name in self.variables and current[name] == self.variables[name]
        ]
        if kept:
            parts.append("keeps " + ", ".join(kept))
        return "; ".join(parts) if parts else "variables unchanged"

    def wait_active(self, why: str) -> None:
        """Calls that change a function are refused until it is Active again."""
        if self.dry_run:
            return
        waited = 0.0
        while True:
            status = self.call("scf", "GetFunction", self.function_key)
            state = str(status.get("Status", ""))
            if state == "Active":
                self.current = status
                return
            if state.endswith("Failed"):
                reasons = "; ".join(str(item.get("ErrorMessage", item)) for item in status.get("StatusReasons") or [])
                raise CloudError(f"Function{state}", reasons or str(status.get("StatusDesc") or state))
            if waited >= self.wait_seconds:
                raise CloudError("Timeout", f"the function was still {state} after {waited:.0f} s ({why})")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    # ---- the walk -------------------------------------------------------------------------------------

    def begin(self) -> None:
        """The first call: it proves tccli's key works, and reads the function everything else hangs on. A dry run
        that cannot ask (no tccli, no key, no network) goes on with what the template, stack file and shell say."""
        with step("read the function"):
            try:
                found = self.read("scf", "GetFunction", self.function_key)
            except CloudError as exc:
                if not self.dry_run or exc.advice() is None:
                    raise
                self.unknown = exc.advice()
                return
        function = next(resource for resource in self.walk if isinstance(resource, resources.Function))
        if found is not None and self.owns(function, found):
            self.current = found
            self.referenced.update(str(found.get(key)) for key in ("ClsLogsetId", "ClsTopicId") if found.get(key))
        elif found is not None:
            self.foreign = found

    def apply(self) -> None:
        desired = self.desired
        self.begin()
        current_variables = variables_of(self.current)
        self.sources, ignored = desired.variable_sources(current_variables)
        self.variables = {name: source.value for name, source in self.sources.items()}
        self.plan.note(
            f"stack {self.names.stack}: function {self.names.function} in {desired.region} (namespace "
            f"{desired.namespace}); SMS API region {self.variables.get('SMS_REGION', '?')} at "
            f"{self.variables.get('SMS_ENDPOINT', '?')}"
        )
        self.plan.note(
            "variables: " + "; ".join(_describe_source(name, self.sources[name]) for name in sorted(self.sources))
        )
        if ignored:
            self.plan.note(
                f"ignored from the shell: {', '.join(ignored)} (the stack file and template.yaml decide; "
                "name one in FROM_SHELL=NAME,... to take it from the shell)"
            )
        self.plan.note(
            f"logs: CLS topic {self.names.topic} in logset {self.names.logset} ({desired.region}); every line is "
            "one JSON object, its fields indexed (docs/operations.md#logs)"
        )
        self.check()
        sized = desired.sizing(self.variables)
        self.plan.note(sized.note())
        for warning in sized.warnings():
            self.plan.note(f"warning: {warning}")
        if self.refusals and not self.dry_run:
            raise DeployError(f"refused: {self.refusals[0]}")
        if self.unknown is not None:
            self.plan.note(
                f"the cloud's state is unknown: {self.unknown}. What exists, and what a real run would create or "
                "change, cannot be said; everything above needs no account"
            )
            return
        if self.build_package is not None and not self.dry_run:
            with step("build the package"):
                self.build_package()
        if self.foreign is not None and not self.dry_run:
            message = f"scf function {self.names.function} exists and is not stack {self.names.stack}'s"
            raise DeployError(f"refused: {message}: choose another STACK")
        for resource in self.walk:
            with step(resource.label(self)):
                found = resource.read(self)
                if found is not None and not self.owns(resource, found):
                    self.plan.say("leave", resource.label(self), self.not_ours)
                    if isinstance(resource, (resources.Role, resources.Policy, resources.Logset, resources.Function)):
                        # The function cannot run on what another stack (or a person) owns.
                        message = (
                            f"{resource.label(self)} exists and is not stack {self.names.stack}'s: choose another STACK"
                        )
                        if not self.dry_run:
                            raise DeployError(f"refused: {message}")
                        self.refuse(message)
                    continue
                resource.ensure(self, found)
        if self.desired.notice_target() is None:
            self.plan.note(
                "alarms are created but nobody is notified: set ALARM_WEBHOOK (a WeCom, DingTalk or Lark robot URL; "
                "ALARM_WEBHOOK_TYPE=WeCom|DingTalk|Lark|Http) or ALARM_CAM_UINS / ALARM_CAM_GROUPS in the stack file"
            )
        if not self.dry_run:
            self.forget_triggers()
            url = function_url(self.triggers(), self.names.http_trigger)
            self.plan.note(
                f"Function URL: {url}" if url else "Function URL: the API did not return it; see the console"
            )

    @property
    def not_ours(self) -> str:
        return f"not stack {self.names.stack}'s (no tag {STACK_TAG}={self.names.stack}): left alone"

    def function_settings_problem(self) -> str | None:
        """What the function itself would answer 500 for, in its own words (its Settings, one home for every rule of
        a variable's value), with the stack file's line when a variable named there comes from it."""
        try:
            check_against_limit(load_settings(self.variables), float(self.desired.timeout))
        except ConfigurationError as exc:
            named = re.findall(r"\b([A-Z][A-Z0-9_]+):", str(exc))
            return f"{self.set_at(*named)}{exc} (the function would answer 500, misconfigured, to every request)"
        return None

    def set_at(self, *keys: str) -> str:
        """`file:line: ` of the first of `keys` the stack file sets (a refusal then says where to fix it), or ''."""
        settings = self.desired.settings
        for key in keys:
            if key in settings.lines:
                return f"{settings.where(key)}: "
        return ""

    def refuse(self, message: str) -> None:
        if message not in self.refusals:
            self.refusals.append(message)

    def check(self) -> None:
        """Everything that refuses a plan, collected: a real run stops before changing anything."""
        variables, desired = self.variables, self.desired
        problem = quota_problem(variables, desired.instances, desired.quota_rps)
        if problem:
            self.refuse(self.set_at("SMS_FLEET_MAX_RPS", "SMS_MAX_RPS", "RESERVED_INSTANCES") + problem)
        elif self.unknown is None and (account := self.account_quota_problem()):
            self.refuse(self.set_at("SMS_MAX_RPS", "RESERVED_INSTANCES", "SMS_FLEET_MAX_RPS") + account)
        function_problem = self.function_settings_problem()
        if function_problem:
            self.refuse(function_problem)
        elif endpoint := endpoint_problem(variables.get("SMS_ENDPOINT", ""), variables.get("SMS_REGION", "")):
            # (Only once the variables are the function's: a region that is not one gets no pairing advice.)
            self.refuse(self.set_at("SMS_ENDPOINT", "SMS_REGION") + endpoint)
        size = sum(len(name.encode()) + len(value.encode()) for name, value in variables.items())
        if size > VARIABLES_LIMIT_BYTES:
            self.refuse(
                f"the function's variables take {size} bytes, over SCF's {VARIABLES_LIMIT_BYTES} (its quota page, "
                "583/11637): shorten or remove some (make deploy UNSET=NAME,...)"
            )
        if description := desired.description_problem():
            self.refuse(description)
        for problem in self.names.too_long([alarm["name"] for alarm in load_json("monitor/alarms.json")]):
            self.refuse(problem)
        if not variables.get("REPORT_SIGNING_SECRET"):
            self.refuse(
                "REPORT_SIGNING_SECRET is not set on the function nor in your shell, and the Function URL is open to "
                "anyone: export REPORT_SIGNING_SECRET=$(openssl rand -hex 32) and deploy again"
            )

    def destroy(self) -> None:
        desired = self.desired
        self.begin()
        self.plan.note(f"stack {self.names.stack}: function {self.names.function} in {desired.region}")
        for key, name in (("logset", "ClsLogsetId"), ("topic", "ClsTopicId")):
            if self.current is not None and self.current.get(name):
                self.ids[key] = str(self.current[name])
        for resource in reversed(self.walk):
            with step(resource.label(self)):
                if isinstance(resource, resources.Topic) and "logset" not in self.ids:
                    resources.Logset().read(self)  # the topic is looked up in the stack's logset
                found = resource.read(self)
                if found is None:
                    continue
                if not self.owns(resource, found):
                    self.plan.say("leave", resource.label(self), self.not_ours)
                    continue
                if resource.goes_with:
                    continue  # deleted with it
                if resource.global_:
                    elsewhere = self.used_elsewhere()
                    if elsewhere:
                        self.plan.say(
                            "leave",
                            resource.label(self),
                            f"stack {self.names.stack}'s function in {elsewhere} still uses it",
                        )
                        continue
                resource.delete(self, found)

    def account_quota_problem(self) -> str | None:
        """Why every stack of the account together (this one as planned, the others as they run, in every region
        SCF serves) could start more calls per second than the account's ReportConversion quota, or None.

        A stack contributes instances (reserved concurrency / memory) x SMS_MAX_RPS, or its SMS_FLEET_MAX_RPS; stacks
        whose fleet limits live in one Redis (the same REDIS_URL) share one limit, counted once at its largest."""
        mine = f"{self.names.stack} in {self.desired.region}"
        parts: dict[str, int] = {}
        fleets: dict[str, tuple[int, str]] = {}
        unbounded: list[str] = []
        self._contribute(mine, self.variables, self.desired.instances, parts, fleets)
        for region, function in self.managed_functions():
            tags = _tag_map(function.get("Tags"))
            where = f"{tags.get(STACK_TAG, '?')} in {region}"
            if where == mine:
                continue
            key = {"FunctionName": function.get("FunctionName"), "Namespace": function.get("Namespace", "default")}
            detail = self.read("scf", "GetFunction", key, region) or {}
            memory, reserved = _whole(detail.get("MemorySize")), _whole(function.get("ReservedConcurrencyMem"))
            variables = variables_of(detail)
            fleet, rate = variables.get("SMS_FLEET_MAX_RPS"), variables.get("SMS_MAX_RPS") or FUNCTION_DEFAULT_MAX_RPS
            # Set by hand (the console), a value may be anything: what cannot be read cannot be bounded.
            if (fleet and _whole(fleet) is None) or (not fleet and (not (memory and reserved) or _whole(rate) is None)):
                unbounded.append(where)
                continue
            self._contribute(where, variables, (reserved or 0) // (memory or 1), parts, fleets)
        for limit, where in fleets.values():
            parts[where] = limit
        total = sum(parts.values())
        if unbounded:
            self.plan.note(
                f"warning: {', '.join(unbounded)}: no reserved concurrency, or a rate that is not a number: its calls "
                "per second have no bound the plan can read, and the account's quota cannot be checked against it"
            )
        if total <= self.desired.quota_rps or len(parts) < 2:
            return None
        shown = ", ".join(f"{where} {rate}/s" for where, rate in sorted(parts.items()))
        return (
            f"the account's stacks together may start {total} calls per second ({shown}), over its ReportConversion "
            f"quota of {self.desired.quota_rps} (SMS_ACCOUNT_QUOTA_RPS): lower SMS_MAX_RPS or RESERVED_INSTANCES "
            "somewhere, or share one SMS_FLEET_MAX_RPS in one Redis"
        )

    def _contribute(
        self,
        where: str,
        variables: Mapping[str, str],
        instances: int,
        parts: dict[str, int],
        fleets: dict[str, tuple[int, str]],
    ) -> None:
        fleet = variables.get("SMS_FLEET_MAX_RPS")
        if fleet:
            # One Redis, one fleet key: the stacks that share it share one limit (keyed by a digest: a secret).
            redis = hashlib.sha256(str(variables.get("REDIS_URL") or "").encode()).hexdigest()
            limit = max(int(fleet), fleets.get(redis, (0, where))[0])
            fleets[redis] = (limit, fleets.get(redis, (0, where))[1])
            return
        parts[where] = instances * int(variables.get("SMS_MAX_RPS") or FUNCTION_DEFAULT_MAX_RPS)

    def managed_functions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(region, function) for every function this tool manages, in every region SCF serves (paged)."""
        regions = self.call("region", "DescribeRegions", {"Product": "scf"})
        tag = [{"Name": f"tag-{MANAGED_BY[0]}", "Values": [MANAGED_BY[1]]}]
        for item in regions.get("RegionSet") or []:
            region = str(item.get("Region"))
            for function in self.each("scf", "ListFunctions", {"Filters": tag}, "Functions", region=region):
                yield region, function

    def used_elsewhere(self) -> str | None:
        """Another region where the stack's function still exists (CAM has no region: its role serves them all)."""
        if not hasattr(self, "_elsewhere"):
            regions = self.call("region", "DescribeRegions", {"Product": "scf"})
            found = None
            for item in regions.get("RegionSet") or []:
                region = str(item.get("Region"))
                if region == self.desired.region:
                    continue
                if self.read("scf", "GetFunction", dict(self.function_key), region) is not None:
                    found = region
                    break
            self._elsewhere = found
        return self._elsewhere


def _whole(value: object) -> int | None:
    """A positive whole number from an API answer or a variable, or None."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


def _tag_map(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(key): str(value) for key, value in tags.items()}
    found = {}
    for tag in tags or []:
        if isinstance(tag, dict):
            key, value = tag.get("Key", tag.get("TagKey")), tag.get("Value", tag.get("TagValue"))
            if key is not None:
                found[str(key)] = str(value)
    return found


def _describe_source(name: str, source: Source) -> str:
    shown = "(secret)" if name in SECRETS else source.value
    return f"{name}={shown} ({source.origin})"


def function_url(triggers: list[dict[str, Any]], name: str) -> str | None:
    """The Function URL as the API answers it about the trigger: `NetConfig.ExtranetUrl` of its description (the
    ListTriggers example), else any https value in it."""
    for trigger in triggers:
        if trigger.get("TriggerName") != name:
            continue
        desc = parsed(trigger.get("TriggerDesc"))
        outside = (desc.get("NetConfig") or {}).get("ExtranetUrl") if isinstance(desc, dict) else None
        if isinstance(outside, str) and outside.startswith("https://"):
            return outside
        for text in (trigger.get("TriggerDesc"), trigger.get("TriggerAttribute"), trigger.get("ResourceId")):
            found = re.search(r"https://[^\s\"',]+", str(text or ""))
            if found:
                return found.group(0)
    return None

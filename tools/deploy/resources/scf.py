"""SCF: the function, its triggers and its settings."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from tools.deploy.resources.base import (
    NEW,
    Context,
    Resource,
    configuration_differences,
    marked,
    parsed,
    same_json,
    settings_of,
    variables_of,
)

# The longest redelivery the platform allows (docs/behaviour.md#how-long-the-operator-has): CKafka's trigger retries
# run errors up to `retry` times; asynchronous triggers (a CMQ topic, EventBridge) up to RetryNum within MsgTTL.
CKAFKA_RETRY = 10000
ASYNC_RETRY = {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}
# What a new function's asynchronous invocations start with: 2 retries of run errors, 6 hours (docs 583/39704).
SCF_DEFAULT_ASYNC = {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}
MAX_UPDATE_ZIP_BYTES = 20 * 1024 * 1024  # UpdateFunctionCode's ZipFile limit (CreateFunction: 50 MB)


class Function(Resource):
    kind = "scf function"

    def name(self, d: Context) -> str:
        return d.names.function

    def read(self, d: Context) -> dict[str, Any] | None:
        return d.current if d.current is not None else d.foreign

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return marked(found.get("Description"), d)

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        desired = d.desired
        # Runtime: "创建时指定，目前不支持修改" (UpdateFunctionConfiguration.Runtime): sent when creating only.
        configuration: dict[str, Any] = {
            **d.function_key,
            "MemorySize": desired.memory,
            "Timeout": desired.timeout,
            "Role": d.names.role,
            "Description": desired.description(d.marker),
            "Environment": {"Variables": [{"Key": k, "Value": v} for k, v in sorted(d.variables.items())]},
            "ClsLogsetId": d.ids.get("logset", NEW),
            "ClsTopicId": d.ids.get("topic", NEW),
        }
        vpc = desired.vpc()
        if vpc:
            configuration["VpcConfig"] = vpc
        # A dry run may have no package yet (a real run builds it after the plan's checks): nothing is sent then.
        built = desired.zip_path.is_file()
        zip_base64 = base64.b64encode(desired.zip_path.read_bytes()).decode("ascii") if built else "(zip)"
        handler = desired.properties["Handler"]
        if found is None:
            params = {
                **configuration,
                "Runtime": desired.properties["Runtime"],
                "Handler": handler,
                "Code": {"ZipFile": zip_base64},
                "Tags": d.tags(),
            }
            d.change("scf", "CreateFunction", params)
            d.function_created = True
            d.plan.say("create", self.label(d), d.describe_variables({}))
            d.wait_active("created")
            return
        d.wait_active("found")
        runtime = str(found.get("Runtime") or "")
        if runtime and runtime != desired.properties["Runtime"]:
            d.plan.say(
                "leave",
                f"{self.label(d)} runtime",
                f"{runtime}, where template.yaml says {desired.properties['Runtime']}: SCF cannot change a function's "
                "runtime (make destroy, then make deploy, makes it anew)",
            )
        if desired.package_mark() not in str(found.get("Description", "")):
            if built and desired.zip_path.stat().st_size > MAX_UPDATE_ZIP_BYTES:
                raise d.error("LimitExceeded.ZipFile", "the zip is over UpdateFunctionCode's 20 MB: upload it to COS")
            d.change("scf", "UpdateFunctionCode", {**d.function_key, "Handler": handler, "ZipFile": zip_base64})
            d.plan.say("update", self.label(d), "code (a new package)")
            d.wait_active("code updated")
        differences = configuration_differences(found, configuration)
        if differences:
            d.change("scf", "UpdateFunctionConfiguration", configuration)
            detail = ", ".join(differences)
            if "variables" in differences:
                detail += f" ({d.describe_variables(variables_of(found))})"
            d.plan.say("update", self.label(d), detail)
            d.wait_active("configuration updated")
        else:
            d.plan.say("keep", f"{self.label(d)} configuration")

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("scf", "DeleteFunction", d.function_key)
        d.plan.say("delete", self.label(d), "with its reserved concurrency and retry settings")


class _FunctionPart(Resource):
    """Something of the function's own (a trigger, a setting): read only on the stack's own function, so it is
    the stack's when found (the walk never reaches it on a function that is not)."""


class _Trigger(_FunctionPart):
    """One of the function's triggers, found by its name among the function's."""

    trigger_type = ""

    def read(self, d: Context) -> dict[str, Any] | None:
        for trigger in d.triggers():
            if trigger.get("TriggerName") == self.name(d):
                return {**trigger, "Tags": d.tags()}
        return None

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        # Qualifier: "要删除的触发器实际所指向的版本或别名，默认值为 $LATEST" (DeleteTrigger): the one it lives on.
        qualifier = str(found.get("Qualifier") or "$DEFAULT")
        params = {**d.function_key, "TriggerName": self.name(d), "Type": self.trigger_type, "Qualifier": qualifier}
        d.change("scf", "DeleteTrigger", params)
        d.plan.say("delete", self.label(d))


class HttpTrigger(_Trigger):
    kind = "scf Function URL"
    trigger_type = "http"

    def name(self, d: Context) -> str:
        return d.names.http_trigger

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        desc = {"AuthType": "NONE", "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}}
        if found is not None:
            if same_json(settings_of(found.get("TriggerDesc")), desc):
                d.plan.say("keep", self.label(d))
            else:
                differs = (
                    "its settings differ from the template's; a new URL would break callers: change it in the console"
                )
                d.plan.say("leave", self.label(d), differs)
            return
        other = [item for item in d.triggers() if item.get("Type") == "http"]
        if other:
            d.plan.say("leave", f"{self.kind} {other[0].get('TriggerName')}", "a function has one URL: kept")
            return
        d.change(
            "scf",
            "CreateTrigger",
            {
                **d.function_key,
                "TriggerName": self.name(d),
                "Type": "http",
                "Qualifier": "$DEFAULT",
                "TriggerDesc": json.dumps(desc, separators=(",", ":")),
                "Enable": "OPEN",
            },
        )
        d.forget_triggers()
        d.plan.say("create", self.label(d), "open; the function demands signed requests")


class CkafkaTrigger(_Trigger):
    kind = "scf CKafka trigger"
    trigger_type = "ckafka"

    def __init__(self, kafka: Mapping[str, Any]) -> None:
        self.kafka = kafka

    def name(self, d: Context) -> str:
        return f"{self.kafka['Name']}-{self.kafka['Topic']}"

    def desc(self, d: Context) -> dict[str, str]:
        """Values as strings: SCF's trigger description page types maxMsgNum and offset as String (its sample
        `{"maxMsgNum":"10", "offset":"latest"}`), and the old SCF CLI sent them so; retry and timeOut alike."""
        return {
            "maxMsgNum": str(int(self.kafka["MaxMsgNum"])),
            "offset": str(self.kafka.get("Offset", "latest")),
            "retry": str(CKAFKA_RETRY),
            "timeOut": str(d.desired.timeout),
        }

    def same_desc(self, d: Context, found: Mapping[str, Any]) -> bool:
        """The answer's description, cut to the keys the tool sets: SCF adds its own (the consumer group, the
        instance, the topic) and may answer numbers where the tool sent strings."""
        current = parsed(found.get("TriggerDesc"))
        if not isinstance(current, dict):
            return False
        return {key: str(current.get(key)) for key in self.desc(d)} == self.desc(d)

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        params = {
            **d.function_key,
            "TriggerName": self.name(d),
            "Type": "ckafka",
            "TriggerDesc": json.dumps(self.desc(d), separators=(",", ":")),
        }
        if found is None:
            d.change("scf", "CreateTrigger", {**params, "Qualifier": "$DEFAULT", "Enable": "OPEN"})
            d.plan.say("create", self.label(d), f"retry {CKAFKA_RETRY}")
        elif self.same_desc(d, found):
            d.plan.say("keep", self.label(d))
        else:
            # Updated in place: deleting and re-creating it would move the consumer's offset.
            d.change("scf", "UpdateTrigger", {**params, "Qualifier": str(found.get("Qualifier") or "$DEFAULT")})
            d.plan.say("update", self.label(d), "maxMsgNum, offset, retry or timeout")


class _FunctionSetting(_FunctionPart):
    """A setting of the function's (read with `read_action`): it goes when the function goes."""

    goes_with = "the function"
    read_action = ""

    def name(self, d: Context) -> str:
        return ""

    def label(self, d: Context) -> str:
        return self.kind

    def read(self, d: Context) -> dict[str, Any] | None:
        if d.current is None:
            return None
        current = d.read("scf", self.read_action, d.function_key) or {}
        return {**current, "Tags": d.tags()}


class AsyncRetries(_FunctionSetting):
    kind = "scf asynchronous retries"
    read_action = "GetFunctionEventInvokeConfig"

    def read(self, d: Context) -> dict[str, Any] | None:
        if d.current is None and d.dry_run:
            # A function about to be created starts with SCF's defaults (docs 583/39704): what the real run will
            # read once it has created it, so the plan says what the run will do.
            return {"AsyncTriggerConfig": SCF_DEFAULT_ASYNC, "Tags": d.tags()}
        return super().read(d)

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        if found is not None and same_json(found.get("AsyncTriggerConfig"), ASYNC_RETRY):
            d.plan.say("keep", self.label(d))
            return
        d.change("scf", "UpdateFunctionEventInvokeConfig", {**d.function_key, "AsyncTriggerConfig": ASYNC_RETRY})
        d.plan.say("update", self.label(d), "2 retries within 6 hours (CMQ topic, EventBridge, Invoke Event)")


class ReservedConcurrency(_FunctionSetting):
    kind = "scf reserved concurrency"
    read_action = "GetReservedConcurrencyConfig"

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        instances, memory = d.desired.instances, d.desired.memory
        reserved = instances * memory
        if found is not None and found.get("ReservedMem") == reserved:
            d.plan.say("keep", self.label(d), f"{instances} instances")
            return
        d.change("scf", "PutReservedConcurrencyConfig", {**d.function_key, "ReservedConcurrencyMem": reserved})
        verb = "update" if found is not None and found.get("ReservedMem") else "create"
        d.plan.say(verb, self.label(d), f"{instances} instances x {memory} MB")

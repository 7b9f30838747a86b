"""Every resource `make deploy` manages, declared once: how to read it, create or update it, and delete it.

`make deploy` walks `resources()` forward and `make destroy` walks it backward; ownership is decided in one
place (`Deployer.owns`, from the tags each resource is created with, see tools/deploy.py). Adding a resource
is one class here: its `read` (a paged lookup by the stack's name), `ensure` (create, update or keep, saying
which in the plan), `delete`, and the ids it hands to the resources after it (`d.ids`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.deploy import Deployer

# The longest redelivery the platform allows (docs/behaviour.md#how-long-the-operator-has): CKafka's trigger retries
# run errors up to `retry` times; asynchronous triggers (a CMQ topic, EventBridge) up to RetryNum within MsgTTL.
CKAFKA_RETRY = 10000
ASYNC_RETRY = {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}
# What a new function's asynchronous invocations start with: 2 retries of run errors, 6 hours (docs 583/39704).
SCF_DEFAULT_ASYNC = {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}
ALARM_LEVELS = {"warn": 0, "info": 1, "critical": 2}
MAX_UPDATE_ZIP_BYTES = 20 * 1024 * 1024  # UpdateFunctionCode's ZipFile limit (CreateFunction: 50 MB)
NEW = "(new)"  # the id of something a dry run would create


class Resource:
    """One resource of the stack. `global_`: it has no region (CAM), so other regions may use it too."""

    kind = ""
    global_ = False
    # Deleted together with another resource (an index with its topic, a setting with its function).
    goes_with: str | None = None

    def name(self, d: Deployer) -> str:
        raise NotImplementedError

    def read(self, d: Deployer) -> dict[str, Any] | None:
        raise NotImplementedError

    def tags(self, found: Mapping[str, Any]) -> Any:
        return found.get("Tags")

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        """Evidence that the tool made it before it tagged what it made (the default stack only)."""
        return False

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        raise NotImplementedError

    def label(self, d: Deployer) -> str:
        return f"{self.kind} {self.name(d)}"


def _marked(text: object, d: Deployer) -> bool:
    return d.marker in str(text or "")


# ---- CAM (global) ---------------------------------------------------------------------------------


class Role(Resource):
    kind = "cam role"
    global_ = True

    def name(self, d: Deployer) -> str:
        return d.names.role

    def read(self, d: Deployer) -> dict[str, Any] | None:
        found = d.read("cam", "GetRole", {"RoleName": self.name(d)})
        return None if found is None else dict(found.get("RoleInfo") or {})

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return _marked(found.get("Description"), d)

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        trust = d.document("trust-policy.json")
        if found is None:
            d.change(
                "cam",
                "CreateRole",
                {
                    "RoleName": self.name(d),
                    "PolicyDocument": trust,
                    "Description": f"Execution role of the {d.names.function} SCF functions ({d.marker})",
                    "Tags": d.tags(),
                },
            )
            d.plan.say("create", self.label(d), "trusted by scf.qcloud.com")
        elif same_json(found.get("PolicyDocument"), trust):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cam", "UpdateAssumeRolePolicy", {"RoleName": self.name(d), "PolicyDocument": trust})
            d.plan.say("update", self.label(d), "trust policy")

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cam", "DeleteRole", {"RoleName": self.name(d)})
        d.plan.say("delete", self.label(d))


class Policy(Resource):
    kind = "cam policy"
    global_ = True

    def name(self, d: Deployer) -> str:
        return d.names.policy

    def read(self, d: Deployer) -> dict[str, Any] | None:
        name = self.name(d)
        found = d.named("cam", "ListPolicies", {"Keyword": name, "Scope": "Local"}, "List", "PolicyName", name)
        if found is not None:
            d.ids["policy"] = str(found["PolicyId"])
        return found

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return _marked(found.get("Description"), d)

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        document = d.document("access-policy.json")
        if found is None:
            created = d.change(
                "cam",
                "CreatePolicy",
                {
                    "PolicyName": self.name(d),
                    "PolicyDocument": document,
                    "Description": f"Report SMS conversions (sms:ReportConversion) and nothing else ({d.marker})",
                    "Tags": d.tags(),
                },
            )
            d.ids["policy"] = str(created.get("PolicyId", NEW))
            d.plan.say("create", self.label(d), "name/sms:ReportConversion on *")
            return
        current = d.call("cam", "GetPolicy", {"PolicyId": int(found["PolicyId"])})
        if same_json(current.get("PolicyDocument"), document):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cam", "UpdatePolicy", {"PolicyId": int(found["PolicyId"]), "PolicyDocument": document})
            d.plan.say("update", self.label(d), "document")

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cam", "DeletePolicy", {"PolicyId": [int(found["PolicyId"])]})
        d.plan.say("delete", self.label(d))


class Attachment(Resource):
    """The policy attached to the role: owned when both are."""

    kind = "cam attachment"
    global_ = True

    def name(self, d: Deployer) -> str:
        return f"{d.names.policy} -> {d.names.role}"

    def label(self, d: Deployer) -> str:
        return f"{self.kind} {self.name(d)}"

    def read(self, d: Deployer) -> dict[str, Any] | None:
        policy = Policy()
        if "policy" not in d.ids:
            found = policy.read(d)  # destroy reaches the attachment before the policy
            if found is None or not d.owns(policy, found):
                d.ids.pop("policy", None)
                return None
        policy_id = d.ids.get("policy")
        if policy_id is None or policy_id == NEW:
            return None
        attached = d.each("cam", "ListAttachedRolePolicies", {"RoleName": d.names.role}, "List", missing_ok=True)
        for item in attached:
            if str(item.get("PolicyId")) == policy_id:
                return {"PolicyId": policy_id, "Tags": d.tags()}  # the attachment of two owned resources
        return None

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.plan.say("keep", self.label(d))
            return
        policy_id = d.ids.get("policy", NEW)
        if policy_id != NEW:
            d.change("cam", "AttachRolePolicy", {"PolicyId": int(policy_id), "AttachRoleName": d.names.role})
        d.plan.say("create", self.label(d))

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cam", "DetachRolePolicy", {"PolicyId": int(found["PolicyId"]), "DetachRoleName": d.names.role})
        d.plan.say("delete", self.label(d))


# ---- CLS: the function's own log topic --------------------------------------------------------------


class Logset(Resource):
    kind = "cls logset"

    def name(self, d: Deployer) -> str:
        return d.names.logset

    def read(self, d: Deployer) -> dict[str, Any] | None:
        name = self.name(d)
        filters = [{"Key": "logsetName", "Values": [name]}]
        matches = list(d.each("cls", "DescribeLogsets", {"Filters": filters}, "Logsets"))
        matches = [dict(item) for item in matches if item.get("LogsetName") == name]
        # Logset names need not be unique: the stack's own one, if there is one, else any (then left alone).
        owned = [item for item in matches if d.owns(self, item)]
        found = (owned or matches)[0] if matches else None
        if found is not None and owned:
            d.ids["logset"] = str(found["LogsetId"])
        return found

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return str(found.get("LogsetId")) in d.referenced

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.ids["logset"] = str(found["LogsetId"])
            d.plan.say("keep", self.label(d))
            return
        created = d.change("cls", "CreateLogset", {"LogsetName": self.name(d), "Tags": d.tags()})
        d.ids["logset"] = str(created.get("LogsetId", NEW))
        d.plan.say("create", self.label(d))

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        others = [
            topic
            for topic in d.each(
                "cls", "DescribeTopics", {"Filters": [{"Key": "logsetId", "Values": [found["LogsetId"]]}]}, "Topics"
            )
            if topic.get("TopicName") != d.names.topic or not d.deleted_topic
        ]
        if others:
            d.plan.say("leave", self.label(d), f"it holds {len(others)} other topic(s)")
            return
        d.change("cls", "DeleteLogset", {"LogsetId": found["LogsetId"]})
        d.plan.say("delete", self.label(d))


class Topic(Resource):
    kind = "cls topic"

    def name(self, d: Deployer) -> str:
        return d.names.topic

    def read(self, d: Deployer) -> dict[str, Any] | None:
        logset = d.ids.get("logset")
        if logset is None or logset == NEW:
            return None
        filters = [{"Key": "topicName", "Values": [self.name(d)]}, {"Key": "logsetId", "Values": [logset]}]
        return d.named("cls", "DescribeTopics", {"Filters": filters}, "Topics", "TopicName", self.name(d))

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return str(found.get("TopicId")) in d.referenced

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.ids["topic"] = str(found["TopicId"])
            d.plan.say("keep", self.label(d))
            return
        params = {"LogsetId": d.ids.get("logset", NEW), "TopicName": self.name(d), "Period": 30, "Tags": d.tags()}
        created = d.change("cls", "CreateTopic", params)
        d.ids["topic"] = str(created.get("TopicId", NEW))
        d.plan.say("create", self.label(d), "30 days")

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteTopic", {"TopicId": found["TopicId"]})
        d.deleted_topic = True
        d.plan.say("delete", self.label(d), "and its logs")


class Index(Resource):
    kind = "cls index"
    goes_with = "its topic"

    def name(self, d: Deployer) -> str:
        return f"of {d.names.topic}"

    def read(self, d: Deployer) -> dict[str, Any] | None:
        topic = d.ids.get("topic")
        if topic is None or topic == NEW:
            return None
        current = d.read("cls", "DescribeIndex", {"TopicId": topic})
        if not current or not current.get("Rule"):
            return None
        return {**current, "Tags": d.tags()}  # the index of an owned topic

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        rule = d.index_rule()
        fields = f"{len(rule['KeyValue']['KeyValues'])} key-value fields"
        topic = d.ids.get("topic", NEW)
        if found is None:
            d.change("cls", "CreateIndex", {"TopicId": topic, "Rule": rule, "Status": True})
            d.plan.say("create", self.label(d), fields)
        elif same_json(index_fields(found["Rule"]), index_fields(rule)):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cls", "ModifyIndex", {"TopicId": topic, "Rule": rule, "Status": True})
            d.plan.say("update", self.label(d), f"{fields} (applies to lines written from now on)")


# ---- SCF ----------------------------------------------------------------------------------------------


class Function(Resource):
    kind = "scf function"

    def name(self, d: Deployer) -> str:
        return d.names.function

    def read(self, d: Deployer) -> dict[str, Any] | None:
        return d.current if d.current is not None else d.foreign

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return _marked(found.get("Description"), d)

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        desired = d.desired
        configuration: dict[str, Any] = {
            **d.function_key,
            "Runtime": desired.properties["Runtime"],
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
            params = {**configuration, "Handler": handler, "Code": {"ZipFile": zip_base64}, "Tags": d.tags()}
            d.change("scf", "CreateFunction", params)
            d.function_created = True
            d.plan.say("create", self.label(d), d.describe_variables({}))
            d.wait_active("created")
            return
        d.wait_active("found")
        if not built:
            d.plan.say("update", self.label(d), "code (the package is built by the real run)")
        elif f"sha256:{desired.package_sha()[:16]}" not in str(found.get("Description", "")):
            if desired.zip_path.stat().st_size > MAX_UPDATE_ZIP_BYTES:
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

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("scf", "DeleteFunction", d.function_key)
        d.plan.say("delete", self.label(d), "with its reserved concurrency and retry settings")


class _FunctionPart(Resource):
    """Something of the function's own (a trigger, a setting): read only on the stack's own function, so it is
    the stack's when found (the walk never reaches it on a function that is not)."""


class _Trigger(_FunctionPart):
    """One of the function's triggers, found by its name among the function's."""

    trigger_type = ""

    def read(self, d: Deployer) -> dict[str, Any] | None:
        for trigger in d.triggers():
            if trigger.get("TriggerName") == self.name(d):
                return {**trigger, "Tags": d.tags()}
        return None

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("scf", "DeleteTrigger", {**d.function_key, "TriggerName": self.name(d), "Type": self.trigger_type})
        d.plan.say("delete", self.label(d))


class HttpTrigger(_Trigger):
    kind = "scf Function URL"
    trigger_type = "http"

    def name(self, d: Deployer) -> str:
        return d.names.http_trigger

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        desc = {"AuthType": "NONE", "NetConfig": {"EnableIntranet": False, "EnableExtranet": True}}
        if found is not None:
            if same_json(_settings_of(found.get("TriggerDesc")), desc):
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
            },
        )
        d.forget_triggers()
        d.plan.say("create", self.label(d), "open; the function demands signed requests")


class CkafkaTrigger(_Trigger):
    kind = "scf CKafka trigger"
    trigger_type = "ckafka"

    def __init__(self, kafka: Mapping[str, Any]) -> None:
        self.kafka = kafka

    def name(self, d: Deployer) -> str:
        return f"{self.kafka['Name']}-{self.kafka['Topic']}"

    def desc(self, d: Deployer) -> dict[str, Any]:
        return {
            "maxMsgNum": int(self.kafka["MaxMsgNum"]),
            "offset": self.kafka.get("Offset", "latest"),
            "retry": CKAFKA_RETRY,
            "timeOut": d.desired.timeout,
        }

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        params = {
            **d.function_key,
            "TriggerName": self.name(d),
            "Type": "ckafka",
            "TriggerDesc": json.dumps(self.desc(d), separators=(",", ":")),
        }
        if found is None:
            d.change("scf", "CreateTrigger", {**params, "Qualifier": "$DEFAULT"})
            d.plan.say("create", self.label(d), f"retry {CKAFKA_RETRY}")
        elif same_json(found.get("TriggerDesc"), self.desc(d)):
            d.plan.say("keep", self.label(d))
        else:
            # Updated in place: deleting and re-creating it would move the consumer's offset.
            d.change("scf", "UpdateTrigger", {**params, "Qualifier": str(found.get("Qualifier") or "$DEFAULT")})
            d.plan.say("update", self.label(d), "maxMsgNum, offset, retry or timeout")


class _FunctionSetting(_FunctionPart):
    """A setting of the function's (read with `read_action`): it goes when the function goes."""

    goes_with = "the function"
    read_action = ""

    def name(self, d: Deployer) -> str:
        return ""

    def label(self, d: Deployer) -> str:
        return self.kind

    def read(self, d: Deployer) -> dict[str, Any] | None:
        if d.current is None:
            return None
        current = d.read("scf", self.read_action, d.function_key) or {}
        return {**current, "Tags": d.tags()}


class AsyncRetries(_FunctionSetting):
    kind = "scf asynchronous retries"
    read_action = "GetFunctionEventInvokeConfig"

    def read(self, d: Deployer) -> dict[str, Any] | None:
        if d.current is None and d.dry_run:
            # A function about to be created starts with SCF's defaults (docs 583/39704): what the real run will
            # read once it has created it, so the plan says what the run will do.
            return {"AsyncTriggerConfig": SCF_DEFAULT_ASYNC, "Tags": d.tags()}
        return super().read(d)

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        if found is not None and same_json(found.get("AsyncTriggerConfig"), ASYNC_RETRY):
            d.plan.say("keep", self.label(d))
            return
        d.change("scf", "UpdateFunctionEventInvokeConfig", {**d.function_key, "AsyncTriggerConfig": ASYNC_RETRY})
        d.plan.say("update", self.label(d), "2 retries within 6 hours (CMQ topic, EventBridge, Invoke Event)")


class ReservedConcurrency(_FunctionSetting):
    kind = "scf reserved concurrency"
    read_action = "GetReservedConcurrencyConfig"

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        instances, memory = d.desired.instances, d.desired.memory
        reserved = instances * memory
        if found is not None and found.get("ReservedMem") == reserved:
            d.plan.say("keep", self.label(d), f"{instances} instances")
            return
        d.change("scf", "PutReservedConcurrencyConfig", {**d.function_key, "ReservedConcurrencyMem": reserved})
        verb = "update" if found is not None and found.get("ReservedMem") else "create"
        d.plan.say(verb, self.label(d), f"{instances} instances x {memory} MB")


# ---- alarms and the dashboard -----------------------------------------------------------------------


class ClsNotice(Resource):
    kind = "cls alarm notice"

    def name(self, d: Deployer) -> str:
        return d.names.notice

    def read(self, d: Deployer) -> dict[str, Any] | None:
        filters = [{"Key": "name", "Values": [self.name(d)]}]
        return d.named("cls", "DescribeAlarmNotices", {"Filters": filters}, "AlarmNotices", "Name", self.name(d))

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return str(found.get("AlarmNoticeId")) in d.referenced

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        target = d.desired.notice_target()
        if target is None:
            if found is not None:
                d.ids["cls_notice"] = str(found["AlarmNoticeId"])
                d.plan.say("keep", self.label(d), "no target in this shell or stack file: its receivers are kept")
            return
        notice: dict[str, Any] = {"Name": self.name(d), "Type": "All"}
        receivers = [
            {"ReceiverType": kind, "ReceiverIds": [int(item) for item in ids], "ReceiverChannels": ["Email", "Sms"]}
            for kind, ids in (("Uin", target["uins"]), ("Group", target["groups"]))
            if ids
        ]
        if receivers:
            notice["NoticeReceivers"] = receivers
        if target["webhook"]:
            notice["WebCallbacks"] = [
                {"CallbackType": target["webhook_type"], "Url": target["webhook"], "Method": "POST"}
            ]
        if found is None:
            created = d.change("cls", "CreateAlarmNotice", {**notice, "Tags": d.tags()})
            d.ids["cls_notice"] = str(created.get("AlarmNoticeId", NEW))
            d.plan.say("create", self.label(d), describe_target(target))
            return
        d.ids["cls_notice"] = str(found["AlarmNoticeId"])
        if same_json(notice_view(found), notice_view(notice)):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cls", "ModifyAlarmNotice", {**notice, "AlarmNoticeId": found["AlarmNoticeId"]})
            d.plan.say("update", self.label(d), describe_target(target))

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteAlarmNotice", {"AlarmNoticeId": found["AlarmNoticeId"]})
        d.plan.say("delete", self.label(d))


class ClsAlarm(Resource):
    kind = "cls alarm"

    def __init__(self, alarm: Mapping[str, Any]) -> None:
        self.alarm = alarm

    def name(self, d: Deployer) -> str:
        return d.names.alarm_prefix + str(self.alarm["name"])

    def label(self, d: Deployer) -> str:
        return f"{self.kind} {self.name(d)!r}"

    def read(self, d: Deployer) -> dict[str, Any] | None:
        return d.cls_alarms().get(self.name(d))

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        owned = any(str(target.get("TopicId")) in d.referenced for target in found.get("AlarmTargets") or [])
        if owned:
            d.referenced.update(str(notice) for notice in found.get("AlarmNoticeIds") or [])
        return owned

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        alarm = self.alarm
        wanted: dict[str, Any] = {
            "Name": self.name(d),
            "AlarmTargets": [
                {
                    "TopicId": d.ids.get("topic", NEW),
                    "LogsetId": d.ids.get("logset", NEW),
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
        notice = d.ids.get("cls_notice")
        if notice is not None:
            wanted["AlarmNoticeIds"] = [notice]
        if found is None:
            d.change("cls", "CreateAlarm", {**wanted, "Tags": d.tags()})
            d.plan.say("create", self.label(d), alarm["condition"])
        elif same_json({key: found.get(key) for key in wanted}, wanted):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cls", "ModifyAlarm", {**wanted, "AlarmId": found["AlarmId"]})
            d.plan.say("update", self.label(d))

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteAlarm", {"AlarmId": found["AlarmId"]})
        d.plan.say("delete", self.label(d))


class Dashboard(Resource):
    kind = "cls dashboard"

    def name(self, d: Deployer) -> str:
        return d.names.dashboard(str(d.board()["name"]))

    def read(self, d: Deployer) -> dict[str, Any] | None:
        filters = [{"Key": "dashboardName", "Values": [self.name(d)]}]
        return d.named(
            "cls", "DescribeDashboards", {"Filters": filters}, "DashboardInfos", "DashboardName", self.name(d)
        )

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return any(topic in str(found.get("Data") or "") for topic in d.referenced)

    def data(self, d: Deployer) -> str:
        board = d.board()
        charts = [
            {
                "title": chart["title"],
                "type": chart["type"],
                "query": chart["query"],
                "topicId": d.ids.get("topic", NEW),
            }
            for chart in board["charts"]
        ]
        return json.dumps(
            {"version": 1, "region": d.desired.region, "charts": charts}, separators=(",", ":"), sort_keys=True
        )

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        data = self.data(d)
        if found is None:
            d.change("cls", "CreateDashboard", {"DashboardName": self.name(d), "Data": data, "Tags": d.tags()})
            d.plan.say("create", self.label(d), f"{len(d.board()['charts'])} charts")
        elif found.get("Data") == data:
            d.plan.say("keep", self.label(d))
        else:
            d.change(
                "cls",
                "ModifyDashboard",
                {"DashboardId": found["DashboardId"], "DashboardName": self.name(d), "Data": data},
            )
            d.plan.say("update", self.label(d))

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteDashboard", {"DashboardId": found["DashboardId"]})
        d.plan.say("delete", self.label(d))


class MonitorNotice(Resource):
    """Cloud Monitor's notice templates and alarm policies belong to the account, not a region (a policy
    binds each region's function): like CAM, they stay while the stack's function lives in another region."""

    kind = "monitor notice"
    global_ = True

    def name(self, d: Deployer) -> str:
        return d.names.notice

    def read(self, d: Deployer) -> dict[str, Any] | None:
        params = {"Module": "monitor", "Order": "ASC", "Name": self.name(d)}
        return d.named("monitor", "DescribeAlarmNotices", params, "Notices", "Name", self.name(d))

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        return str(found.get("Id")) in d.referenced

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.ids["monitor_notice"] = str(found["Id"])
            d.plan.say("keep", self.label(d))
            return
        target = d.desired.notice_target()
        if target is None:
            return
        notice: dict[str, Any] = {
            "Module": "monitor",
            "Name": self.name(d),
            "NoticeType": "ALL",
            "NoticeLanguage": "en-US",
            "Tags": d.tags(),
        }
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
        created = d.change("monitor", "CreateAlarmNotice", notice)
        d.ids["monitor_notice"] = str(created.get("NoticeId", NEW))
        d.plan.say("create", self.label(d), describe_target(target))

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("monitor", "DeleteAlarmNotices", {"Module": "monitor", "NoticeIds": [found["Id"]]})
        d.plan.say("delete", self.label(d))


class MonitorAlarm(Resource):
    kind = "monitor alarm"
    global_ = True

    def __init__(self, alarm: Mapping[str, Any]) -> None:
        self.alarm = alarm

    def name(self, d: Deployer) -> str:
        return d.names.monitor_alarm(str(self.alarm["name"]))

    def read(self, d: Deployer) -> dict[str, Any] | None:
        params = {"Module": "monitor", "PolicyName": self.name(d)}
        return d.named("monitor", "DescribeAlarmPolicies", params, "Policies", "PolicyName", self.name(d))

    def legacy(self, d: Deployer, found: Mapping[str, Any]) -> bool:
        if _marked(found.get("Remark"), d):
            d.referenced.update(str(notice) for notice in found.get("NoticeIds") or [])
            return True
        return False

    def condition(self, d: Deployer) -> tuple[dict[str, Any], str]:
        alarm = self.alarm
        value = alarm.get("value")
        if "value_share_of_timeout" in alarm:
            value = round(d.desired.timeout * 1000 * float(alarm["value_share_of_timeout"]))
        rule = {
            "MetricName": alarm["metric"],
            "Period": int(alarm["period_seconds"]),
            "Operator": alarm["operator"],
            "Value": str(value),
            "ContinuePeriod": int(alarm["continue_periods"]),
            "NoticeFrequency": int(alarm["repeat_seconds"]),
            "IsPowerNotice": 0,
        }
        return {"IsUnionRule": 0, "Rules": [rule]}, f"{alarm['metric']} {alarm['operator']} {value}"

    def ensure(self, d: Deployer, found: dict[str, Any] | None) -> None:
        condition, summary = self.condition(d)
        notice = d.ids.get("monitor_notice")
        if found is not None:
            notices = [notice] if notice is not None else list(found.get("NoticeIds") or [])
            same_rules = same_json(rules_view(found.get("Condition")), rules_view(condition))
            if d.function_created:
                self.bind(d, str(found["PolicyId"]))  # the stack's function in a new region
            if same_rules and list(found.get("NoticeIds") or []) == notices:
                d.plan.say(
                    "keep", self.label(d), f"bound to the function in {d.desired.region}" if d.function_created else ""
                )
                return
            change: dict[str, Any] = {"Module": "monitor", "PolicyId": found["PolicyId"], "Condition": condition}
            if notices:
                change["NoticeIds"] = notices
            d.change("monitor", "ModifyAlarmPolicyCondition", change)
            d.plan.say("update", self.label(d), summary)
            return
        policy: dict[str, Any] = {
            "Module": "monitor",
            "PolicyName": self.name(d),
            "MonitorType": "MT_QCE",
            "Namespace": "scf_v2",
            "Condition": condition,
            "Enable": 1,
            "Remark": f"{self.alarm['runbook']} ({d.marker})",
            "Tags": d.tags(),
        }
        if notice is not None:
            policy["NoticeIds"] = [notice]
        created = d.change("monitor", "CreateAlarmPolicy", policy)
        if "PolicyId" in created:
            self.bind(d, str(created["PolicyId"]))
        d.plan.say("create", self.label(d), summary)

    def bind(self, d: Deployer, policy_id: str) -> None:
        dimensions = json.dumps(
            {"functionName": d.names.function, "namespace": d.desired.namespace}, separators=(",", ":")
        )
        d.change(
            "monitor",
            "BindingPolicyObject",
            {
                "Module": "monitor",
                "GroupId": 0,
                "PolicyId": policy_id,
                "Dimensions": [{"Region": d.desired.region, "Dimensions": dimensions}],
            },
        )

    def delete(self, d: Deployer, found: dict[str, Any]) -> None:
        d.change("monitor", "DeleteAlarmPolicy", {"Module": "monitor", "PolicyIds": [found["PolicyId"]]})
        d.plan.say("delete", self.label(d))


def resources(ckafka: Sequence[Mapping[str, Any]], cls_alarms: list[Any], monitor_alarms: list[Any]) -> list[Resource]:
    """The stack, in the order apply creates it (destroy walks it backward)."""
    return [
        Role(),
        Policy(),
        Attachment(),
        Logset(),
        Topic(),
        Index(),
        Function(),
        HttpTrigger(),
        *(CkafkaTrigger(kafka) for kafka in ckafka),
        AsyncRetries(),
        ReservedConcurrency(),
        ClsNotice(),
        *(ClsAlarm(alarm) for alarm in cls_alarms),
        Dashboard(),
        MonitorNotice(),
        *(MonitorAlarm(alarm) for alarm in monitor_alarms),
    ]


# ---- comparisons -----------------------------------------------------------------------------------


def parsed(value: Any) -> Any:
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


def same_json(current: Any, wanted: Any) -> bool:
    return bool(parsed(current) == parsed(wanted))


def _settings_of(desc: Any) -> Any:
    """A Function URL's settings, without what the platform adds when it answers (the URL itself)."""
    value = parsed(desc)
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key in ("AuthType", "NetConfig")}
    return value


def index_fields(rule: Any) -> dict[str, Any]:
    rule = parsed(rule) or {}
    key_values = ((rule.get("KeyValue") or {}).get("KeyValues")) or []
    return {item.get("Key"): (item.get("Value") or {}).get("Type") for item in key_values}


def variables_of(function: Mapping[str, Any] | None) -> dict[str, str]:
    if not function:
        return {}
    variables = (function.get("Environment") or {}).get("Variables") or []
    return {str(item.get("Key")): str(item.get("Value", "")) for item in variables}


def configuration_differences(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
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
            and not same_json(current.get(key), wanted[key])
        ):
            found.append(label)
    if variables_of(current) != {item["Key"]: item["Value"] for item in wanted["Environment"]["Variables"]}:
        found.append("variables")
    return list(dict.fromkeys(found))


def describe_target(target: Mapping[str, Any]) -> str:
    parts = []
    if target["webhook"]:
        parts.append(f"{target['webhook_type']} web callback")
    if target["uins"]:
        parts.append(f"{len(target['uins'])} user(s)")
    if target["groups"]:
        parts.append(f"{len(target['groups'])} group(s)")
    return ", ".join(parts)


def notice_view(notice: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "receivers": notice.get("NoticeReceivers") or [],
        "callbacks": [
            {"CallbackType": item.get("CallbackType"), "Url": item.get("Url")}
            for item in notice.get("WebCallbacks") or []
        ],
    }


def rules_view(condition: Any) -> list[tuple[Any, ...]]:
    rules = (parsed(condition) or {}).get("Rules") or []
    return [
        (rule.get("MetricName"), rule.get("Operator"), str(rule.get("Value")), rule.get("Period")) for rule in rules
    ]

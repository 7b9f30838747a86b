"""Cloud Monitor (global): the notice template and the alarm policies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tools.deploy.resources.base import NEW, Context, Resource, describe_target, marked, rules_view, same_json


class MonitorNotice(Resource):
    """Cloud Monitor's notice templates and alarm policies belong to the account, not a region (a policy
    binds each region's function): like CAM, they stay while the stack's function lives in another region."""

    kind = "monitor notice"
    global_ = True

    def name(self, d: Context) -> str:
        return d.names.notice

    def read(self, d: Context) -> dict[str, Any] | None:
        params = {"Module": "monitor", "Order": "ASC", "Name": self.name(d)}
        return d.named("monitor", "DescribeAlarmNotices", params, "Notices", "Name", self.name(d))

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return str(found.get("Id")) in d.referenced

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
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

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("monitor", "DeleteAlarmNotices", {"Module": "monitor", "NoticeIds": [found["Id"]]})
        d.plan.say("delete", self.label(d))


class MonitorAlarm(Resource):
    kind = "monitor alarm"
    global_ = True

    def __init__(self, alarm: Mapping[str, Any]) -> None:
        self.alarm = alarm

    def name(self, d: Context) -> str:
        return d.names.monitor_alarm(str(self.alarm["name"]))

    def read(self, d: Context) -> dict[str, Any] | None:
        params = {"Module": "monitor", "PolicyName": self.name(d)}
        return d.named("monitor", "DescribeAlarmPolicies", params, "Policies", "PolicyName", self.name(d))

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        if marked(found.get("Remark"), d):
            d.referenced.update(str(notice) for notice in found.get("NoticeIds") or [])
            return True
        return False

    def condition(self, d: Context) -> tuple[dict[str, Any], str]:
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

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
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

    def bind(self, d: Context, policy_id: str) -> None:
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

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("monitor", "DeleteAlarmPolicy", {"Module": "monitor", "PolicyIds": [found["PolicyId"]]})
        d.plan.say("delete", self.label(d))

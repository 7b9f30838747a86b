"""Cloud Monitor (global): the notice template and the alarm policies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tools.deploy.resources.base import NEW, Context, Resource, describe_target, marked, rules_view, same_json

# Cloud Monitor names a region by its short name: the BindingPolicyObject example sends "Region": "gz" for
# Guangzhou, and Terraform's provider maps ap-guangzhou to gz the same way (deploy/README.md, unconfirmed points).
MONITOR_REGIONS = {
    "ap-guangzhou": "gz",
    "ap-shanghai": "sh",
    "ap-beijing": "bj",
    "ap-chengdu": "cd",
    "ap-chongqing": "cq",
    "ap-nanjing": "nj",
    "ap-hongkong": "hk",
    "ap-singapore": "sg",
    "ap-bangkok": "th",
    "ap-jakarta": "jkt",
    "ap-seoul": "kr",
    "ap-tokyo": "jp",
    "ap-mumbai": "in",
    "na-siliconvalley": "usw",
    "na-ashburn": "use",
    "eu-frankfurt": "de",
    "sa-saopaulo": "sao",
}
# What a policy's Remark may hold: "不超过100字符，仅支持中英文、数字、下划线、-" (CreateAlarmPolicy.Remark), so the
# tool's mark is written with dashes here; policies made before carry the mark with spaces (`marked` reads both).
REMARK = "managed-by-make-deploy"
# The notice's hours, all day: "00:00:00 开始的秒数（取值范围0-86399）" (UserNotice.StartTime / EndTime).
ALL_DAY = {"StartTime": 0, "EndTime": 86399}


def notice_receivers(target: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Whom a Cloud Monitor notice tells: CAM users and groups, and a web callback only when it is a generic one
    (ALARM_WEBHOOK_TYPE=Http). Cloud Monitor posts its own JSON to a callback URL, which a WeCom, DingTalk or Lark
    robot refuses: those robots hear the CLS alarms only."""
    users = [
        {"ReceiverType": kind, **ALL_DAY, "NoticeWay": ["EMAIL", "SMS"], key: [int(item) for item in ids]}
        for kind, key, ids in (("USER", "UserIds", target["uins"]), ("GROUP", "GroupIds", target["groups"]))
        if ids
    ]
    urls = [{"URL": target["webhook"], **ALL_DAY}] if target["webhook"] and target["webhook_type"] == "Http" else []
    return {"UserNotices": users, "URLNotices": urls}


def receivers_view(notice: Mapping[str, Any]) -> dict[str, Any]:
    """A notice's receivers as the tool sets them, whatever else the answer carries."""
    return {
        "users": sorted(
            (
                str(item.get("ReceiverType")),
                sorted(int(uin) for uin in item.get("UserIds") or []),
                sorted(int(group) for group in item.get("GroupIds") or []),
                sorted(item.get("NoticeWay") or []),
                item.get("StartTime"),
                item.get("EndTime"),
            )
            for item in notice.get("UserNotices") or []
        ),
        "urls": sorted(str(item.get("URL")) for item in notice.get("URLNotices") or []),
    }


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
        target = d.desired.notice_target()
        receivers = notice_receivers(target) if target is not None else None
        if found is not None:
            d.ids["monitor_notice"] = str(found["Id"])
        if receivers is None or not (receivers["UserNotices"] or receivers["URLNotices"]):
            if found is not None:
                d.plan.say("keep", self.label(d), "no CAM receiver or Http callback in this shell or stack file")
            elif target is not None:
                d.plan.say(
                    "leave",
                    self.label(d),
                    f"none: Cloud Monitor cannot post to a {target['webhook_type']} robot; its alarms reach "
                    "ALARM_CAM_UINS / ALARM_CAM_GROUPS or an ALARM_WEBHOOK_TYPE=Http callback",
                )
            return
        assert target is not None
        notice: dict[str, Any] = {
            "Module": "monitor",
            "Name": self.name(d),
            "NoticeType": "ALL",
            "NoticeLanguage": "en-US",
            **{key: value for key, value in receivers.items() if value},
        }
        if found is None:
            created = d.change("monitor", "CreateAlarmNotice", {**notice, "Tags": d.tags()})
            d.ids["monitor_notice"] = str(created.get("NoticeId", NEW))
            d.plan.say("create", self.label(d), describe_target(target, cloud_monitor=True))
        elif receivers_view(found) == receivers_view(notice):
            d.plan.say("keep", self.label(d))
        else:
            d.change("monitor", "ModifyAlarmNotice", {**notice, **receivers, "NoticeId": found["Id"]})
            d.plan.say("update", self.label(d), describe_target(target, cloud_monitor=True))

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
        found = self._named(d, self.name(d))
        if found is None:
            # A policy made under a name the alarm had before (over the documented 60 characters): renamed by ensure.
            for former in self.alarm.get("formerly") or []:
                found = self._named(d, d.names.monitor_alarm(str(former)))
                if found is not None:
                    break
        return found

    @staticmethod
    def _named(d: Context, name: str) -> dict[str, Any] | None:
        params = {"Module": "monitor", "PolicyName": name}
        return d.named("monitor", "DescribeAlarmPolicies", params, "Policies", "PolicyName", name)

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        if marked(found.get("Remark"), d) or REMARK in str(found.get("Remark") or ""):
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
        if found is None:
            policy: dict[str, Any] = {
                "Module": "monitor",
                "PolicyName": self.name(d),
                "MonitorType": "MT_QCE",
                "Namespace": "scf_v2",
                "Condition": condition,
                "Enable": 1,
                "Remark": REMARK,
                "Tags": d.tags(),
            }
            if notice is not None:
                policy["NoticeIds"] = [notice]
            created = d.change("monitor", "CreateAlarmPolicy", policy)
            if "PolicyId" in created:
                self.bind(d, str(created["PolicyId"]))
            d.plan.say("create", self.label(d), summary)
            return
        policy_id = str(found["PolicyId"])
        changed = []
        for key, value, what in (("NAME", self.name(d), "renamed"), ("REMARK", REMARK, "remark")):
            current = found.get("PolicyName" if key == "NAME" else "Remark")
            if current != value:
                info = {"Module": "monitor", "PolicyId": policy_id, "Key": key, "Value": value}
                d.change("monitor", "ModifyAlarmPolicyInfo", info)
                changed.append(f"{what} (was {current!r})" if key == "NAME" else what)
        if not same_json(rules_view(found.get("Condition")), rules_view(condition)):
            change = {"Module": "monitor", "PolicyId": policy_id, "Condition": condition}
            d.change("monitor", "ModifyAlarmPolicyCondition", change)
            changed.append(summary)
        if notice is not None and list(found.get("NoticeIds") or []) != [notice]:
            d.change(
                "monitor",
                "ModifyAlarmPolicyNotice",
                {"Module": "monitor", "PolicyId": policy_id, "NoticeIds": [notice]},
            )
            changed.append("notice")
        if d.function_created:
            self.bind(d, policy_id)  # the stack's function in a new region
        if changed:
            d.plan.say("update", self.label(d), ", ".join(changed))
        else:
            d.plan.say(
                "keep", self.label(d), f"bound to the function in {d.desired.region}" if d.function_created else ""
            )

    def bind(self, d: Context, policy_id: str) -> None:
        dimensions = json.dumps(
            {"functionName": d.names.function, "namespace": d.desired.namespace}, separators=(",", ":")
        )
        region = MONITOR_REGIONS[d.desired.region]
        d.change(
            "monitor",
            "BindingPolicyObject",
            {"Module": "monitor", "PolicyId": policy_id, "Dimensions": [{"Region": region, "Dimensions": dimensions}]},
        )

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("monitor", "DeleteAlarmPolicy", {"Module": "monitor", "PolicyIds": [found["PolicyId"]]})
        d.plan.say("delete", self.label(d))

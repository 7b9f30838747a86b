"""Cloud Monitor's actions (the account's): notice templates and alarm policies."""

from __future__ import annotations

import json
from typing import Any

from emulator.cloud.state import State, page
from emulator.signing import ApiError

_NO_NOTICE = ("ResourceNotFound", "no such notice")
_NO_POLICY = ("ResourceNotFound", "no such policy")


def _rule_answer(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as DescribeAlarmPolicies' published example answers it: what was sent, and what the service adds."""
    return {
        "Description": rule.get("MetricName", ""),
        "Unit": "",
        "RuleType": "STATIC",
        "Filter": {"Dimensions": "", "Type": ""},
        "HierarchicalValue": {"Remind": "", "Serious": "", "Warn": ""},
        "IsAdvanced": 0,
        "IsOpen": 1,
        "ProductId": "",
        "IsLatenessMetric": 0,
        **rule,
    }


def _delete_each(store: dict[str, dict[str, Any]], ids: list[str], missing: tuple[str, str]) -> dict[str, Any]:
    """Cloud Monitor's batch deletes: every id must exist, or nothing is deleted."""
    if any(item not in store for item in ids):
        raise ApiError(*missing)
    for item in ids:
        del store[item]
    return {}


class Monitor(State):
    def _monitor_notice(self, notice_id: str) -> dict[str, Any]:
        notice = self.monitor_notices.get(notice_id)
        if notice is None:
            raise ApiError(*_NO_NOTICE)
        return notice

    def _monitor_policy(self, policy_id: str) -> dict[str, Any]:
        policy = self.monitor_policies.get(policy_id)
        if policy is None:
            raise ApiError(*_NO_POLICY)
        return policy

    def _monitor_DescribeAlarmNotices(self, p: dict[str, Any]) -> dict[str, Any]:
        found = [item for item in self.monitor_notices.values() if p.get("Name", "") in item["Name"]]
        policies = self.monitor_policies.values()
        answers = [
            {
                **item,
                "UpdatedAt": "2026-01-01 00:00:00",
                "UpdatedBy": "100000000001",
                "IsPreset": 0,
                "PolicyIds": [policy["PolicyId"] for policy in policies if item["Id"] in policy["NoticeIds"]],
                "UserNotices": [
                    {"GroupIds": [], "UserIds": [], "PhoneOrder": [], "Weekday": [1, 2, 3, 4, 5, 6, 7], **user}
                    for user in item["UserNotices"]
                ],
                "URLNotices": [{"IsValid": 1, "Weekday": [1, 2, 3, 4, 5, 6, 7], **url} for url in item["URLNotices"]],
            }
            for item in found
        ]
        return {"TotalCount": len(answers), "Notices": page(answers, p)}

    def _monitor_CreateAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        if any(item["Name"] == p["Name"] for item in self.monitor_notices.values()):
            raise ApiError("InvalidParameterValue.NameRepeat", "a notice of that name exists")
        notice_id = f"notice-{self._id('n')[2:]}"
        self.monitor_notices[notice_id] = {
            "Id": notice_id,
            "Name": p["Name"],
            "NoticeType": p["NoticeType"],
            "NoticeLanguage": p["NoticeLanguage"],
            "UserNotices": p.get("UserNotices", []),
            "URLNotices": p.get("URLNotices", []),
            "Tags": p.get("Tags") or [],
        }
        return {"NoticeId": notice_id}

    def _monitor_ModifyAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        notice = self._monitor_notice(p["NoticeId"])
        notice.update({key: p.get(key, []) for key in ("UserNotices", "URLNotices")})
        notice.update({key: p[key] for key in ("Name", "NoticeType", "NoticeLanguage")})
        return {}

    def _monitor_DeleteAlarmNotices(self, p: dict[str, Any]) -> dict[str, Any]:
        return _delete_each(self.monitor_notices, p["NoticeIds"], _NO_NOTICE)

    def _monitor_DescribeAlarmPolicies(self, p: dict[str, Any]) -> dict[str, Any]:
        found = [item for item in self.monitor_policies.values() if p.get("PolicyName", "") in item["PolicyName"]]
        answers = []
        for item in found:
            condition = dict(item["Condition"] or {})
            condition["Rules"] = [_rule_answer(rule) for rule in condition.get("Rules") or []]
            answers.append(
                {
                    **{key: value for key, value in item.items() if key != "Bindings"},
                    "Condition": {"ComplexExpression": "", **condition},
                    "Notices": [
                        self.monitor_notices[notice] for notice in item["NoticeIds"] if notice in self.monitor_notices
                    ],
                    "InstanceSum": len(item["Bindings"]),
                    "Region": sorted({binding["Region"] for binding in item["Bindings"]}),
                    "NamespaceShowName": "SCF",
                    "RuleType": "STATIC",
                }
            )
        return {"TotalCount": len(answers), "Policies": page(answers, p)}

    def _monitor_CreateAlarmPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        for notice in p.get("NoticeIds") or []:
            self._monitor_notice(notice)
        policy_id = f"policy-{self._id('p')[2:]}"
        self.monitor_policies[policy_id] = {
            "PolicyId": policy_id,
            "PolicyName": p["PolicyName"],
            "MonitorType": p["MonitorType"],
            "Namespace": p["Namespace"],
            "Condition": p.get("Condition"),
            "NoticeIds": p.get("NoticeIds", []),
            "Remark": p.get("Remark", ""),
            "Enable": p.get("Enable", 1),
            "Tags": p.get("Tags") or [],
            "Bindings": [],
        }
        return {"PolicyId": policy_id, "OriginId": str(next(self._ids))}

    def _monitor_ModifyAlarmPolicyCondition(self, p: dict[str, Any]) -> dict[str, Any]:
        policy = self._monitor_policy(p["PolicyId"])
        policy.update({key: p[key] for key in ("Condition",) if key in p})
        return {}

    def _monitor_ModifyAlarmPolicyInfo(self, p: dict[str, Any]) -> dict[str, Any]:
        policy = self._monitor_policy(p["PolicyId"])
        policy["PolicyName" if p["Key"] == "NAME" else "Remark"] = p["Value"]
        return {}

    def _monitor_ModifyAlarmPolicyNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        for notice in p.get("NoticeIds") or []:
            self._monitor_notice(notice)
        for policy_id in p.get("PolicyIds") or [p.get("PolicyId", "")]:
            self._monitor_policy(policy_id)["NoticeIds"] = list(p.get("NoticeIds") or [])
        return {}

    def _monitor_BindingPolicyObject(self, p: dict[str, Any]) -> dict[str, Any]:
        policy = self._monitor_policy(p.get("PolicyId", ""))
        for dimension in p.get("Dimensions") or []:
            try:
                json.loads(dimension.get("Dimensions") or "")
            except ValueError:
                raise ApiError("InvalidParameterValue", "Dimensions must be a JSON object") from None
            policy["Bindings"].append(dimension)
        return {}

    def _monitor_DeleteAlarmPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        return _delete_each(self.monitor_policies, p["PolicyIds"], _NO_POLICY)

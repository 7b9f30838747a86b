"""Cloud Monitor's actions (the account's): notice templates and alarm policies."""

from __future__ import annotations

import json
from typing import Any

from emulator.cloud.state import (
    State,
    page,
)
from emulator.signing import ApiError


class Monitor(State):
    def _monitor_DescribeAlarmNotices(self, p: dict[str, Any]) -> dict[str, Any]:
        found = [item for item in self.monitor_notices.values() if p.get("Name", "") in item["Name"]]
        return {"TotalCount": len(found), "Notices": page(found, p)}

    def _monitor_CreateAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        notice_id = self._id("notice")
        self.monitor_notices[notice_id] = {
            "Id": notice_id,
            "Name": p["Name"],
            "NoticeType": p["NoticeType"],
            "UserNotices": p.get("UserNotices", []),
            "URLNotices": p.get("URLNotices", []),
            "Tags": p.get("Tags") or [],
        }
        return {"NoticeId": notice_id}

    def _monitor_DeleteAlarmNotices(self, p: dict[str, Any]) -> dict[str, Any]:
        for notice_id in p["NoticeIds"]:
            if self.monitor_notices.pop(notice_id, None) is None:
                raise ApiError("ResourceNotFound", "no such notice")
        return {}

    def _monitor_DescribeAlarmPolicies(self, p: dict[str, Any]) -> dict[str, Any]:
        found = [item for item in self.monitor_policies.values() if p.get("PolicyName", "") in item["PolicyName"]]
        return {
            "TotalCount": len(found),
            "Policies": [{k: v for k, v in item.items() if k != "Bindings"} for item in page(found, p)],
        }

    def _monitor_CreateAlarmPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("Module") != "monitor":
            raise ApiError("InvalidParameter", "Module must be monitor")
        policy_id = self._id("policy")
        self.monitor_policies[policy_id] = {
            "PolicyId": policy_id,
            "PolicyName": p["PolicyName"],
            "MonitorType": p["MonitorType"],
            "Namespace": p["Namespace"],
            "Condition": p.get("Condition"),
            "NoticeIds": p.get("NoticeIds", []),
            "Remark": p.get("Remark", ""),
            "Tags": p.get("Tags") or [],
            "Bindings": [],
        }
        return {"PolicyId": policy_id, "OriginId": str(next(self._ids))}

    def _monitor_ModifyAlarmPolicyCondition(self, p: dict[str, Any]) -> dict[str, Any]:
        policy = self.monitor_policies.get(p["PolicyId"])
        if policy is None:
            raise ApiError("ResourceNotFound", "no such policy")
        policy.update({key: p[key] for key in ("Condition", "NoticeIds") if key in p})
        return {}

    def _monitor_BindingPolicyObject(self, p: dict[str, Any]) -> dict[str, Any]:
        policy = self.monitor_policies.get(p.get("PolicyId", ""))
        if policy is None:
            raise ApiError("ResourceNotFound", "no such policy")
        for dimension in p.get("Dimensions") or []:
            json.loads(dimension["Dimensions"])
            policy["Bindings"].append(dimension)
        return {}

    def _monitor_DeleteAlarmPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        for policy_id in p["PolicyIds"]:
            if self.monitor_policies.pop(policy_id, None) is None:
                raise ApiError("ResourceNotFound", "no such policy")
        return {}

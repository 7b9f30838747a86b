"""CAM's actions (the account's): roles, policies and their attachments."""

from __future__ import annotations

from typing import Any

from emulator.cloud.state import (
    State,
    page,
)
from emulator.signing import ApiError


class Cam(State):
    def _cam_GetRole(self, p: dict[str, Any]) -> dict[str, Any]:
        role = self.roles.get(p.get("RoleName", ""))
        if role is None:
            raise ApiError("InvalidParameter.RoleNotExist", "role not exist")
        return {"RoleInfo": dict(role)}

    def _cam_CreateRole(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["RoleName"]
        if name in self.roles:
            raise ApiError("InvalidParameter.RoleNameInUse", "role name in use")
        role_id = str(4611686018427000000 + next(self._ids))
        self.roles[name] = {
            "RoleId": role_id,
            "RoleName": name,
            "PolicyDocument": p["PolicyDocument"],
            "Description": p.get("Description", ""),
            "Tags": p.get("Tags") or [],
        }
        return {"RoleId": role_id}

    def _cam_UpdateAssumeRolePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        self._cam_GetRole(p)
        self.roles[p["RoleName"]]["PolicyDocument"] = p["PolicyDocument"]
        return {}

    def _cam_DeleteRole(self, p: dict[str, Any]) -> dict[str, Any]:
        self._cam_GetRole(p)
        del self.roles[p["RoleName"]]
        self.attachments = {(role, policy) for role, policy in self.attachments if role != p["RoleName"]}
        return {}

    def _cam_ListPolicies(self, p: dict[str, Any]) -> dict[str, Any]:
        keyword = p.get("Keyword", "")
        found = [
            {
                "PolicyId": policy_id,
                "PolicyName": policy["PolicyName"],
                "Description": policy["Description"],
                "Type": 1,
                "Tags": policy.get("Tags") or [],
            }
            for policy_id, policy in sorted(self.policies.items())
            if keyword in policy["PolicyName"]
        ]
        return {"TotalNum": len(found), "List": page(found, p)}

    def _cam_GetPolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        policy = self.policies.get(int(p["PolicyId"]))
        if policy is None:
            raise ApiError("ResourceNotFound.PolicyIdNotExist", "policy id not exist")
        return {
            "PolicyName": policy["PolicyName"],
            "Description": policy["Description"],
            "PolicyDocument": policy["PolicyDocument"],
            "Type": 1,
        }

    def _cam_CreatePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        if any(policy["PolicyName"] == p["PolicyName"] for policy in self.policies.values()):
            raise ApiError("FailedOperation.PolicyNameInUse", "policy name in use")
        policy_id = 200000000 + next(self._ids)
        self.policies[policy_id] = {
            "PolicyName": p["PolicyName"],
            "PolicyDocument": p["PolicyDocument"],
            "Description": p.get("Description", ""),
            "Tags": p.get("Tags") or [],
        }
        return {"PolicyId": policy_id}

    def _cam_UpdatePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        self._cam_GetPolicy(p)
        policy = self.policies[int(p["PolicyId"])]
        for name in ("PolicyDocument", "Description"):
            if name in p:
                policy[name] = p[name]
        return {}

    def _cam_DeletePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        for policy_id in p["PolicyId"]:
            if int(policy_id) not in self.policies:
                raise ApiError("ResourceNotFound.PolicyIdNotExist", "policy id not exist")
            del self.policies[int(policy_id)]
        return {}

    def _cam_AttachRolePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        self._cam_GetRole({"RoleName": p["AttachRoleName"]})
        self._cam_GetPolicy(p)
        self.attachments.add((p["AttachRoleName"], int(p["PolicyId"])))
        return {}

    def _cam_DetachRolePolicy(self, p: dict[str, Any]) -> dict[str, Any]:
        self.attachments.discard((p["DetachRoleName"], int(p["PolicyId"])))
        return {}

    def _cam_ListAttachedRolePolicies(self, p: dict[str, Any]) -> dict[str, Any]:
        self._cam_GetRole(p)
        found = [
            {"PolicyId": policy_id, "PolicyName": self.policies[policy_id]["PolicyName"]}
            for role, policy_id in sorted(self.attachments)
            if role == p["RoleName"] and policy_id in self.policies
        ]
        return {"TotalNum": len(found), "List": page(found, p)}

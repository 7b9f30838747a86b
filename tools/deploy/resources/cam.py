"""CAM (global): the execution role, its policy and the attachment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tools.deploy.resources.base import NEW, Context, Resource, marked, parsed


class Role(Resource):
    kind = "cam role"
    global_ = True

    def name(self, d: Context) -> str:
        return d.names.role

    def read(self, d: Context) -> dict[str, Any] | None:
        found = d.read("cam", "GetRole", {"RoleName": self.name(d)})
        return None if found is None else dict(found.get("RoleInfo") or {})

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return marked(found.get("Description"), d)

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
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
        elif same_policy(found.get("PolicyDocument"), trust):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cam", "UpdateAssumeRolePolicy", {"RoleName": self.name(d), "PolicyDocument": trust})
            d.plan.say("update", self.label(d), "trust policy")

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cam", "DeleteRole", {"RoleName": self.name(d)})
        d.plan.say("delete", self.label(d))


class Policy(Resource):
    kind = "cam policy"
    global_ = True

    def name(self, d: Context) -> str:
        return d.names.policy

    def read(self, d: Context) -> dict[str, Any] | None:
        name = self.name(d)
        found = d.named("cam", "ListPolicies", {"Keyword": name, "Scope": "Local"}, "List", "PolicyName", name)
        if found is not None:
            d.ids["policy"] = str(found["PolicyId"])
        return found

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return marked(found.get("Description"), d)

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
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
        if same_policy(current.get("PolicyDocument"), document):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cam", "UpdatePolicy", {"PolicyId": int(found["PolicyId"]), "PolicyDocument": document})
            d.plan.say("update", self.label(d), "document")

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cam", "DeletePolicy", {"PolicyId": [int(found["PolicyId"])]})
        d.plan.say("delete", self.label(d))


class Attachment(Resource):
    """The policy attached to the role: owned when both are."""

    kind = "cam attachment"
    global_ = True

    def name(self, d: Context) -> str:
        return f"{d.names.policy} -> {d.names.role}"

    def label(self, d: Context) -> str:
        return f"{self.kind} {self.name(d)}"

    def read(self, d: Context) -> dict[str, Any] | None:
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

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.plan.say("keep", self.label(d))
            return
        policy_id = d.ids.get("policy", NEW)
        if policy_id != NEW:
            d.change("cam", "AttachRolePolicy", {"PolicyId": int(policy_id), "AttachRoleName": d.names.role})
        d.plan.say("create", self.label(d))

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cam", "DetachRolePolicy", {"PolicyId": int(found["PolicyId"]), "DetachRoleName": d.names.role})
        d.plan.say("delete", self.label(d))


def _policy_form(value: Any) -> Any:
    """A policy document in one form: a single value and a list of one are the same to CAM (its GetRole example
    answers `"service": [...]` where a document may give one string), and the order of a list does not matter."""
    if isinstance(value, dict):
        return {key: _policy_form(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return sorted(value)
        return [_policy_form(item) for item in value]
    return [value] if isinstance(value, str) else value


def same_policy(current: Any, wanted: Any) -> bool:
    """The policy CAM answers (JSON, or URL-encoded JSON) is the one the tool sends, in either form of a value."""
    found, document = parsed(current), parsed(wanted)
    if not isinstance(found, dict) or not isinstance(document, dict):
        return False
    return bool(_policy_form({**found, "version": str(found.get("version"))}) == _policy_form(document))

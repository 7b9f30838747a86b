"""What every resource shares: the context it works in, its base class, and the comparisons that decide
keep or update."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from tools.deploy.desired import Desired
from tools.deploy.tccli import Cloud, CloudError
from tools.stack import Names

NEW = "(new)"  # the id of something a dry run would create
PAGE_SIZES = {"cls": 100, "scf": 100, "cam": 200, "monitor": 100}


class Plan(Protocol):
    def say(self, verb: str, what: str, detail: str = "") -> None: ...


class Context(ABC):
    """What a resource may use of the run walking it (tools/deploy/plan.py's Deployer): its calls, made here,
    the ids the resources before it found or made, and the one ownership check."""

    cloud: Cloud
    desired: Desired
    names: Names
    plan: Plan
    dry_run: bool
    marker: str
    function_key: dict[str, str]
    ids: dict[str, str]
    referenced: set[str]
    current: dict[str, Any] | None
    foreign: dict[str, Any] | None
    variables: dict[str, str]
    deleted_topic: bool
    function_created: bool

    def call(self, service: str, action: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        return self.cloud.call(service, action, params, region)

    def change(self, service: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """A call that changes something: skipped in a dry run."""
        if self.dry_run:
            return {}
        return self.call(service, action, params)

    def read(
        self, service: str, action: str, params: dict[str, Any], region: str | None = None
    ) -> dict[str, Any] | None:
        """A read of something that may not exist: None when the API says it does not."""
        try:
            return self.call(service, action, params, region)
        except CloudError as exc:
            if exc.not_found:
                return None
            raise

    def each(
        self,
        service: str,
        action: str,
        params: dict[str, Any],
        key: str,
        missing_ok: bool = False,
        region: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a Describe or List call, page after page, until the total is seen."""
        size = PAGE_SIZES[service]
        seen, page = 0, 0
        while True:
            if service == "cam":
                paging = {"Page": page + 1, "Rp": size}
            elif service == "monitor":
                paging = {"PageNumber": page + 1, "PageSize": size}
            else:
                paging = {"Offset": seen, "Limit": size}
            answer = (
                self.read(service, action, {**params, **paging}, region)
                if missing_ok
                else self.call(service, action, {**params, **paging}, region)
            )
            if answer is None:
                return
            items = list(answer.get(key) or [])
            yield from items
            seen += len(items)
            page += 1
            total = next((answer[name] for name in ("TotalCount", "TotalNum", "Total") if name in answer), None)
            if not items or (total is not None and seen >= int(total)) or (total is None and len(items) < size):
                return

    def named(
        self, service: str, action: str, params: dict[str, Any], key: str, field: str, name: str
    ) -> dict[str, Any] | None:
        """The first item whose `field` is exactly `name`, read page after page (a lookup's filter is fuzzy)."""
        for item in self.each(service, action, params, key):
            if item.get(field) == name:
                return dict(item)
        return None

    def error(self, code: str, message: str) -> CloudError:
        return CloudError(code, message)

    # ---- what the run knows of the stack (the Deployer's) ----

    @abstractmethod
    def tags(self) -> list[dict[str, str]]: ...
    @abstractmethod
    def owns(self, resource: Resource, found: Mapping[str, Any]) -> bool: ...
    @abstractmethod
    def document(self, name: str) -> str: ...
    @abstractmethod
    def index_rule(self) -> dict[str, Any]: ...
    @abstractmethod
    def board(self) -> dict[str, Any]: ...
    @abstractmethod
    def triggers(self) -> list[dict[str, Any]]: ...
    @abstractmethod
    def forget_triggers(self) -> None: ...
    @abstractmethod
    def cls_alarms(self) -> dict[str, dict[str, Any]]: ...
    @abstractmethod
    def describe_variables(self, current: Mapping[str, str]) -> str: ...
    @abstractmethod
    def wait_active(self, why: str) -> None: ...


class Resource:
    """One resource of the stack. `global_`: it has no region (CAM), so other regions may use it too."""

    kind = ""
    global_ = False
    # Deleted together with another resource (an index with its topic, a setting with its function).
    goes_with: str | None = None

    def name(self, d: Context) -> str:
        raise NotImplementedError

    def read(self, d: Context) -> dict[str, Any] | None:
        raise NotImplementedError

    def tags(self, found: Mapping[str, Any]) -> Any:
        return found.get("Tags")

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        """Evidence that the tool made it before it tagged what it made (the default stack only)."""
        return False

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        raise NotImplementedError

    def label(self, d: Context) -> str:
        return f"{self.kind} {self.name(d)}"


def marked(text: object, d: Context) -> bool:
    """The tool's mark in a description: "managed by make deploy" (spaces, or dashes where spaces are refused)."""
    return d.marker in str(text or "") or d.marker.replace(" ", "-") in str(text or "")


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


def cut(found: Any, wanted: Any) -> Any:
    """`found` (an answer) cut to the shape of `wanted` (what the tool sends): only the keys the tool sets, at every
    depth. An answer carries more than was sent: members the service adds (an alarm target's topic name), and, as
    tccli prints it through the SDK's model, every member the model has, null when unset."""
    if isinstance(wanted, dict) and isinstance(found, dict):
        return {key: cut(found.get(key), value) for key, value in wanted.items()}
    if isinstance(wanted, list) and isinstance(found, list) and len(found) == len(wanted):
        return [cut(item, value) for item, value in zip(found, wanted, strict=True)]
    return found


def settings_of(desc: Any) -> Any:
    """A Function URL's settings, without what the platform adds when it answers (the URLs it opened)."""
    value = parsed(desc)
    if not isinstance(value, dict):
        return value
    net = value.get("NetConfig")
    if isinstance(net, dict):
        net = {key: item for key, item in net.items() if key in ("EnableIntranet", "EnableExtranet")}
    return {"AuthType": value.get("AuthType"), "NetConfig": net}


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
            and not same_json(cut(parsed(current.get(key)), wanted[key]), wanted[key])
        ):
            found.append(label)
    if variables_of(current) != {item["Key"]: item["Value"] for item in wanted["Environment"]["Variables"]}:
        found.append("variables")
    return list(dict.fromkeys(found))


def describe_target(target: Mapping[str, Any], cloud_monitor: bool = False) -> str:
    parts = []
    if target["webhook"] and (not cloud_monitor or target["webhook_type"] == "Http"):
        parts.append(f"{target['webhook_type']} web callback")
    if target["uins"]:
        parts.append(f"{len(target['uins'])} user(s)")
    if target["groups"]:
        parts.append(f"{len(target['groups'])} group(s)")
    return ", ".join(parts)


def notice_view(notice: Mapping[str, Any]) -> dict[str, Any]:
    """A CLS notice's receivers and callbacks as the tool sets them (answers add an Index, a content template id,
    and more)."""
    return {
        "receivers": [
            {key: item.get(key) for key in ("ReceiverType", "ReceiverIds", "ReceiverChannels", "StartTime", "EndTime")}
            for item in notice.get("NoticeReceivers") or []
        ],
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

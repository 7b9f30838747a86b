"""A local stand-in of the control-plane APIs `make deploy` calls: SCF, CAM, CLS and Cloud Monitor.

For testing the deploy tool with the real tccli: an HTTPS server (tccli's SDK only speaks HTTPS, verifying
against its certifi bundle) that verifies every TC3 signature like the real services, dispatches on the
signed service and `X-TC-Action`, keeps state across calls and answers in the documented response shapes.
Every request's parameters and every answer's fields are checked against the official SDK's request and
response models (the API tccli is generated from): an unknown parameter is refused with `UnknownParameter`,
as the real API does, and an answer with a field the model lacks is a defect of this stand-in (HTTP 500).

State follows the services' rules that matter to a deploy: names are unique, a function is `Creating` or
`Updating` for a few reads after a change and refuses changes until `Active`, only one Function URL per
function, deleting what does not exist is an error. SCF and CLS are regional (each request's
`X-TC-Region` picks the region's state); CAM and Cloud Monitor belong to the account. Resources keep the
`Tags` they were created with and answer them back. Every Describe and List call answers at most
`PAGE_LIMIT` items a page, whatever the caller asks, so a caller that does not page misses items.
`fail()` makes an action fail N times (a step that breaks half way). Local only: never deployed.
"""

from __future__ import annotations

import importlib
import itertools
import json
import ssl
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .server import PERMANENT_KEY
from .signing import ApiError, KeyPair, verify_tc3

VERSIONS = {
    "scf": "2018-04-16",
    "cam": "2019-01-16",
    "cls": "2020-10-16",
    "monitor": "2018-07-24",
    "region": "2022-06-27",
}
_MODEL_MODULES = {
    "scf": "tencentcloud.scf.v20180416.models",
    "cam": "tencentcloud.cam.v20190116.models",
    "cls": "tencentcloud.cls.v20201016.models",
    "monitor": "tencentcloud.monitor.v20180724.models",
    "region": "tencentcloud.region.v20220627.models",
}
DEFAULT_REGION = "ap-guangzhou"
# The regions this stand-in serves SCF in (a subset of the real list).
SCF_REGIONS = ("ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-chengdu", "ap-hongkong", "ap-singapore")
PAGE_LIMIT = 20


def unknown_fields(service: str, model: str, data: dict[str, Any]) -> list[str]:
    """The fields of `data` the SDK's `model` (nested models included) does not have."""
    module = importlib.import_module(_MODEL_MODULES[service])
    instance = getattr(module, model)()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        instance._deserialize(json.loads(json.dumps(data)))
    return [str(warning.message) for warning in caught if "useless" in str(warning.message)]


@dataclass
class Failure:
    action: str
    code: str
    message: str
    times: int = 1


@dataclass
class Call:
    service: str
    action: str
    params: dict[str, Any]
    region: str = "ap-guangzhou"


@dataclass
class _Function:
    config: dict[str, Any]
    status: str = "Creating"
    reads_until_active: int = 0
    triggers: list[dict[str, Any]] = field(default_factory=list)
    reserved_mem: int | None = None
    async_config: dict[str, Any] | None = None


class RegionState:
    """What one region holds: SCF functions, CLS logsets, topics, indexes, notices, alarms and dashboards."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], _Function] = {}
        self.logsets: dict[str, dict[str, Any]] = {}
        self.topics: dict[str, dict[str, Any]] = {}
        self.indexes: dict[str, dict[str, Any]] = {}
        self.notices: dict[str, dict[str, Any]] = {}
        self.alarms: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}


def _page(items: list[dict[str, Any]], p: dict[str, Any]) -> list[dict[str, Any]]:
    """One page of `items` as the caller's paging asks (Offset/Limit, Page/Rp, PageNumber/PageSize), never
    more than PAGE_LIMIT."""
    if "Page" in p or "Rp" in p:
        size = min(int(p.get("Rp") or PAGE_LIMIT), PAGE_LIMIT)
        start = (max(int(p.get("Page") or 1), 1) - 1) * size
    elif "PageNumber" in p or "PageSize" in p:
        size = min(int(p.get("PageSize") or PAGE_LIMIT), PAGE_LIMIT)
        start = (max(int(p.get("PageNumber") or 1), 1) - 1) * size
    else:
        size = min(int(p.get("Limit") or PAGE_LIMIT), PAGE_LIMIT)
        start = int(p.get("Offset") or 0)
    return [dict(item) for item in items[start : start + size]]


class CloudStandIn:
    """`start()` / `stop()`; `endpoint` is `127.0.0.1:<port>` (tccli's `--endpoint`).

    `functions`, `logsets`, `topics`, ... are the default region's (ap-guangzhou); `region(name)` any other's.
    """

    def __init__(
        self,
        cert: Path | None = None,
        key: Path | None = None,
        keys: tuple[KeyPair, ...] = (PERMANENT_KEY,),
        reads_until_active: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = {pair.secret_id: pair for pair in keys}
        self.reads_until_active = reads_until_active
        self.clock = clock
        self.calls: list[Call] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # state: CAM and Cloud Monitor for the account, SCF and CLS per region
        self.roles: dict[str, dict[str, Any]] = {}
        self.policies: dict[int, dict[str, Any]] = {}
        self.attachments: set[tuple[str, int]] = set()
        self.monitor_notices: dict[str, dict[str, Any]] = {}
        self.monitor_policies: dict[str, dict[str, Any]] = {}
        self.regions: dict[str, RegionState] = {}
        self._r = self.region(DEFAULT_REGION)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.cloud = self
        if cert is not None:  # without a certificate: in-process use only (`dispatch`), never served to tccli
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # ---- regions -------------------------------------------------------------------------------

    def region(self, name: str) -> RegionState:
        return self.regions.setdefault(name, RegionState())

    @property
    def functions(self) -> dict[tuple[str, str], _Function]:
        return self.region(DEFAULT_REGION).functions

    @property
    def logsets(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).logsets

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).topics

    @property
    def indexes(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).indexes

    @property
    def notices(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).notices

    @property
    def alarms(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).alarms

    @property
    def dashboards(self) -> dict[str, dict[str, Any]]:
        return self.region(DEFAULT_REGION).dashboards

    # ---- control -------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> CloudStandIn:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, action: str, code: str, message: str = "injected failure", times: int = 1) -> None:
        with self._lock:
            self._failures.append(Failure(action, code, message, times))

    def actions(self, since: int = 0) -> list[str]:
        return [call.action for call in self.calls[since:]]

    # ---- one API call ----------------------------------------------------------------------------

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one request, as the real API answers (errors are HTTP 200)."""
        request_id = str(uuid.uuid4())
        try:
            if headers.get("content-type", "").split(";")[0] != "application/json":
                raise ApiError("InvalidParameter", "Content-Type must be application/json")
            _, service = verify_tc3("POST", headers, body, self._keys, self.clock())
            action = headers.get("x-tc-action", "")
            if service not in VERSIONS or headers.get("x-tc-version") != VERSIONS[service]:
                raise ApiError("NoSuchVersion", f"{service} does not serve version {headers.get('x-tc-version')}")
            params = json.loads(body or b"{}")
            result = self.dispatch(service, action, params, headers.get("x-tc-region") or DEFAULT_REGION)
        except ApiError as exc:
            return 200, {"Response": {"Error": {"Code": exc.code, "Message": exc.message}, "RequestId": request_id}}
        wrong = unknown_fields(service, f"{action}Response", result)
        if wrong:  # a defect of the stand-in, not of the caller
            return 500, {"error": f"{action}Response: {wrong}"}
        return 200, {"Response": {**result, "RequestId": request_id}}

    def dispatch(
        self, service: str, action: str, params: dict[str, Any], region: str = DEFAULT_REGION
    ) -> dict[str, Any]:
        """The action's result, or ApiError: what `answer` does after the transport, callable in-process."""
        handler = getattr(self, f"_{service}_{action}", None)
        if handler is None:
            raise ApiError("InvalidAction", f"{service} has no action {action}")
        wrong = unknown_fields(service, f"{action}Request", params)
        if wrong:
            raise ApiError("UnknownParameter", f"{action}: {wrong}")
        if service in ("scf", "cls") and region not in SCF_REGIONS:
            raise ApiError("UnsupportedRegion", f"{service} is not served in {region}")
        with self._lock:
            self.calls.append(Call(service, action, params, region))
            self._r = self.region(region)
            for failure in self._failures:
                if failure.action == action:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise ApiError(failure.code, failure.message)
            result: dict[str, Any] = handler(params)
            return result

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):08x}"

    # ---- CAM -------------------------------------------------------------------------------------

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
        return {"TotalNum": len(found), "List": _page(found, p)}

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
            {"PolicyId": str(policy_id), "PolicyName": self.policies[policy_id]["PolicyName"]}
            for role, policy_id in sorted(self.attachments)
            if role == p["RoleName"] and policy_id in self.policies
        ]
        return {"TotalNum": len(found), "List": _page(found, p)}

    # ---- SCF -------------------------------------------------------------------------------------

    def _function(self, p: dict[str, Any]) -> _Function:
        function = self._r.functions.get((p.get("Namespace", "default"), p["FunctionName"]))
        if function is None:
            raise ApiError("ResourceNotFound.Function", f"function {p['FunctionName']} not found")
        return function

    def _changeable(self, p: dict[str, Any]) -> _Function:
        function = self._function(p)
        if function.status != "Active":
            raise ApiError("FailedOperation.FunctionStatusError", f"the function is {function.status}: wait for Active")
        return function

    def _scf_ListFunctions(self, p: dict[str, Any]) -> dict[str, Any]:
        """The region's functions, filtered as the API documents `Filters` for tags (`tag-<key>` names, any of
        `Values`), paged by Offset/Limit (default 20)."""
        wanted: dict[str, set[str]] = {}
        for item in p.get("Filters") or []:
            name = str(item.get("Name", ""))
            if not name.startswith("tag-"):
                raise ApiError("InvalidParameterValue.Filters", f"this stand-in filters by tags only, not {name}")
            wanted[name[4:]] = {str(value) for value in item.get("Values") or []}
        found = []
        for (namespace, name), function in sorted(self._r.functions.items()):
            if p.get("Namespace") and namespace != p["Namespace"]:
                continue
            tags = {str(tag["Key"]): str(tag["Value"]) for tag in function.config.get("Tags") or []}
            if any(tags.get(key) not in values for key, values in wanted.items()):
                continue
            found.append(
                {
                    "FunctionName": name,
                    "Namespace": namespace,
                    "Runtime": function.config.get("Runtime", ""),
                    "Status": function.status,
                    "Description": function.config.get("Description", ""),
                    "Tags": function.config.get("Tags") or [],
                    "ReservedConcurrencyMem": function.reserved_mem or 0,
                    "Type": "Event",
                }
            )
        return {"Functions": _page(found, p), "TotalCount": len(found)}

    def _scf_GetFunction(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._function(p)
        if function.status != "Active":
            function.reads_until_active -= 1
            if function.reads_until_active <= 0:
                function.status = "Active"
        config = {key: value for key, value in function.config.items() if key not in ("Code", "ZipFile")}
        return {**config, "Status": function.status, "Namespace": p.get("Namespace", "default")}

    def _scf_CreateFunction(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (p.get("Namespace", "default"), p["FunctionName"])
        if key in self._r.functions:
            raise ApiError("ResourceInUse.Function", "the function exists")
        config = {name: value for name, value in p.items() if name not in ("Code", "Namespace")}
        config["Tags"] = p.get("Tags") or []
        self._r.functions[key] = _Function(config, "Creating", self.reads_until_active)
        return {}

    def _scf_UpdateFunctionCode(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._changeable(p)
        function.config["Handler"] = p.get("Handler", function.config.get("Handler"))
        function.status, function.reads_until_active = "Updating", self.reads_until_active
        return {}

    def _scf_UpdateFunctionConfiguration(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._changeable(p)
        function.config.update(
            {name: value for name, value in p.items() if name not in ("FunctionName", "Namespace", "Tags")}
        )
        function.status, function.reads_until_active = "Updating", self.reads_until_active
        return {}

    def _scf_DeleteFunction(self, p: dict[str, Any]) -> dict[str, Any]:
        self._function(p)
        del self._r.functions[(p.get("Namespace", "default"), p["FunctionName"])]
        return {}

    def _scf_ListTriggers(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._function(p)
        return {"TotalCount": len(function.triggers), "Triggers": _page(function.triggers, p)}

    def _scf_CreateTrigger(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._changeable(p)
        if any(trigger["TriggerName"] == p["TriggerName"] for trigger in function.triggers):
            raise ApiError("ResourceInUse.Trigger", "a trigger of that name exists")
        if p["Type"] == "http" and any(trigger["Type"] == "http" for trigger in function.triggers):
            raise ApiError("ResourceInUse.Trigger", "a function has at most one Function URL")
        desc = p.get("TriggerDesc", "")
        if p["Type"] == "http":
            # What the console shows as the Function URL: https://<appid>-<id>.<region>.tencentscf.com
            url = f"https://1250000000-{uuid.uuid4().hex[:10]}.{self._region_name()}.tencentscf.com"
            desc = json.dumps({**json.loads(desc or "{}"), "Url": url}, separators=(",", ":"))
        trigger = {
            "TriggerName": p["TriggerName"],
            "Type": p["Type"],
            "TriggerDesc": desc,
            "Qualifier": p.get("Qualifier", "$LATEST"),
            "Enable": 1,
            "AvailableStatus": "Available",
        }
        function.triggers.append(trigger)
        return {"TriggerInfo": dict(trigger)}

    def _scf_UpdateTrigger(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._changeable(p)
        for trigger in function.triggers:
            if trigger["TriggerName"] == p["TriggerName"] and trigger["Type"] == p["Type"]:
                trigger["TriggerDesc"] = p.get("TriggerDesc", trigger["TriggerDesc"])
                return {}
        raise ApiError("ResourceNotFound.Trigger", "no such trigger")

    def _scf_DeleteTrigger(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._function(p)
        kept = [trigger for trigger in function.triggers if trigger["TriggerName"] != p["TriggerName"]]
        if len(kept) == len(function.triggers):
            raise ApiError("ResourceNotFound.Trigger", "no such trigger")
        function.triggers = kept
        return {}

    def _scf_GetReservedConcurrencyConfig(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._function(p)
        return {} if function.reserved_mem is None else {"ReservedMem": function.reserved_mem}

    def _scf_PutReservedConcurrencyConfig(self, p: dict[str, Any]) -> dict[str, Any]:
        self._function(p).reserved_mem = int(p["ReservedConcurrencyMem"])
        return {}

    def _scf_DeleteReservedConcurrencyConfig(self, p: dict[str, Any]) -> dict[str, Any]:
        self._function(p).reserved_mem = None
        return {}

    def _scf_GetFunctionEventInvokeConfig(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._function(p)
        # SCF's defaults: 2 retries, 6 hours (reference: scf-platform.md, "Retries by trigger").
        return {"AsyncTriggerConfig": function.async_config or {"RetryConfig": [{"RetryNum": 2}], "MsgTTL": 21600}}

    def _scf_UpdateFunctionEventInvokeConfig(self, p: dict[str, Any]) -> dict[str, Any]:
        self._function(p).async_config = p["AsyncTriggerConfig"]
        return {}

    # ---- CLS -------------------------------------------------------------------------------------

    @staticmethod
    def _filtered(items: list[dict[str, Any]], p: dict[str, Any], keys: dict[str, str]) -> list[dict[str, Any]]:
        """CLS's Filters: each filter's key (mapped to a field) must equal one of its values."""
        for item_filter in p.get("Filters") or []:
            name = keys.get(item_filter["Key"])
            if name is None:
                raise ApiError("InvalidParameter", f"unknown filter {item_filter['Key']}")
            items = [item for item in items if str(item.get(name)) in item_filter["Values"]]
        return items

    def _cls_DescribeLogsets(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self._filtered(list(self._r.logsets.values()), p, {"logsetName": "LogsetName", "logsetId": "LogsetId"})
        return {"TotalCount": len(found), "Logsets": _page(found, p)}

    def _cls_CreateLogset(self, p: dict[str, Any]) -> dict[str, Any]:
        logset_id = str(uuid.uuid4())
        self._r.logsets[logset_id] = {"LogsetId": logset_id, "LogsetName": p["LogsetName"], "Tags": p.get("Tags") or []}
        return {"LogsetId": logset_id}

    def _cls_DeleteLogset(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["LogsetId"] not in self._r.logsets:
            raise ApiError("ResourceNotFound.LogsetNotExist", "logset not exist")
        if any(topic["LogsetId"] == p["LogsetId"] for topic in self._r.topics.values()):
            raise ApiError("OperationDenied.LogsetNotEmpty", "the logset still has topics")
        del self._r.logsets[p["LogsetId"]]
        return {}

    def _cls_DescribeTopics(self, p: dict[str, Any]) -> dict[str, Any]:
        keys = {"topicName": "TopicName", "logsetId": "LogsetId", "topicId": "TopicId"}
        found = self._filtered(list(self._r.topics.values()), p, keys)
        return {"TotalCount": len(found), "Topics": _page(found, p)}

    def _cls_CreateTopic(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["LogsetId"] not in self._r.logsets:
            raise ApiError("ResourceNotFound.LogsetNotExist", "logset not exist")
        topic_id = str(uuid.uuid4())
        self._r.topics[topic_id] = {
            "TopicId": topic_id,
            "TopicName": p["TopicName"],
            "LogsetId": p["LogsetId"],
            "Tags": p.get("Tags") or [],
        }
        return {"TopicId": topic_id}

    def _cls_DeleteTopic(self, p: dict[str, Any]) -> dict[str, Any]:
        if self._r.topics.pop(p["TopicId"], None) is None:
            raise ApiError("ResourceNotFound.TopicNotExist", "topic not exist")
        self._r.indexes.pop(p["TopicId"], None)
        return {}

    def _cls_DescribeIndex(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["TopicId"] not in self._r.topics:
            raise ApiError("ResourceNotFound.TopicNotExist", "topic not exist")
        index = self._r.indexes.get(p["TopicId"])
        if index is None:
            return {"TopicId": p["TopicId"], "Status": False}
        return {"TopicId": p["TopicId"], "Status": index.get("Status", True), "Rule": index["Rule"]}

    def _cls_CreateIndex(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["TopicId"] not in self._r.topics:
            raise ApiError("ResourceNotFound.TopicNotExist", "topic not exist")
        if p["TopicId"] in self._r.indexes:
            raise ApiError("ResourceInUse.Index", "the topic has an index: use ModifyIndex")
        self._r.indexes[p["TopicId"]] = {"Rule": p["Rule"], "Status": p.get("Status", True)}
        return {}

    def _cls_ModifyIndex(self, p: dict[str, Any]) -> dict[str, Any]:
        if p["TopicId"] not in self._r.indexes:
            raise ApiError("ResourceNotFound.IndexNotExist", "the topic has no index")
        self._r.indexes[p["TopicId"]].update({key: p[key] for key in ("Rule", "Status") if key in p})
        return {}

    def _named(self, store: dict[str, dict[str, Any]], p: dict[str, Any], id_key: str) -> list[dict[str, Any]]:
        items = list(store.values())
        for item_filter in p.get("Filters") or []:
            if item_filter["Key"] == "name":
                items = [item for item in items if any(value in item["Name"] for value in item_filter["Values"])]
            elif item_filter["Key"] == id_key:
                items = [item for item in items if item[id_key[0].upper() + id_key[1:]] in item_filter["Values"]]
        return items

    def _cls_DescribeAlarmNotices(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self._named(self._r.notices, p, "alarmNoticeId")
        return {"TotalCount": len(found), "AlarmNotices": _page(found, p)}

    def _cls_CreateAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        notice_id = self._id("notice")
        self._r.notices[notice_id] = {**p, "AlarmNoticeId": notice_id}
        return {"AlarmNoticeId": notice_id}

    def _cls_ModifyAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        return _modify(self._r.notices, p, "AlarmNoticeId", _NO_NOTICE)

    def _cls_DeleteAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        return _delete(self._r.notices, p, "AlarmNoticeId", _NO_NOTICE)

    def _cls_DescribeAlarms(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self._named(self._r.alarms, p, "alarmId")
        return {"TotalCount": len(found), "Alarms": _page(found, p)}

    def _cls_CreateAlarm(self, p: dict[str, Any]) -> dict[str, Any]:
        for target in p["AlarmTargets"]:
            if target["TopicId"] not in self._r.topics:
                raise ApiError("ResourceNotFound.TopicNotExist", "an alarm target's topic does not exist")
        for notice_id in p.get("AlarmNoticeIds") or []:
            if notice_id not in self._r.notices:
                raise ApiError("ResourceNotFound.AlarmNoticeNotExist", "no such notice")
        alarm_id = self._id("alarm")
        self._r.alarms[alarm_id] = {**p, "AlarmId": alarm_id}
        return {"AlarmId": alarm_id}

    def _cls_ModifyAlarm(self, p: dict[str, Any]) -> dict[str, Any]:
        return _modify(self._r.alarms, p, "AlarmId", _NO_ALARM)

    def _cls_DeleteAlarm(self, p: dict[str, Any]) -> dict[str, Any]:
        return _delete(self._r.alarms, p, "AlarmId", _NO_ALARM)

    def _cls_DescribeDashboards(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self._r.dashboards.values())
        for item_filter in p.get("Filters") or []:
            if item_filter["Key"] == "dashboardName":
                items = [item for item in items if any(v in item["DashboardName"] for v in item_filter["Values"])]
        return {"TotalCount": len(items), "DashboardInfos": _page(items, p)}

    def _cls_CreateDashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        json.loads(p.get("Data") or "{}")  # the console stores it as a JSON string
        dashboard_id = self._id("dashboard")
        self._r.dashboards[dashboard_id] = {**p, "DashboardId": dashboard_id}
        return {"DashboardId": dashboard_id}

    def _cls_ModifyDashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        return _modify(self._r.dashboards, p, "DashboardId", _NO_DASHBOARD)

    def _cls_DeleteDashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        return _delete(self._r.dashboards, p, "DashboardId", _NO_DASHBOARD)

    # ---- Cloud Monitor ---------------------------------------------------------------------------

    def _monitor_DescribeAlarmNotices(self, p: dict[str, Any]) -> dict[str, Any]:
        found = [item for item in self.monitor_notices.values() if p.get("Name", "") in item["Name"]]
        return {"TotalCount": len(found), "Notices": _page(found, p)}

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
            "Policies": [{k: v for k, v in item.items() if k != "Bindings"} for item in _page(found, p)],
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

    # ---- region ----------------------------------------------------------------------------------

    def _region_DescribeRegions(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("Product") != "scf":
            raise ApiError("InvalidParameterValue", "this stand-in lists SCF's regions only")
        regions = [{"Region": name, "RegionName": name, "RegionState": "AVAILABLE"} for name in SCF_REGIONS]
        return {"TotalCount": len(regions), "RegionSet": regions}

    def _region_name(self) -> str:
        return next((name for name, state in self.regions.items() if state is self._r), DEFAULT_REGION)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    cloud: CloudStandIn


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = self.server.cloud.answer(headers, body)
        data = json.dumps(answer).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# CLS's answers for an unknown id: (code, message).
_NO_NOTICE = ("ResourceNotFound.AlarmNoticeNotExist", "no such notice")
_NO_ALARM = ("ResourceNotFound.AlarmNotExist", "no such alarm")
_NO_DASHBOARD = ("ResourceNotFound.DashboardNotExist", "no such dashboard")


def _modify(
    store: dict[str, dict[str, Any]], p: dict[str, Any], id_key: str, missing: tuple[str, str]
) -> dict[str, Any]:
    """CLS's Modify* for a stored resource: the given fields replace the stored ones; an unknown id is `missing`."""
    if p[id_key] not in store:
        raise ApiError(*missing)
    store[p[id_key]].update(p)
    return {}


def _delete(
    store: dict[str, dict[str, Any]], p: dict[str, Any], id_key: str, missing: tuple[str, str]
) -> dict[str, Any]:
    """CLS's Delete* for a stored resource; an unknown id is `missing`."""
    if store.pop(p[id_key], None) is None:
        raise ApiError(*missing)
    return {}

"""SCF's actions (a region's): functions, their triggers and settings."""

from __future__ import annotations

import json
import uuid
from typing import Any

from emulator.cloud.state import (
    FunctionState,
    State,
    page,
)
from emulator.signing import ApiError


class Scf(State):
    def _function(self, p: dict[str, Any]) -> FunctionState:
        function = self._r.functions.get((p.get("Namespace", "default"), p["FunctionName"]))
        if function is None:
            raise ApiError("ResourceNotFound.Function", f"function {p['FunctionName']} not found")
        return function

    def _changeable(self, p: dict[str, Any]) -> FunctionState:
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
        return {"Functions": page(found, p), "TotalCount": len(found)}

    def _scf_GetFunction(self, p: dict[str, Any]) -> dict[str, Any]:
        """As the published example answers: no VPC is `{"VpcId": "", "SubnetId": ""}`, variables a list, the
        function's triggers beside it."""
        function = self._function(p)
        if function.status != "Active":
            function.reads_until_active -= 1
            if function.reads_until_active <= 0:
                function.status = "Active"
        config = {key: value for key, value in function.config.items() if key not in ("Code", "ZipFile")}
        return {
            "VpcConfig": {"VpcId": "", "SubnetId": ""},
            "Environment": {"Variables": []},
            **config,
            "Status": function.status,
            "Namespace": p.get("Namespace", "default"),
            "Qualifier": "$LATEST",
            "FunctionVersion": "$LATEST",
            "Type": "Event",
            "Triggers": [_trigger_answer(trigger, "Trigger") for trigger in function.triggers],
        }

    def _scf_CreateFunction(self, p: dict[str, Any]) -> dict[str, Any]:
        key = (p.get("Namespace", "default"), p["FunctionName"])
        if key in self._r.functions:
            raise ApiError("ResourceInUse.Function", "the function exists")
        config = {name: value for name, value in p.items() if name not in ("Code", "Namespace")}
        config["Tags"] = p.get("Tags") or []
        self._r.functions[key] = FunctionState(config, "Creating", self.reads_until_active)
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
        triggers = [_trigger_answer(trigger, "TriggerInfo") for trigger in function.triggers]
        return {"TotalCount": len(triggers), "Triggers": page(triggers, p)}

    def _scf_CreateTrigger(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._changeable(p)
        if any(trigger["TriggerName"] == p["TriggerName"] for trigger in function.triggers):
            raise ApiError("ResourceInUse.Trigger", "a trigger of that name exists")
        if p["Type"] == "http" and any(trigger["Type"] == "http" for trigger in function.triggers):
            raise ApiError("ResourceInUse.Trigger", "a function has at most one Function URL")
        desc: Any = p.get("TriggerDesc") or ""
        if p["Type"] in ("http", "ckafka"):
            try:
                desc = json.loads(desc or "{}")
            except ValueError:
                raise ApiError("InvalidParameterValue.TriggerDesc", "TriggerDesc is not JSON") from None
        if p["Type"] == "http":
            # What the platform adds (ListTriggers' published example): the URLs of the network it is open on.
            host = f"1250000000-{uuid.uuid4().hex[:10]}.{self._region_name()}.tencentscf.com"
            net = dict(desc.get("NetConfig") or {})
            outside, inside = bool(net.get("EnableExtranet")), bool(net.get("EnableIntranet"))
            net.update(
                {
                    "ExtranetUrl": f"https://{host}" if outside else "",
                    "ExtranetHTTPUrl": f"http://{host}" if outside else "",
                    "IntranetUrl": f"https://{host.replace('.', '.in.', 1)}" if inside else "",
                    "IntranetHTTPUrl": f"http://{host.replace('.', '.in.', 1)}" if inside else "",
                    "WssIntranetUrl": "",
                    "WsIntranetUrl": "",
                    "WssExtranetUrl": "",
                    "WsExtranetUrl": "",
                }
            )
            desc["NetConfig"] = net
        elif p["Type"] == "ckafka":
            # What this stand-in adds, in the spirit of the http example: the consumer group SCF runs.
            desc["consumerGroupName"] = f"scf-{p['FunctionName']}-{p['TriggerName']}"
        trigger = {
            "TriggerName": p["TriggerName"],
            "Type": p["Type"],
            "Desc": desc,
            # "默认为 $LATEST" (CreateTrigger.Qualifier): the trigger lives on the qualifier it was created on.
            "Qualifier": p.get("Qualifier", "$LATEST"),
            "Enable": 0 if p.get("Enable") == "CLOSE" else 1,
            "Description": p.get("Description", ""),
            "ResourceId": f"qcs::scf:{self._region_name()}:uin/100000000001:namespace/"
            f"{p.get('Namespace', 'default')}/function/{p['FunctionName']}/trigger/{p['TriggerName']}",
        }
        function.triggers.append(trigger)
        return {"TriggerInfo": _trigger_answer(trigger, "TriggerInfo")}

    def _trigger(self, function: FunctionState, p: dict[str, Any]) -> dict[str, Any]:
        """The trigger `p` names, on the qualifier it names ("默认为 $LATEST" in UpdateTrigger and DeleteTrigger)."""
        wanted = (p["TriggerName"], p["Type"], p.get("Qualifier", "$LATEST"))
        for trigger in function.triggers:
            if (trigger["TriggerName"], trigger["Type"], trigger["Qualifier"]) == wanted:
                return trigger
        raise ApiError("ResourceNotFound.Trigger", f"no {wanted[1]} trigger {wanted[0]} on {wanted[2]}")

    def _scf_UpdateTrigger(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._changeable(p)
        if p["Type"] not in ("timer", "ckafka", "http"):
            raise ApiError("InvalidParameterValue.Type", "only timer, ckafka and http triggers are updated")
        trigger = self._trigger(function, p)
        if "TriggerDesc" in p and isinstance(trigger["Desc"], dict):
            # "不传值表示原值不变": the keys given replace theirs, the others stay.
            trigger["Desc"] = {**trigger["Desc"], **json.loads(p["TriggerDesc"] or "{}")}
        elif "TriggerDesc" in p:
            trigger["Desc"] = p["TriggerDesc"]
        if "Enable" in p:
            trigger["Enable"] = 0 if p["Enable"] == "CLOSE" else 1
        return {}

    def _scf_DeleteTrigger(self, p: dict[str, Any]) -> dict[str, Any]:
        function = self._function(p)
        trigger = self._trigger(function, p)
        function.triggers.remove(trigger)
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


def _trigger_answer(trigger: dict[str, Any], kind: str) -> dict[str, Any]:
    """One trigger as ListTriggers (TriggerInfo) or GetFunction (Trigger) answers it, after the published example."""
    desc = trigger["Desc"]
    if trigger["Type"] == "ckafka":
        desc = {key: str(value) for key, value in desc.items()}  # the documents type every value a String
    answer = {
        "TriggerName": trigger["TriggerName"],
        "Type": trigger["Type"],
        "TriggerDesc": desc if isinstance(desc, str) else json.dumps(desc, separators=(",", ":")),
        "Qualifier": trigger["Qualifier"],
        "Enable": trigger["Enable"],
        "AvailableStatus": "Available",
        "CustomArgument": "",
        "Description": trigger["Description"],
        "AddTime": "2026-01-01 00:00:00",
        "ModTime": "2026-01-01 00:00:00",
        "ResourceId": trigger["ResourceId"],
        "BindStatus": "on",
        "TriggerAttribute": "single",
    }
    return answer if kind == "TriggerInfo" else {key: value for key, value in answer.items() if key != "BoundResources"}

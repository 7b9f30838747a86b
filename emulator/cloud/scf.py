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
        return {"TotalCount": len(function.triggers), "Triggers": page(function.triggers, p)}

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

"""CLS's actions (a region's): logsets, topics, indexes, alarm notices, alarms and dashboards."""

from __future__ import annotations

import json
import uuid
from typing import Any

from emulator.cloud.state import (
    NO_ALARM,
    NO_DASHBOARD,
    NO_NOTICE,
    State,
    delete,
    modify,
    page,
)
from emulator.signing import ApiError


class Cls(State):
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
        return {"TotalCount": len(found), "Logsets": page(found, p)}

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
        return {"TotalCount": len(found), "Topics": page(found, p)}

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
        return {"TotalCount": len(found), "AlarmNotices": page(found, p)}

    def _cls_CreateAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        notice_id = self._id("notice")
        self._r.notices[notice_id] = {**p, "AlarmNoticeId": notice_id}
        return {"AlarmNoticeId": notice_id}

    def _cls_ModifyAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        return modify(self._r.notices, p, "AlarmNoticeId", NO_NOTICE)

    def _cls_DeleteAlarmNotice(self, p: dict[str, Any]) -> dict[str, Any]:
        return delete(self._r.notices, p, "AlarmNoticeId", NO_NOTICE)

    def _cls_DescribeAlarms(self, p: dict[str, Any]) -> dict[str, Any]:
        found = self._named(self._r.alarms, p, "alarmId")
        return {"TotalCount": len(found), "Alarms": page(found, p)}

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
        return modify(self._r.alarms, p, "AlarmId", NO_ALARM)

    def _cls_DeleteAlarm(self, p: dict[str, Any]) -> dict[str, Any]:
        return delete(self._r.alarms, p, "AlarmId", NO_ALARM)

    def _cls_DescribeDashboards(self, p: dict[str, Any]) -> dict[str, Any]:
        items = list(self._r.dashboards.values())
        for item_filter in p.get("Filters") or []:
            if item_filter["Key"] == "dashboardName":
                items = [item for item in items if any(v in item["DashboardName"] for v in item_filter["Values"])]
        # "Data": "" whatever was stored: what both published examples answer (the list does not carry it).
        answers = [{**item, "Data": ""} for item in items]
        return {"TotalCount": len(answers), "DashboardInfos": page(answers, p)}

    def _cls_CreateDashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        json.loads(p.get("Data") or "{}")  # the console stores it as a JSON string
        dashboard_id = self._id("dashboard")
        self._r.dashboards[dashboard_id] = {**p, "DashboardId": dashboard_id}
        return {"DashboardId": dashboard_id}

    def _cls_DeleteDashboard(self, p: dict[str, Any]) -> dict[str, Any]:
        return delete(self._r.dashboards, p, "DashboardId", NO_DASHBOARD)

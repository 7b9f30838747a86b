"""CLS: the function's own log topic, its index, the alarm notice, alarms and the dashboard."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tools.deploy.resources.base import (
    NEW,
    Context,
    Resource,
    cut,
    describe_target,
    index_fields,
    notice_view,
    same_json,
)

ALARM_LEVELS = {"warn": 0, "info": 1, "critical": 2}


class Logset(Resource):
    kind = "cls logset"

    def name(self, d: Context) -> str:
        return d.names.logset

    def read(self, d: Context) -> dict[str, Any] | None:
        name = self.name(d)
        filters = [{"Key": "logsetName", "Values": [name]}]
        matches = list(d.each("cls", "DescribeLogsets", {"Filters": filters}, "Logsets"))
        matches = [dict(item) for item in matches if item.get("LogsetName") == name]
        # Logset names need not be unique: the stack's own one, if there is one, else any (then left alone).
        owned = [item for item in matches if d.owns(self, item)]
        found = (owned or matches)[0] if matches else None
        if found is not None and owned:
            d.ids["logset"] = str(found["LogsetId"])
        return found

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return str(found.get("LogsetId")) in d.referenced

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.ids["logset"] = str(found["LogsetId"])
            d.plan.say("keep", self.label(d))
            return
        created = d.change("cls", "CreateLogset", {"LogsetName": self.name(d), "Tags": d.tags()})
        d.ids["logset"] = str(created.get("LogsetId", NEW))
        d.plan.say("create", self.label(d))

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        others = [
            topic
            for topic in d.each(
                "cls", "DescribeTopics", {"Filters": [{"Key": "logsetId", "Values": [found["LogsetId"]]}]}, "Topics"
            )
            if topic.get("TopicName") != d.names.topic or not d.deleted_topic
        ]
        if others:
            d.plan.say("leave", self.label(d), f"it holds {len(others)} other topic(s)")
            return
        d.change("cls", "DeleteLogset", {"LogsetId": found["LogsetId"]})
        d.plan.say("delete", self.label(d))


class Topic(Resource):
    kind = "cls topic"

    def name(self, d: Context) -> str:
        return d.names.topic

    def read(self, d: Context) -> dict[str, Any] | None:
        logset = d.ids.get("logset")
        if logset is None or logset == NEW:
            return None
        filters = [{"Key": "topicName", "Values": [self.name(d)]}, {"Key": "logsetId", "Values": [logset]}]
        return d.named("cls", "DescribeTopics", {"Filters": filters}, "Topics", "TopicName", self.name(d))

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return str(found.get("TopicId")) in d.referenced

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        if found is not None:
            d.ids["topic"] = str(found["TopicId"])
            d.plan.say("keep", self.label(d))
            return
        params = {"LogsetId": d.ids.get("logset", NEW), "TopicName": self.name(d), "Period": 30, "Tags": d.tags()}
        created = d.change("cls", "CreateTopic", params)
        d.ids["topic"] = str(created.get("TopicId", NEW))
        d.plan.say("create", self.label(d), "30 days")

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteTopic", {"TopicId": found["TopicId"]})
        d.deleted_topic = True
        d.plan.say("delete", self.label(d), "and its logs")


class Index(Resource):
    kind = "cls index"
    goes_with = "its topic"

    def name(self, d: Context) -> str:
        return f"of {d.names.topic}"

    def read(self, d: Context) -> dict[str, Any] | None:
        topic = d.ids.get("topic")
        if topic is None or topic == NEW:
            return None
        current = d.read("cls", "DescribeIndex", {"TopicId": topic})
        if not current or not current.get("Rule"):
            return None
        return {**current, "Tags": d.tags()}  # the index of an owned topic

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        rule = d.index_rule()
        fields = f"{len(rule['KeyValue']['KeyValues'])} key-value fields"
        topic = d.ids.get("topic", NEW)
        if found is None:
            d.change("cls", "CreateIndex", {"TopicId": topic, "Rule": rule, "Status": True})
            d.plan.say("create", self.label(d), fields)
        elif same_json(index_fields(found["Rule"]), index_fields(rule)):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cls", "ModifyIndex", {"TopicId": topic, "Rule": rule, "Status": True})
            d.plan.say("update", self.label(d), f"{fields} (applies to lines written from now on)")


class ClsNotice(Resource):
    kind = "cls alarm notice"

    def name(self, d: Context) -> str:
        return d.names.notice

    def read(self, d: Context) -> dict[str, Any] | None:
        filters = [{"Key": "name", "Values": [self.name(d)]}]
        return d.named("cls", "DescribeAlarmNotices", {"Filters": filters}, "AlarmNotices", "Name", self.name(d))

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return str(found.get("AlarmNoticeId")) in d.referenced

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        target = d.desired.notice_target()
        if target is None:
            if found is not None:
                d.ids["cls_notice"] = str(found["AlarmNoticeId"])
                d.plan.say("keep", self.label(d), "no target in this shell or stack file: its receivers are kept")
            return
        notice: dict[str, Any] = {"Name": self.name(d), "Type": "All"}
        receivers = [
            {
                "ReceiverType": kind,
                "ReceiverIds": [int(item) for item in ids],
                "ReceiverChannels": ["Email", "Sms"],
                # "允许接收信息的开始时间。格式：`15:04:05`。必填" (NoticeReceiver.StartTime; EndTime alike): all day.
                "StartTime": "00:00:00",
                "EndTime": "23:59:59",
            }
            for kind, ids in (("Uin", target["uins"]), ("Group", target["groups"]))
            if ids
        ]
        if receivers:
            notice["NoticeReceivers"] = receivers
        if target["webhook"]:
            callback = {"CallbackType": target["webhook_type"], "Url": target["webhook"]}
            # Method: "参数CallbackType为Http时为必选，其它回调方式无需填写" (WebCallback.Method).
            notice["WebCallbacks"] = [{**callback, "Method": "POST"} if target["webhook_type"] == "Http" else callback]
        if found is None:
            created = d.change("cls", "CreateAlarmNotice", {**notice, "Tags": d.tags()})
            d.ids["cls_notice"] = str(created.get("AlarmNoticeId", NEW))
            d.plan.say("create", self.label(d), describe_target(target))
            return
        d.ids["cls_notice"] = str(found["AlarmNoticeId"])
        if same_json(notice_view(found), notice_view(notice)):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cls", "ModifyAlarmNotice", {**notice, "AlarmNoticeId": found["AlarmNoticeId"]})
            d.plan.say("update", self.label(d), describe_target(target))

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteAlarmNotice", {"AlarmNoticeId": found["AlarmNoticeId"]})
        d.plan.say("delete", self.label(d))


class ClsAlarm(Resource):
    kind = "cls alarm"

    def __init__(self, alarm: Mapping[str, Any]) -> None:
        self.alarm = alarm

    def name(self, d: Context) -> str:
        return d.names.alarm_prefix + str(self.alarm["name"])

    def label(self, d: Context) -> str:
        return f"{self.kind} {self.name(d)!r}"

    def read(self, d: Context) -> dict[str, Any] | None:
        return d.cls_alarms().get(self.name(d))

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        owned = any(str(target.get("TopicId")) in d.referenced for target in found.get("AlarmTargets") or [])
        if owned:
            d.referenced.update(str(notice) for notice in found.get("AlarmNoticeIds") or [])
        return owned

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        alarm = self.alarm
        wanted: dict[str, Any] = {
            "Name": self.name(d),
            "AlarmTargets": [
                {
                    "TopicId": d.ids.get("topic", NEW),
                    "LogsetId": d.ids.get("logset", NEW),
                    "Query": alarm["query"],
                    "Number": 1,
                    "StartTimeOffset": -int(alarm["window_minutes"]),
                    "EndTimeOffset": 0,
                    "SyntaxRule": 1,
                }
            ],
            "MonitorTime": {"Type": "Period", "Time": int(alarm["every_minutes"])},
            "Condition": alarm["condition"],
            "AlarmLevel": ALARM_LEVELS[alarm["level"]],
            "TriggerCount": int(alarm["trigger_count"]),
            "AlarmPeriod": int(alarm["repeat_minutes"]),
            "Status": True,
            "MessageTemplate": alarm["runbook"],
        }
        notice = d.ids.get("cls_notice")
        if notice is not None:
            wanted["AlarmNoticeIds"] = [notice]
        if found is None:
            d.change("cls", "CreateAlarm", {**wanted, "Tags": d.tags()})
            d.plan.say("create", self.label(d), alarm["condition"])
        elif same_json(alarm_view(found, wanted), wanted):
            d.plan.say("keep", self.label(d))
        else:
            d.change("cls", "ModifyAlarm", {**wanted, "AlarmId": found["AlarmId"]})
            d.plan.say("update", self.label(d))

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteAlarm", {"AlarmId": found["AlarmId"]})
        d.plan.say("delete", self.label(d))


class Dashboard(Resource):
    kind = "cls dashboard"

    def name(self, d: Context) -> str:
        return d.names.dashboard(str(d.board()["name"]))

    def read(self, d: Context) -> dict[str, Any] | None:
        filters = [{"Key": "dashboardName", "Values": [self.name(d)]}]
        return d.named(
            "cls", "DescribeDashboards", {"Filters": filters}, "DashboardInfos", "DashboardName", self.name(d)
        )

    def legacy(self, d: Context, found: Mapping[str, Any]) -> bool:
        return any(topic in str(found.get("Data") or "") for topic in d.referenced)

    def data(self, d: Context) -> str:
        board = d.board()
        charts = [
            {
                "title": chart["title"],
                "type": chart["type"],
                "query": chart["query"],
                "topicId": d.ids.get("topic", NEW),
            }
            for chart in board["charts"]
        ]
        return json.dumps(
            {"version": 1, "region": d.desired.region, "charts": charts}, separators=(",", ":"), sort_keys=True
        )

    def ensure(self, d: Context, found: dict[str, Any] | None) -> None:
        if found is not None:
            # DescribeDashboards answers "Data": "" (its published examples): what a dashboard shows cannot be read
            # back, so it is made once and left as found; delete it in the console for the tool to make it afresh.
            d.plan.say("keep", self.label(d), "made once; its charts are not read back")
            return
        d.change("cls", "CreateDashboard", {"DashboardName": self.name(d), "Data": self.data(d), "Tags": d.tags()})
        d.plan.say("create", self.label(d), f"{len(d.board()['charts'])} charts")

    def delete(self, d: Context, found: dict[str, Any]) -> None:
        d.change("cls", "DeleteDashboard", {"DashboardId": found["DashboardId"]})
        d.plan.say("delete", self.label(d))


def alarm_view(found: Mapping[str, Any], wanted: Mapping[str, Any]) -> Any:
    """An alarm as the API answers it, cut to what the tool sets: the answer's targets also carry the topic's and
    logset's names and a BizType, which the tool never sends."""
    return cut(dict(found), dict(wanted))

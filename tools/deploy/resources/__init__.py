"""Every resource `make deploy` manages, declared once: how to read it, create or update it, and delete it.

`make deploy` walks `resources()` forward and `make destroy` walks it backward; ownership is decided in one
place (`Deployer.owns` in tools/deploy/plan.py, from the tags each resource is created with). Adding a
resource is one class in its service's module: its `read` (a paged lookup by the stack's name), `ensure`
(create, update or keep, saying which in the plan), `delete`, and the ids it hands to the resources after
it (`d.ids`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tools.deploy.resources.base import Context, Resource
from tools.deploy.resources.cam import Attachment, Policy, Role
from tools.deploy.resources.cls import ClsAlarm, ClsNotice, Dashboard, Index, Logset, Topic
from tools.deploy.resources.monitor import MonitorAlarm, MonitorNotice
from tools.deploy.resources.scf import AsyncRetries, CkafkaTrigger, Function, HttpTrigger, ReservedConcurrency

__all__ = [
    "AsyncRetries",
    "Attachment",
    "CkafkaTrigger",
    "ClsAlarm",
    "ClsNotice",
    "Context",
    "Dashboard",
    "Function",
    "HttpTrigger",
    "Index",
    "Logset",
    "MonitorAlarm",
    "MonitorNotice",
    "Policy",
    "ReservedConcurrency",
    "Resource",
    "Role",
    "Topic",
    "resources",
]


def resources(ckafka: Sequence[Mapping[str, Any]], cls_alarms: list[Any], monitor_alarms: list[Any]) -> list[Resource]:
    """The stack, in the order apply creates it (destroy walks it backward)."""
    return [
        Role(),
        Policy(),
        Attachment(),
        Logset(),
        Topic(),
        Index(),
        Function(),
        HttpTrigger(),
        *(CkafkaTrigger(kafka) for kafka in ckafka),
        AsyncRetries(),
        ReservedConcurrency(),
        ClsNotice(),
        *(ClsAlarm(alarm) for alarm in cls_alarms),
        Dashboard(),
        MonitorNotice(),
        *(MonitorAlarm(alarm) for alarm in monitor_alarms),
    ]

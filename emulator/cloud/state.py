"""The stand-in's state: the account's (CAM, Cloud Monitor) and each region's (SCF, CLS), and what every
service's actions share (paging, ids, the region a request is for)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from emulator.signing import ApiError

DEFAULT_REGION = "ap-guangzhou"
# The regions this stand-in serves SCF in (a subset of the real list).
SCF_REGIONS = ("ap-guangzhou", "ap-shanghai", "ap-beijing", "ap-chengdu", "ap-hongkong", "ap-singapore")
PAGE_LIMIT = 20


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
class FunctionState:
    config: dict[str, Any]
    status: str = "Creating"
    reads_until_active: int = 0
    triggers: list[dict[str, Any]] = field(default_factory=list)
    reserved_mem: int | None = None
    async_config: dict[str, Any] | None = None


class RegionState:
    """What one region holds: SCF functions, CLS logsets, topics, indexes, notices, alarms and dashboards."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], FunctionState] = {}
        self.logsets: dict[str, dict[str, Any]] = {}
        self.topics: dict[str, dict[str, Any]] = {}
        self.indexes: dict[str, dict[str, Any]] = {}
        self.notices: dict[str, dict[str, Any]] = {}
        self.alarms: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}


def page(items: list[dict[str, Any]], p: dict[str, Any]) -> list[dict[str, Any]]:
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


class State:
    """What every service's actions read and change. `_r` is the region of the request being answered."""

    def __init__(self, reads_until_active: int) -> None:
        self.reads_until_active = reads_until_active
        self._ids = itertools.count(1)
        # CAM and Cloud Monitor belong to the account; SCF and CLS to a region
        self.roles: dict[str, dict[str, Any]] = {}
        self.policies: dict[int, dict[str, Any]] = {}
        self.attachments: set[tuple[str, int]] = set()
        self.monitor_notices: dict[str, dict[str, Any]] = {}
        self.monitor_policies: dict[str, dict[str, Any]] = {}
        self.regions: dict[str, RegionState] = {}
        self._r = self.region(DEFAULT_REGION)

    def region(self, name: str) -> RegionState:
        return self.regions.setdefault(name, RegionState())

    def _id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):08x}"

    def _region_name(self) -> str:
        return next((name for name, state in self.regions.items() if state is self._r), DEFAULT_REGION)


# CLS's answers for an unknown id: (code, message).
NO_NOTICE = ("ResourceNotFound.AlarmNoticeNotExist", "no such notice")
NO_ALARM = ("ResourceNotFound.AlarmNotExist", "no such alarm")
NO_DASHBOARD = ("ResourceNotFound.DashboardNotExist", "no such dashboard")


def modify(
    store: dict[str, dict[str, Any]], p: dict[str, Any], id_key: str, missing: tuple[str, str]
) -> dict[str, Any]:
    """CLS's Modify* for a stored resource: the given fields replace the stored ones; an unknown id is `missing`."""
    if p[id_key] not in store:
        raise ApiError(*missing)
    store[p[id_key]].update(p)
    return {}


def delete(
    store: dict[str, dict[str, Any]], p: dict[str, Any], id_key: str, missing: tuple[str, str]
) -> dict[str, Any]:
    """CLS's Delete* for a stored resource; an unknown id is `missing`."""
    if store.pop(p[id_key], None) is None:
        raise ApiError(*missing)
    return {}

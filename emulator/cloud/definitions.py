"""Tencent's own definitions, the one judge of every request the stand-in receives and every answer it gives.

`api/<service>.json` is tccli's `api.json` and `examples.json` for the actions `make deploy` calls
(emulator/cloud/extract.py). From it, `check_request` refuses, as the real API would:

- an action the service lacks (`InvalidAction`);
- a member the input object does not name, at any depth (`UnknownParameter`);
- a value of the wrong type (`InvalidParameter`), a required member missing (`MissingParameter`).

`LIMITS` adds what the members' documents say in words (lengths, characters, enumerations, ranges, members a
document calls required), each rule with the document text it comes from; tests/tools/test_api_definitions.py
fails when a cited text no longer appears in the definitions. `check_answer` lists what is wrong with one of
the stand-in's own answers: a member the output object lacks, a type, or a member the object names missing
(a defect of the stand-in, never of the caller).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from emulator.signing import ApiError

API = Path(__file__).resolve().parent / "api"
SERVICES = ("scf", "cam", "cls", "monitor", "region")


@cache
def definitions(service: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((API / f"{service}.json").read_text(encoding="utf-8"))
    return data


def version(service: str) -> str:
    return str(definitions(service)["version"])


def has_action(service: str, action: str) -> bool:
    return action in definitions(service)["actions"]


def member(service: str, obj: str, name: str) -> dict[str, Any]:
    """One member of an object, as the definitions give it (tests read its document text)."""
    return next(item for item in definitions(service)["objects"][obj]["members"] if item["name"] == name)


# ---- the documented limits, each citing its text ------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """A rule a member's document states in words: `check(value)` is the problem, or None.

    `service` / `obj` / `name` name the member (in every action whose input reaches `obj`); `cited` is a piece of
    its document in `api.json` (or of a published example), word for word; `absent` is the problem when the
    member is missing (a document that says "必填" of a member the model marks optional), else None."""

    service: str
    obj: str
    name: str
    cited: str
    check: Callable[[Any], str | None]
    absent: str | None = None


def _at_most(limit: int, unit: str = "characters") -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        size = len(value.encode()) if unit == "bytes" else len(value)
        return f"{size} {unit}, over {limit}" if size > limit else None

    return check


def _chars(pattern: str, allowed: str, limit: int | None = None) -> Callable[[Any], str | None]:
    compiled = re.compile(pattern)

    def check(value: Any) -> str | None:
        if limit is not None and len(value) > limit:
            return f"{len(value)} characters, over {limit}"
        wrong = sorted({char for char in value if not compiled.fullmatch(char)})
        return f"characters {''.join(wrong)!r} are not allowed (only {allowed})" if wrong else None

    return check


def _one_of(*allowed: Any) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        values = value if isinstance(value, list) else [value]
        wrong = [item for item in values if item not in allowed]
        return f"{wrong[0]!r} is not one of {', '.join(map(str, allowed))}" if wrong else None

    return check


def _between(low: int, high: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"{value} is outside {low}..{high}"

    return check


def _pattern(pattern: str, shown: str) -> Callable[[Any], str | None]:
    compiled = re.compile(pattern)
    return lambda value: None if compiled.fullmatch(value) else f"{value!r} is not {shown}"


def _absent(why: str) -> Callable[[Any], str | None]:
    return lambda value: why


_CHINESE = "\u4e00-\u9fff"
# Cloud Monitor's short region names (the BindingPolicyObject example's "gz"; Cloud Monitor's region list, 248/50863).
MONITOR_REGIONS = ("gz", "sh", "bj", "cd", "cq", "nj", "hk", "sg", "th", "jkt", "sao", "de", "kr", "jp", "in", "usw")

# SCF's memory sizes, as both CreateFunction's and UpdateFunctionConfiguration's documents give them.
_MEMORY_SIZES = _one_of(64, *range(128, 3073, 128))

LIMITS: tuple[Limit, ...] = (
    # ---- SCF
    Limit(
        "scf",
        "CreateFunctionRequest",
        "FunctionName",
        "名称长度2-60",
        _pattern(r"[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]", "2-60 letters, digits, - and _, from a letter"),
    ),
    Limit(
        "scf",
        "CreateFunctionRequest",
        "Description",
        "最大支持 1000 个英文字母、数字、空格、逗号、换行符和英文句号，支持中文",
        _chars(rf"[A-Za-z0-9 ,.\n{_CHINESE}]", "letters, digits, spaces, commas, newlines, periods, Chinese", 1000),
    ),
    Limit(
        "scf",
        "UpdateFunctionConfigurationRequest",
        "Description",
        "最大支持 1000 个英文字母、数字、空格、逗号和英文句号，支持中文",
        _chars(rf"[A-Za-z0-9 ,.{_CHINESE}]", "letters, digits, spaces, commas, periods, Chinese", 1000),
    ),
    Limit(
        "scf",
        "UpdateFunctionConfigurationRequest",
        "Runtime",
        "创建时指定，目前不支持修改",
        _absent("the runtime is set when the function is created and cannot be changed"),
    ),
    Limit("scf", "CreateFunctionRequest", "Runtime", "- Python3.10", _one_of("Python3.10", "Python3.9", "Python3.7")),
    Limit(
        "scf",
        "CreateFunctionRequest",
        "MemorySize",
        "可选范围 64、128MB-3072MB，并且以 128MB 为阶梯",
        _MEMORY_SIZES,
    ),
    Limit("scf", "CreateFunctionRequest", "Timeout", "可选值范围 1-900 秒", _between(1, 900)),
    Limit(
        "scf",
        "UpdateFunctionConfigurationRequest",
        "MemorySize",
        "可选范64M、128 M-3072 M，以 128MB 为阶梯",
        _MEMORY_SIZES,
    ),
    Limit("scf", "UpdateFunctionConfigurationRequest", "Timeout", "可选值范 1-900 秒", _between(1, 900)),
    Limit("scf", "Variable", "Key", "变量的名称，不可为空字符", _pattern(r".+", "a name (not empty)")),
    Limit("scf", "Variable", "Value", "变量的值，不可为空字符", _pattern(r"(?s).+", "a value (not empty)")),
    Limit("scf", "CreateTriggerRequest", "Enable", "OPEN表示开启 CLOSE表示关闭", _one_of("OPEN", "CLOSE")),
    Limit("scf", "UpdateTriggerRequest", "Enable", "传参为OPEN为开启，CLOSE为关闭", _one_of("OPEN", "CLOSE")),
    # ---- CAM
    Limit("cam", "CreateRoleRequest", "RoleName", "长度为1~128个字符", _at_most(128)),
    Limit("cam", "CreatePolicyRequest", "PolicyName", "长度为1~128个字符", _at_most(128)),
    Limit("cam", "ListAttachedRolePoliciesRequest", "Rp", "每页行数，不能大于200", _between(1, 200)),
    Limit("cam", "ListPoliciesRequest", "Page", "不能大于 200", _between(1, 200)),
    Limit("cam", "ListPoliciesRequest", "Scope", "&#39;Local&#39; 只获取自定义策略", _one_of("All", "QCS", "Local")),
    # ---- CLS
    Limit("cls", "CreateLogsetRequest", "LogsetName", "最大支持255个字符", _at_most(255)),
    Limit("cls", "CreateTopicRequest", "TopicName", "不能包含字符&#39;|&#39;", _chars(r"[^|]", "anything but |")),
    Limit(
        "cls", "CreateTopicRequest", "Period", "支持1至3600天，值为3640时代表永久保存", _one_of(*range(1, 3601), 3640)
    ),
    Limit("cls", "CreateAlarmRequest", "Name", "最大支持255个字节。 不支持 &#39;|&#39;", _at_most(255, "bytes")),
    Limit("cls", "CreateAlarmRequest", "AlarmPeriod", "取值范围是0~1440", _between(0, 1440)),
    Limit("cls", "CreateAlarmRequest", "TriggerCount", "最小值为1，最大值为2000", _between(1, 2000)),
    Limit("cls", "AlarmTarget", "StartTimeOffset", "最大值为0，最小值为-1440", _between(-1440, 0)),
    Limit("cls", "AlarmTarget", "EndTimeOffset", "最大值为0，最小值为-1440", _between(-1440, 0)),
    Limit("cls", "MonitorTime", "Time", "取值范围为1~1440", _between(1, 1440)),
    Limit(
        "cls",
        "KeyValueInfo",
        "Key",
        "仅支持字母、数字、下划线和-./@，且不能以下划线开头",
        _pattern(r"[A-Za-z0-9\-./@][A-Za-z0-9_\-./@]*", "letters, digits and _-./@, not from an underscore"),
    ),
    Limit("cls", "DescribeLogsetsRequest", "Limit", "默认值为20，最大值100", _between(1, 100)),
    Limit("cls", "DescribeTopicsRequest", "Limit", "默认值为20，最大值100", _between(1, 100)),
    Limit("cls", "DescribeAlarmsRequest", "Limit", "默认值为20，最大值100", _between(1, 100)),
    Limit("cls", "DescribeAlarmNoticesRequest", "Limit", "默认值为20，最大值100", _between(1, 100)),
    Limit("cls", "DescribeDashboardsRequest", "Limit", "默认值为20，最大值100", _between(1, 100)),
    Limit("cls", "CreateAlarmNoticeRequest", "Name", "最大支持255个字节。 不支持 &#39;|&#39;", _at_most(255, "bytes")),
    Limit("cls", "CreateAlarmNoticeRequest", "Type", "Trigger - 告警触发", _one_of("Trigger", "Recovery", "All")),
    Limit("cls", "NoticeReceiver", "ReceiverType", "Group - 用户组ID", _one_of("Uin", "Group")),
    Limit("cls", "NoticeReceiver", "ReceiverChannels", "Sms - 短信", _one_of("Email", "Sms", "WeChat", "Phone")),
    Limit(
        "cls",
        "NoticeReceiver",
        "StartTime",
        "允许接收信息的开始时间。格式：`15:04:05`。必填",
        _pattern(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d", "a time of day as 15:04:05"),
        absent="StartTime is required (its document says 必填)",
    ),
    Limit(
        "cls",
        "NoticeReceiver",
        "EndTime",
        "允许接收信息的结束时间。格式：`15:04:05`。必填",
        _pattern(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d", "a time of day as 15:04:05"),
        absent="EndTime is required (its document says 必填)",
    ),
    Limit("cls", "WebCallback", "CallbackType", "Lark(飞书)", _one_of("Http", "WeCom", "DingTalk", "Lark")),
    Limit("cls", "WebCallback", "Url", "回调地址，最大支持1024个字节", _at_most(1024, "bytes")),
    Limit("cls", "WebCallback", "Method", "参数CallbackType为Http时为必选", _one_of("POST", "PUT")),
    Limit(
        "cls",
        "CreateAlarmRequest",
        "AlarmLevel",
        "0:警告(Warn); 1:提醒(Info); 2:紧急 (Critical)",
        _one_of(0, 1, 2),
    ),
    # ---- Cloud Monitor
    Limit(
        "monitor",
        "CreateAlarmPolicyRequest",
        "PolicyName",
        "策略名称，不超过60字符",
        _at_most(60),
    ),
    Limit(
        "monitor",
        "CreateAlarmPolicyRequest",
        "Remark",
        "备注，不超过100字符，仅支持中英文、数字、下划线、-",
        _chars(rf"[A-Za-z0-9_{_CHINESE}-]", "letters, digits, _, - and Chinese", 100),
    ),
    Limit("monitor", "CreateAlarmPolicyRequest", "Module", "固定值，为&quot;monitor&quot;", _one_of("monitor")),
    Limit("monitor", "CreateAlarmPolicyRequest", "MonitorType", "MT_QCE=云产品监控", _one_of("MT_QCE")),
    Limit("monitor", "CreateAlarmPolicyRequest", "Enable", "是否启用 0=停用 1=启用", _one_of(0, 1)),
    Limit("monitor", "CreateAlarmNoticeRequest", "Name", "通知模板名称 60字符以内", _at_most(60)),
    Limit(
        "monitor",
        "CreateAlarmNoticeRequest",
        "NoticeType",
        "ALARM=未恢复通知 OK=已恢复通知 ALL=都通知",
        _one_of("ALARM", "OK", "ALL"),
    ),
    Limit("monitor", "CreateAlarmNoticeRequest", "NoticeLanguage", "zh-CN=中文 en-US=英文", _one_of("zh-CN", "en-US")),
    Limit("monitor", "ModifyAlarmNoticeRequest", "Name", "告警通知规则名称 60字符以内", _at_most(60)),
    Limit("monitor", "ModifyAlarmPolicyInfoRequest", "Key", "NAME=策略名称 REMARK=策略备注", _one_of("NAME", "REMARK")),
    Limit("monitor", "DescribeAlarmPoliciesRequest", "PageSize", "每页的数量，取值1~100", _between(1, 100)),
    Limit(
        "monitor",
        "CreateAlarmNoticeRequest",
        "UserNotices",
        "用户通知 最多5个",
        lambda value: None if len(value) <= 5 else f"{len(value)}, over 5",
    ),
    Limit("monitor", "UserNotice", "ReceiverType", "接收者类型 USER=用户 GROUP=用户组", _one_of("USER", "GROUP")),
    Limit("monitor", "UserNotice", "StartTime", "（取值范围0-86399）", _between(0, 86399)),
    Limit("monitor", "UserNotice", "EndTime", "（取值范围0-86399）", _between(0, 86399)),
    Limit(
        "monitor",
        "UserNotice",
        "NoticeWay",
        "EMAIL=邮件 SMS=短信 CALL=电话 WECHAT=微信 RTX=企业微信",
        _one_of("EMAIL", "SMS", "CALL", "WECHAT", "RTX"),
    ),
    Limit("monitor", "URLNotice", "URL", "回调 url（限长256字符）", _at_most(256)),
    Limit(
        "monitor",
        "ModifyAlarmPolicyConditionRequest",
        "NoticeIds",
        "模板id，专供prom使用",
        _absent("NoticeIds here is for Prometheus policies only: bind notices with ModifyAlarmPolicyNotice"),
    ),
    Limit(
        "monitor",
        "BindingPolicyObjectDimension",
        "Region",
        '"Region": "gz"',
        _one_of(*MONITOR_REGIONS),
    ),
)


def examples_text(service: str) -> str:
    """Every published example of the service, as text (a limit may cite one: the "gz" of BindingPolicyObject)."""
    return "\n".join(
        f"{example.get('input', '')}\n{example.get('output', '')}"
        for examples in definitions(service)["examples"].values()
        for example in examples
    )


# ---- checking ---------------------------------------------------------------------------------------

_PRIMITIVES = {"string", "datetime", "int64", "uint64", "int", "bool", "float", "binary"}


def _type_problem(kind: str, value: Any) -> str | None:
    if kind in ("string", "datetime", "binary"):
        return None if isinstance(value, str) else "a string"
    if kind in ("int64", "uint64", "int"):
        if isinstance(value, bool) or not isinstance(value, int):
            return "an integer"
        return "a non-negative integer" if kind == "uint64" and value < 0 else None
    if kind == "bool":
        return None if isinstance(value, bool) else "true or false"
    if kind == "float":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    return None


def _value(service: str, item: dict[str, Any], value: Any, path: str, answer: bool, problems: list[str]) -> None:
    kind, inner = item["type"], item["member"]
    if value is None:
        if not (answer and item.get("value_allowed_null")):
            problems.append(f"{path}: null")
        return
    if kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: must be a list")
            return
        for index, element in enumerate(value):
            _value(service, {**item, "type": "object" if inner not in _PRIMITIVES else inner}, element,
                   f"{path}.{index}", answer, problems)  # fmt: skip
        return
    if kind == "object":
        if not isinstance(value, dict):
            problems.append(f"{path}: must be an object")
            return
        _object(service, inner, value, path + ".", answer, problems)
        return
    wanted = _type_problem(inner if inner in _PRIMITIVES else kind, value)
    if wanted:
        problems.append(f"{path}: must be {wanted}, not {json.dumps(value)[:40]}")


def _object(service: str, obj: str, data: dict[str, Any], prefix: str, answer: bool, problems: list[str]) -> None:
    members = {item["name"]: item for item in definitions(service)["objects"][obj]["members"]}
    for name in data:
        if name not in members:
            problems.append(f"{prefix}{name}: unknown")
    for name, item in members.items():
        path = prefix + name
        if name == "RequestId" and answer and not prefix:
            continue
        if name not in data:
            needed = (not prefix or item.get("output_required")) if answer else item.get("required")
            if needed:
                problems.append(f"{path}: missing")
            elif not answer:
                problems.extend(
                    f"{path}: {limit.absent}"
                    for limit in LIMITS
                    if (limit.service, limit.obj, limit.name) == (service, obj, name) and limit.absent
                )
            continue
        before = len(problems)
        _value(service, item, data[name], path, answer, problems)
        # A documented limit judges a value of the right type only (a wrong type is refused as such already).
        if not answer and data[name] is not None and len(problems) == before:
            for limit in LIMITS:
                if (limit.service, limit.obj, limit.name) == (service, obj, name):
                    problem = limit.check(data[name])
                    if problem:
                        problems.append(f"{path}: {problem} ({limit.cited})")


def check_request(service: str, action: str, params: dict[str, Any]) -> None:
    """Raise ApiError as the real API would, for the first thing wrong with this request."""
    if not has_action(service, action):
        raise ApiError("InvalidAction", f"{service} has no action {action}")
    problems: list[str] = []
    _object(service, definitions(service)["actions"][action]["input"], params, "", False, problems)
    if not problems:
        return
    first = problems[0]
    if first.endswith(": unknown"):
        raise ApiError("UnknownParameter", f"{action}: the parameter `{first.split(':')[0]}` is not recognized")
    if first.endswith(": missing"):
        raise ApiError("MissingParameter", f"{action}: the request is missing `{first.split(':')[0]}`")
    raise ApiError("InvalidParameterValue", f"{action}: {first}")


def _blank(service: str, item: dict[str, Any], depth: int) -> Any:
    kind, inner = item["type"], item["member"]
    if kind == "list":
        return []
    if item.get("value_allowed_null") and kind in ("object", "int", "float", "bool"):
        return None
    if kind == "object":
        return _filled(service, inner, {}, depth + 1, everything=False)
    return {"string": "", "bool": False, "float": 0.0}.get(kind, 0)


def _filled(service: str, obj: str, data: dict[str, Any], depth: int, everything: bool) -> dict[str, Any]:
    """`data` with each member the object names that the real service always answers (every member at the top,
    the `output_required` ones inside) added, empty, where `data` lacks it; objects inside filled the same way."""
    if depth > 6:
        return data
    filled = dict(data)
    for item in definitions(service)["objects"][obj]["members"]:
        name = item["name"]
        if name == "RequestId":
            continue
        if name not in filled:
            if everything or item.get("output_required"):
                filled[name] = _blank(service, item, depth)
            continue
        value, inner = filled[name], item["member"]
        if item["type"] == "object" and isinstance(value, dict):
            filled[name] = _filled(service, inner, value, depth + 1, everything=False)
        elif item["type"] == "list" and inner not in _PRIMITIVES and isinstance(value, list):
            filled[name] = [
                _filled(service, inner, element, depth + 1, everything=False) if isinstance(element, dict) else element
                for element in value
            ]
    return filled


def complete(service: str, action: str, result: dict[str, Any]) -> dict[str, Any]:
    """An answer as the real service gives it: every member its output object names, the ones the stand-in's
    state has no value for empty of their type (the published examples answer "" or 0 or [] for what is unset).
    What the state does hold, and the extras the examples show inside strings (a trigger's description, an alarm
    target's names), each service's module sets itself."""
    return _filled(service, definitions(service)["actions"][action]["output"], result, 0, everything=True)


def examples(service: str, action: str) -> list[dict[str, Any]]:
    """The published examples' answers for an action (those whose text is JSON), without their RequestId."""
    found = []
    for example in definitions(service)["examples"].get(action) or []:
        try:
            answer = json.loads(example["output"])["Response"]
        except (ValueError, KeyError, TypeError):
            continue
        answer.pop("RequestId", None)
        found.append(answer)
    return found


def check_answer(service: str, action: str, result: dict[str, Any]) -> list[str]:
    """What is wrong with an answer the stand-in is about to give (empty when it is as the output object says)."""
    problems: list[str] = []
    _object(service, definitions(service)["actions"][action]["output"], result, "", True, problems)
    return problems

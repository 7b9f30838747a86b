"""The control-plane stand-in judges by Tencent's own definitions (tccli 3.1.189.1's api.json, vendored in
emulator/cloud/api/), and `make deploy` passes: every request of a deploy, a redeploy and a destroy of a stack with
every feature on, every answer complete, and a redeploy with nothing changed that changes nothing."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_doubles import EVERY_FEATURE, FIRST, MUTATING, InProcessCloud, plan_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.cloud import CloudStandIn, definitions, extract
from emulator.signing import ApiError
from tools.deploy import cli
from tools.deploy.cli import main as deploy_main


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    directory = tmp_path / "stacks"
    directory.mkdir()
    (directory / "full.env").write_text(EVERY_FEATURE)
    (directory / "hook.env").write_text("SMS_SDK_APP_ID=1400006666\nALARM_WEBHOOK=https://ops.example.com/alarm\n"
                                        "ALARM_WEBHOOK_TYPE=Http\n")  # fmt: skip
    return directory


def run(
    cloud: CloudStandIn, package: Path, stacks: Path, shell: dict[str, str], command: str = "apply", *flags: str
) -> str:
    out = io.StringIO()
    argv = [command, "--zip", str(package), *flags]
    status = deploy_main(argv, shell, out, cloud=InProcessCloud(cloud), stacks=stacks)
    assert status == 0, out.getvalue()
    return out.getvalue()


# ---- the definitions themselves -------------------------------------------------------------------


@pytest.mark.parametrize("limit", definitions.LIMITS, ids=lambda limit: f"{limit.service}-{limit.obj}-{limit.name}")
def test_each_documented_limit_cites_a_text_that_is_in_the_members_own_document(limit: definitions.Limit) -> None:
    document = definitions.member(limit.service, limit.obj, limit.name)["document"]
    assert limit.cited in document or limit.cited in definitions.examples_text(limit.service), (
        f"{limit.service} {limit.obj}.{limit.name}: {limit.cited!r} is not in its document: {document[:200]!r}"
    )


def test_the_vendored_definitions_hold_every_action_the_deploy_tool_sends() -> None:
    source = "".join(path.read_text() for path in sorted(Path(cli.__file__).parent.rglob("*.py")))
    called = set(re.findall(r'(?:self|d)\.(?:call|change|read|each|named)\(\s*"(\w+)",\s*"(\w+)"', source))
    called |= {("scf", action) for action in re.findall(r'read_action = "(\w+)"', source)}
    listed = {(service, action) for service, actions in extract.ACTIONS.items() for action in actions}
    assert called == listed
    for service, action in listed:
        assert definitions.has_action(service, action)


@pytest.mark.parametrize(
    ("service", "action", "params", "code", "words"),
    [
        ("scf", "GetFunktion", {"FunctionName": "f"}, "InvalidAction", "scf has no action GetFunktion"),
        ("scf", "DeleteTrigger", {"FunctionName": "fn", "Type": "http"}, "MissingParameter", "`TriggerName`"),
        ("scf", "GetFunction", {"FunctionName": "f", "Colour": "red"}, "UnknownParameter", "`Colour`"),
        ("scf", "PutReservedConcurrencyConfig", {"FunctionName": "f", "ReservedConcurrencyMem": "512"},
         "InvalidParameterValue", "ReservedConcurrencyMem: must be an integer"),
        ("cls", "CreateAlarmNotice", {"Name": "n", "NoticeReceivers": [{"ReceiverType": "Uin", "ReceiverIds": [1],
         "ReceiverChannels": ["Email"], "Colour": 1}]}, "UnknownParameter", "`NoticeReceivers.0.Colour`"),
        ("cls", "CreateAlarmNotice", {"Name": "n", "NoticeReceivers": [{"ReceiverType": "Uin", "ReceiverIds": [1],
         "ReceiverChannels": ["Email"]}]}, "InvalidParameterValue", "StartTime is required (its document says 必填)"),
        ("cls", "CreateAlarmNotice", {"Name": "n", "WebCallbacks": [{"CallbackType": "Slack", "Url": "u"}]},
         "InvalidParameterValue", "'Slack' is not one of Http, WeCom, DingTalk, Lark"),
        ("monitor", "CreateAlarmPolicy", {"Module": "monitor", "PolicyName": "p" * 61, "MonitorType": "MT_QCE",
         "Namespace": "scf_v2"}, "InvalidParameterValue", "61 characters, over 60"),
        ("monitor", "CreateAlarmPolicy", {"Module": "monitor", "PolicyName": "p", "MonitorType": "MT_QCE",
         "Namespace": "scf_v2", "Remark": "errors (see runbook)"}, "InvalidParameterValue", "are not allowed"),
        ("monitor", "ModifyAlarmPolicyCondition", {"Module": "monitor", "PolicyId": "policy-1", "NoticeIds": ["n"]},
         "InvalidParameterValue", "bind notices with ModifyAlarmPolicyNotice"),
        ("monitor", "BindingPolicyObject", {"Module": "monitor", "PolicyId": "policy-1",
         "Dimensions": [{"Region": "ap-guangzhou", "Dimensions": "{}"}]}, "InvalidParameterValue", "'ap-guangzhou'"),
        ("scf", "UpdateFunctionConfiguration", {"FunctionName": "f", "Runtime": "Python3.10"},
         "InvalidParameterValue", "cannot be changed"),
        ("scf", "UpdateFunctionConfiguration", {"FunctionName": "f", "Description": "one (managed; by: me)"},
         "InvalidParameterValue", "characters '():;' are not allowed"),
        ("scf", "CreateTrigger", {"FunctionName": "f", "TriggerName": "t", "Type": "ckafka", "Enable": "true"},
         "InvalidParameterValue", "'true' is not one of OPEN, CLOSE"),
    ],
    ids=["action", "required", "unknown", "type", "unknown-nested", "document-says-required", "enumeration",
         "length", "characters", "prom-only", "monitor-region", "runtime-fixed", "description", "enable"],
)  # fmt: skip
def test_the_stand_in_refuses_what_the_definitions_refuse(
    service: str, action: str, params: dict[str, Any], code: str, words: str
) -> None:
    with pytest.raises(ApiError) as caught:
        CloudStandIn().dispatch(service, action, params)
    assert caught.value.code == code
    assert words in caught.value.message


def test_a_trigger_is_found_on_the_qualifier_it_lives_on_not_on_the_default_latest(package: Path) -> None:
    cloud = CloudStandIn(reads_until_active=1)
    key = {"FunctionName": "fn", "Namespace": "default"}
    cloud.dispatch("scf", "CreateFunction", {**key, "Handler": "index.main", "Code": {"ZipFile": "UEsFBg=="}})
    cloud.dispatch("scf", "GetFunction", key)
    trigger = {**key, "TriggerName": "fn-url", "Type": "http", "TriggerDesc": '{"AuthType":"NONE"}'}
    cloud.dispatch("scf", "CreateTrigger", {**trigger, "Qualifier": "$DEFAULT"})
    deleting = {key: value for key, value in trigger.items() if key != "TriggerDesc"}
    with pytest.raises(ApiError) as caught:
        cloud.dispatch("scf", "DeleteTrigger", deleting)  # "默认值为 $LATEST"
    assert caught.value.code == "ResourceNotFound.Trigger"
    cloud.dispatch("scf", "DeleteTrigger", {**deleting, "Qualifier": "$DEFAULT"})


# ---- make deploy, judged -------------------------------------------------------------------------


def test_a_stack_with_every_feature_deploys_redeploys_without_a_change_and_destroys_whole(
    package: Path, stacks: Path
) -> None:
    cloud = CloudStandIn(reads_until_active=1)
    shell = {**FIRST, "STACK": "full"}
    first = run(cloud, package, stacks, shell)
    assert "create          scf CKafka trigger ckafka-abcd1234-verification-success" in first
    kafka = next(t for t in cloud.functions[("default", "report-conversion-full")].triggers if t["Type"] == "ckafka")
    assert (kafka["Qualifier"], kafka["Enable"]) == ("$DEFAULT", 1)
    [notice] = cloud.monitor_notices.values()
    assert notice["URLNotices"] == []  # a WeCom robot hears the CLS alarms only
    assert {tuple(user.get("UserIds") or user.get("GroupIds")) for user in notice["UserNotices"]} == {
        (100000000011, 100000000012),
        (20001,),
    }
    bindings = [binding["Region"] for policy in cloud.monitor_policies.values() for binding in policy["Bindings"]]
    assert set(bindings) == {"gz"}

    before = len(cloud.calls)
    again = run(cloud, package, stacks, shell)
    changed = [f"{call.service} {call.action}" for call in cloud.calls[before:] if MUTATING.match(call.action)]
    assert changed == [], again
    assert [line for line in again.splitlines() if re.match(r"\s+(create|update|delete) ", line)] == []

    before = len(cloud.calls)
    run(cloud, package, stacks, shell, command="destroy")
    deletes = [call.params for call in cloud.calls[before:] if call.action == "DeleteTrigger"]
    assert {(params["Type"], params["Qualifier"]) for params in deletes} == {
        ("http", "$DEFAULT"),
        ("ckafka", "$DEFAULT"),
    }
    assert cloud.functions == {}
    assert (cloud.roles, cloud.policies, cloud.monitor_policies, cloud.monitor_notices) == ({}, {}, {}, {})


def test_for_a_stack_with_every_feature_a_dry_run_and_the_real_run_agree_line_for_line(
    package: Path, stacks: Path
) -> None:
    """On an empty account, and again after the stack file changes (a receiver more, a larger CKafka batch)."""
    cloud = CloudStandIn(reads_until_active=1)
    shell = {**FIRST, "STACK": "full"}
    for change in ("", "ALARM_CAM_UINS=100000000011,100000000012,100000000013\nCKAFKA_MAX_MSG_NUM=800\n"):
        (stacks / "full.env").write_text(EVERY_FEATURE + change)
        before = len(cloud.calls)
        dry = run(cloud, package, stacks, shell, "apply", "--dry-run")
        assert [call.action for call in cloud.calls[before:] if MUTATING.match(call.action)] == []
        real = run(cloud, package, stacks, shell)
        assert plan_lines(dry) == plan_lines(real)
        assert any(line.startswith(("create", "update")) for line in plan_lines(real))


def test_a_generic_callback_reaches_cloud_monitor_and_a_change_of_receivers_updates_the_notice(
    package: Path, stacks: Path
) -> None:
    cloud = CloudStandIn(reads_until_active=1)
    run(cloud, package, stacks, {**FIRST, "STACK": "hook"})
    [notice] = cloud.monitor_notices.values()
    assert [url["URL"] for url in notice["URLNotices"]] == ["https://ops.example.com/alarm"]
    [cls_notice] = cloud.notices.values()
    assert cls_notice["WebCallbacks"] == [
        {"CallbackType": "Http", "Url": "https://ops.example.com/alarm", "Method": "POST"}
    ]
    (stacks / "hook.env").write_text("SMS_SDK_APP_ID=1400006666\nALARM_WEBHOOK=https://ops.example.com/alarm\n"
                                     "ALARM_WEBHOOK_TYPE=Http\nALARM_CAM_UINS=100000000011\n")  # fmt: skip
    before = len(cloud.calls)
    output = run(cloud, package, stacks, {**FIRST, "STACK": "hook"})
    assert "update          monitor notice report-conversion-hook-operators" in output
    assert "ModifyAlarmNotice" in cloud.actions(before)
    [notice] = cloud.monitor_notices.values()
    assert [user["UserIds"] for user in notice["UserNotices"]] == [[100000000011]]


def test_a_stack_deployed_by_the_tool_before_the_definitions_judged_it_is_brought_in_line_once(
    package: Path, stacks: Path
) -> None:
    """What the tool made before: a description with ( ) ; : -, a policy named past 60 characters with a runbook
    for a remark. The next deploy renames and rewrites them in place (nothing made twice), and the one after
    changes nothing."""
    cloud = CloudStandIn(reads_until_active=1)
    shell = {**FIRST, "STACK": "full"}
    run(cloud, package, stacks, shell)
    function = cloud.functions[("default", "report-conversion-full")]
    function.config["Description"] = (
        "Reports SMS verification-success events to SMS ReportConversion (managed by make deploy, stack full; "
        "package sha256:0123456789abcdef)"
    )
    [policy] = [p for p in cloud.monitor_policies.values() if p["PolicyName"].endswith("near-timeout")]
    policy["PolicyName"] = "report-conversion-full-duration-near-the-time-limit"
    policy["Remark"] = "Invocations use over 80% of the time limit (managed by make deploy)"
    count = len(cloud.monitor_policies)
    output = run(cloud, package, stacks, shell)
    assert "renamed (was 'report-conversion-full-duration-near-the-time-limit')" in output
    assert len(cloud.monitor_policies) == count
    assert policy["PolicyName"] == "report-conversion-full-near-timeout"
    assert policy["Remark"] == "managed-by-make-deploy"
    assert "managed by make deploy, package sha256 " in function.config["Description"]
    before = len(cloud.calls)
    run(cloud, package, stacks, shell)
    assert [call.action for call in cloud.calls[before:] if MUTATING.match(call.action)] == []


def test_every_answer_carries_every_member_its_output_object_names(package: Path, stacks: Path) -> None:
    cloud = CloudStandIn(reads_until_active=1)
    run(cloud, package, stacks, {**FIRST, "STACK": "full"})
    calls = cloud.calls[:]
    seen = set()
    for call in calls:
        if (call.service, call.action) in seen or MUTATING.match(call.action):
            continue
        seen.add((call.service, call.action))
        answer = cloud.dispatch(call.service, call.action, call.params, call.region)
        output = definitions.definitions(call.service)["actions"][call.action]["output"]
        members = {m["name"] for m in definitions.definitions(call.service)["objects"][output]["members"]}
        assert members - {"RequestId"} <= set(answer), (call.action, sorted(members - set(answer)))
    assert len(seen) >= 15


@pytest.mark.parametrize(
    "answered",
    [
        '{"version":"2.0","statement":[{"action":"name/sts:AssumeRole","effect":"allow","principal":{"service":"scf.qcloud.com"}}]}',
        '{"version":"2.0","statement":[{"action":["name/sts:AssumeRole"],"effect":"allow","principal":{"service":["scf.qcloud.com"]}}]}',
        "%7B%22version%22%3A%222.0%22%2C%22statement%22%3A%5B%7B%22action%22%3A%22name%2Fsts%3AAssumeRole%22%2C%22effect"
        "%22%3A%22allow%22%2C%22principal%22%3A%7B%22service%22%3A%5B%22scf.qcloud.com%22%5D%7D%7D%5D%7D",
    ],
    ids=["as-sent", "lists-as-the-getrole-example", "url-encoded"],
)  # fmt: skip
def test_a_trust_policy_answered_in_another_form_of_the_same_document_is_kept(answered: str) -> None:
    from tools.deploy.resources.cam import same_policy

    sent = json.dumps(json.loads((Path(cli.__file__).parents[2] / "deploy" / "trust-policy.json").read_text()))
    assert same_policy(answered, sent)
    assert not same_policy(answered.replace("scf.qcloud.com", "cvm.qcloud.com"), sent)


# ---- hostile requests ----------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
_CALLS = [(service, action) for service, actions in extract.ACTIONS.items() for action in actions]


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """An action the tool calls, with its own member names (most of the time) holding any JSON at all."""
    service, action = draw(st.sampled_from(_CALLS))
    obj = definitions.definitions(service)["actions"][action]["input"]
    names = [member["name"] for member in definitions.definitions(service)["objects"][obj]["members"]]
    keys = st.sampled_from(names) | st.text(max_size=6)
    return service, action, draw(st.dictionaries(keys, _JSON, max_size=5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_requests())
def test_any_request_is_answered_or_refused_as_the_api_refuses_never_a_crash_of_the_stand_in(
    request: tuple[str, str, dict[str, Any]],
) -> None:
    service, action, params = request
    refused: ApiError | None = None
    try:
        CloudStandIn().dispatch(service, action, params)
    except ApiError as exc:
        refused = exc
    if refused is not None:
        assert refused.code.split(".")[0] in {
            "InvalidParameterValue", "InvalidParameter", "MissingParameter", "UnknownParameter", "ResourceNotFound",
            "ResourceInUse", "FailedOperation", "OperationDenied",
        }, refused.code  # fmt: skip

"""`make deploy` / `make destroy` on the unit layer: the deploy tool against the cloud stand-in, in-process.

The stand-in (emulator/cloud.py) keeps state like SCF, CAM, CLS and Cloud Monitor, refuses a parameter the
SDK's request model lacks (as the API does) and is checked here against the response models too. The same
tool with the real tccli over HTTPS is test_deploy_with_tccli.py (slow).
"""

from __future__ import annotations

import io
import json
import re
import stat
from pathlib import Path

import pytest
from deploy_doubles import FIRST, MUTATING, PUSH, REDIS, SECRET, InProcessCloud

from emulator.cloud import CloudStandIn, definitions
from emulator.signing import ApiError
from sms_conversion.logfields import LOG_FIELDS
from tools.deploy import cli
from tools.deploy.desired import Desired, load_json
from tools.deploy.plan import Deployer, Plan
from tools.deploy.tccli import CloudError, DeployError, Tccli, remove_stale_requests


@pytest.fixture
def cloud() -> CloudStandIn:
    return CloudStandIn(reads_until_active=2)


def run(
    cloud: CloudStandIn,
    package: Path,
    shell: dict[str, str],
    command: str = "apply",
    dry_run: bool = False,
    unset: frozenset[str] = frozenset(),
) -> tuple[str, str | None]:
    """One `make deploy`: its output, and the one-line error it would exit 1 with (None when it succeeded)."""
    out = io.StringIO()
    desired = Desired.from_template(shell, package, unset)
    deployer = Deployer(InProcessCloud(cloud), desired, Plan(out, dry_run), poll_seconds=0, sleep=lambda _: None)
    try:
        deployer.apply() if command == "apply" else deployer.destroy()
    except DeployError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


def variables(cloud: CloudStandIn) -> dict[str, str]:
    function = cloud.functions[("default", "report-conversion")]
    return {item["Key"]: item["Value"] for item in function.config["Environment"]["Variables"]}


def test_a_first_deploy_creates_everything_and_a_second_creates_nothing(cloud: CloudStandIn, package: Path) -> None:
    output, error = run(cloud, package, FIRST)
    assert error is None, output
    created = [line.split(":")[0].split()[1:3] for line in output.splitlines() if line.strip().startswith("create ")]
    kinds = {" ".join(words) for words in created}
    assert {
        "cam role",
        "cam policy",
        "cam attachment",
        "cls logset",
        "cls topic",
        "cls index",
        "scf function",
        "scf Function",
        "scf reserved",
        "cls alarm",
        "cls dashboard",
        "monitor alarm",
    } <= kinds
    assert len(cloud.alarms) == len(load_json("cls/alarms.json"))
    assert len(cloud.monitor_policies) == len(load_json("monitor/alarms.json"))
    function = cloud.functions[("default", "report-conversion")]
    topic = next(iter(cloud.topics.values()))
    assert (function.config["ClsTopicId"], function.config["ClsLogsetId"]) == (topic["TopicId"], topic["LogsetId"])
    assert function.reserved_mem == 256 * 4
    before = len(cloud.calls)
    output, error = run(cloud, package, FIRST)
    assert error is None, output
    assert [action for action in cloud.actions(before) if MUTATING.match(action)] == []
    assert [line for line in output.splitlines() if line.strip().startswith(("create ", "update "))] == []


def test_every_request_uses_the_apis_own_parameter_names(cloud: CloudStandIn, package: Path) -> None:
    """Each parameter, nested ones included, is one tccli's api.json names, of its type and within its documented
    limits (the stand-in refuses any other, so every call recorded passed)."""
    run(cloud, package, {**FIRST, "ALARM_WEBHOOK": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"})
    run(cloud, package, {**FIRST, "SMS_CONCURRENCY": "8", "FROM_SHELL": "SMS_CONCURRENCY"})
    run(cloud, package, FIRST, command="destroy")
    actions = {(call.service, call.action) for call in cloud.calls}
    assert len(actions) >= 40
    for call in cloud.calls:
        definitions.check_request(call.service, call.action, call.params)


def test_an_update_from_a_shell_lacking_a_variable_keeps_its_current_value(cloud: CloudStandIn, package: Path) -> None:
    run(cloud, package, FIRST)
    cloud.functions[("default", "report-conversion")].config["Environment"]["Variables"].append(
        {"Key": "SET_IN_THE_CONSOLE", "Value": "kept"}
    )
    shell = {"REPORT_SIGNING_SECRET": SECRET, "SMS_CONCURRENCY": "8", "FROM_SHELL": "SMS_CONCURRENCY"}
    output, error = run(cloud, package, shell)
    assert error is None, output
    after = variables(cloud)
    assert (after["REDIS_URL"], after["CMQ_PUSH_TOKEN"], after["SET_IN_THE_CONSOLE"]) == (REDIS, PUSH, "kept")
    assert after["SMS_CONCURRENCY"] == "8"  # the shell's value, named in FROM_SHELL, updates it
    assert "SMS_CONCURRENCY=8" in output
    assert "keeps REPORT_SIGNING_SECRET, CMQ_PUSH_TOKEN, REDIS_URL" in output
    for secret in (SECRET, PUSH, "hunter2"):
        assert secret not in output


def test_a_secret_is_never_written_empty_and_removing_a_variable_is_explicit(
    cloud: CloudStandIn, package: Path
) -> None:
    run(cloud, package, FIRST)
    run(cloud, package, {**FIRST, "CMQ_PUSH_TOKEN": "", "REDIS_URL": ""})
    assert (variables(cloud)["CMQ_PUSH_TOKEN"], variables(cloud)["REDIS_URL"]) == (PUSH, REDIS)
    output, error = run(cloud, package, {"REPORT_SIGNING_SECRET": SECRET}, unset=frozenset({"CMQ_PUSH_TOKEN"}))
    assert error is None
    assert "CMQ_PUSH_TOKEN" not in variables(cloud)
    assert "CMQ_PUSH_TOKEN removed" in output


def test_the_template_provides_every_non_empty_setting_and_leaves_blank_ones_unset(
    cloud: CloudStandIn, package: Path
) -> None:
    run(cloud, package, {"REPORT_SIGNING_SECRET": SECRET})
    after = variables(cloud)
    assert after["SMS_MAX_RPS"] == "200"
    assert "SMS_SDK_APP_ID" not in after  # blank in template.yaml: never written as ""
    assert all(value != "" for value in after.values())


def test_a_failed_step_names_itself_and_the_next_run_continues_from_there(cloud: CloudStandIn, package: Path) -> None:
    cloud.fail("CreateTrigger", "LimitExceeded.Trigger", "the function has too many triggers")
    output, error = run(cloud, package, FIRST)
    assert error == (
        'step "scf Function URL report-conversion-url" failed: '
        "LimitExceeded.Trigger: the function has too many triggers"
    )
    assert "Traceback" not in output
    before = len(cloud.calls)
    output, error = run(cloud, package, FIRST)
    assert error is None, output
    again = cloud.actions(before)
    assert "CreateRole" not in again
    assert "CreateFunction" not in again
    assert "CreateTrigger" in again
    assert len(cloud.functions[("default", "report-conversion")].triggers) == 1


def test_it_waits_for_the_function_to_be_active_between_changes(cloud: CloudStandIn, package: Path) -> None:
    cloud.reads_until_active = 4
    output, error = run(cloud, package, FIRST)
    assert error is None, output
    actions = cloud.actions()
    created = actions.index("CreateFunction")
    following = actions[created + 1 : actions.index("CreateTrigger")]
    assert following.count("GetFunction") >= 4  # polled until Active, then the trigger
    run(cloud, package, {**FIRST, "SMS_CONCURRENCY": "4", "FROM_SHELL": "SMS_CONCURRENCY"})
    assert "FailedOperation.FunctionStatusError" not in str(cloud.calls)


def test_a_dry_run_reads_and_prints_the_plan_without_changing_anything(cloud: CloudStandIn, package: Path) -> None:
    output, error = run(cloud, package, FIRST, dry_run=True)
    assert error is None, output
    assert [action for action in cloud.actions() if MUTATING.match(action)] == []
    assert "would create    cam role SCF_ReportConversionRole" in output
    assert "would create    scf function report-conversion" in output
    assert cloud.functions == {}
    run(cloud, package, FIRST)
    output, _ = run(cloud, package, {**FIRST, "SMS_CONCURRENCY": "2", "FROM_SHELL": "SMS_CONCURRENCY"}, dry_run=True)
    assert "would update    scf function report-conversion: variables (SMS_CONCURRENCY=2" in output
    assert variables(cloud)["SMS_CONCURRENCY"] == "16"


@pytest.mark.parametrize(
    ("shell", "words"),
    [
        (
            {"SMS_MAX_RPS": "1000", "FROM_SHELL": "SMS_MAX_RPS"},
            "4 instances x SMS_MAX_RPS=1000 = 4000 calls per second",
        ),
        ({"RESERVED_INSTANCES": "6"}, "6 instances x SMS_MAX_RPS=200 = 1200"),
        ({"SMS_FLEET_MAX_RPS": "800", "FROM_SHELL": "SMS_FLEET_MAX_RPS"}, "SMS_FLEET_MAX_RPS needs REDIS_URL"),
        (
            {"SMS_FLEET_MAX_RPS": "1500", "REDIS_URL": REDIS, "FROM_SHELL": "SMS_FLEET_MAX_RPS"},
            "over the account's quota of 1000",
        ),
    ],
)
def test_a_plan_that_breaks_the_accounts_quota_is_refused(
    cloud: CloudStandIn, package: Path, shell: dict[str, str], words: str
) -> None:
    _, error = run(cloud, package, {"REPORT_SIGNING_SECRET": SECRET, **shell})
    assert error is not None
    assert words in error
    assert [action for action in cloud.actions() if MUTATING.match(action)] == []


def test_the_fleet_limit_lets_more_instances_share_the_quota(cloud: CloudStandIn, package: Path) -> None:
    shell = {**FIRST, "SMS_MAX_RPS": "1000", "SMS_FLEET_MAX_RPS": "800", "FROM_SHELL": "SMS_MAX_RPS,SMS_FLEET_MAX_RPS"}
    _, error = run(cloud, package, shell)
    assert error is None


def test_an_open_function_url_without_a_signing_secret_is_refused(cloud: CloudStandIn, package: Path) -> None:
    _, error = run(cloud, package, {})
    assert error is not None
    assert "REPORT_SIGNING_SECRET is not set" in error
    assert cloud.functions == {}


def test_without_a_notice_target_the_alarms_exist_and_deploy_says_nobody_is_notified(
    cloud: CloudStandIn, package: Path
) -> None:
    output, _ = run(cloud, package, FIRST)
    assert "nobody is notified" in output
    assert all("AlarmNoticeIds" not in alarm for alarm in cloud.alarms.values())
    output, _ = run(cloud, package, {**FIRST, "ALARM_WEBHOOK": "https://oapi.dingtalk.com/robot/send?t=1",
                                     "ALARM_WEBHOOK_TYPE": "DingTalk"})  # fmt: skip
    [notice] = cloud.notices.values()
    assert notice["WebCallbacks"][0]["CallbackType"] == "DingTalk"
    assert all(alarm["AlarmNoticeIds"] == [notice["AlarmNoticeId"]] for alarm in cloud.alarms.values())
    assert "nobody is notified" not in output
    # Cloud Monitor posts its own JSON, which a robot refuses: its alarms wait for CAM receivers or an Http callback.
    assert cloud.monitor_notices == {}
    assert "Cloud Monitor cannot post to a DingTalk robot" in output
    before = len(cloud.calls)
    output, _ = run(cloud, package, {**FIRST, "ALARM_WEBHOOK": "https://oapi.dingtalk.com/robot/send?t=1",
                                     "ALARM_WEBHOOK_TYPE": "DingTalk", "ALARM_CAM_UINS": "100000000011"})  # fmt: skip
    [monitor_notice] = cloud.monitor_notices.values()
    assert monitor_notice["UserNotices"][0]["UserIds"] == [100000000011]
    # Notices added later reach the policies through ModifyAlarmPolicyNotice ("NoticeIds" of
    # ModifyAlarmPolicyCondition is "专供prom使用": the stand-in refuses it).
    assert all(policy["NoticeIds"] == [monitor_notice["Id"]] for policy in cloud.monitor_policies.values())
    assert cloud.actions(before).count("ModifyAlarmPolicyNotice") == len(cloud.monitor_policies)
    bindings = [json.loads(b["Dimensions"]) for p in cloud.monitor_policies.values() for b in p["Bindings"]]
    assert {"functionName": "report-conversion", "namespace": "default"} in bindings


def test_the_cls_index_covers_every_field_the_function_prints_with_its_type(cloud: CloudStandIn, package: Path) -> None:
    run(cloud, package, FIRST)
    [index] = cloud.indexes.values()
    indexed = {item["Key"]: item["Value"]["Type"] for item in index["Rule"]["KeyValue"]["KeyValues"]}
    assert {name: indexed[name] for name in LOG_FIELDS} == LOG_FIELDS


def test_destroy_removes_what_deploy_created_and_nothing_else(cloud: CloudStandIn, package: Path) -> None:
    run(cloud, package, FIRST)
    # What the operator added by hand: another trigger, alarm, topic in our logset, and a role of theirs.
    function_key = {"FunctionName": "report-conversion", "Namespace": "default"}
    cloud.dispatch(
        "scf",
        "CreateTrigger",
        {**function_key, "TriggerName": "nightly", "Type": "timer", "TriggerDesc": "0 0 2 * * * *"},
    )
    [logset_id] = cloud.logsets
    cloud.dispatch("cls", "CreateTopic", {"LogsetId": logset_id, "TopicName": "their-topic"})
    [topic_id] = [t for t, topic in cloud.topics.items() if topic["TopicName"] == "report-conversion-logs"]
    target = {"TopicId": topic_id, "LogsetId": logset_id, "Query": "*", "Number": 1, "StartTimeOffset": -5,
              "EndTimeOffset": 0}  # fmt: skip
    alarm = {"Name": "their alarm", "AlarmTargets": [target], "MonitorTime": {"Type": "Period", "Time": 1}}
    cloud.dispatch("cls", "CreateAlarm", {**alarm, "Condition": "$1.c > 0", "TriggerCount": 1, "AlarmPeriod": 15})
    cloud.dispatch("cam", "CreateRole", {"RoleName": "TheirRole", "PolicyDocument": "{}"})
    output, error = run(cloud, package, FIRST, command="destroy", dry_run=True)
    assert error is None
    assert "would delete    scf function report-conversion" in output
    assert cloud.functions  # a dry run deletes nothing
    output, error = run(cloud, package, FIRST, command="destroy")
    assert error is None, output
    assert cloud.functions == {}  # its triggers went with it
    assert [alarm["Name"] for alarm in cloud.alarms.values()] == ["their alarm"]
    assert [topic["TopicName"] for topic in cloud.topics.values()] == ["their-topic"]
    assert "leave           cls logset report-conversion: it holds 1 other topic(s)" in output
    assert list(cloud.roles) == ["TheirRole"]
    assert cloud.policies == {}
    assert cloud.dashboards == {}
    assert cloud.monitor_policies == {}


# An empty zip archive (its end-of-central-directory record alone), base64: a console-made function's code.
EMPTY_ZIP = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="


def test_destroy_leaves_a_function_that_deploy_did_not_create(cloud: CloudStandIn, package: Path) -> None:
    console = {"Handler": "index.main_handler", "Description": "made in the console", "Code": {"ZipFile": EMPTY_ZIP}}
    cloud.dispatch("scf", "CreateFunction", {"FunctionName": "report-conversion", "Namespace": "default", **console})
    output, _ = run(cloud, package, FIRST, command="destroy")
    assert (
        "leave           scf function report-conversion: not stack default's (no tag stack=default): left alone"
        in output
    )
    assert cloud.functions


# ---- the alarm and dashboard queries use only what the function prints --------------------------------

# CLS SQL and search words, functions and CLS's own fields: everything in a query that is not a log field.
_QUERY_WORDS = {
    "select", "as", "count", "from", "where", "and", "or", "not", "group", "by", "order", "desc", "asc", "sum",
    "case", "when", "then", "else", "end", "round", "max", "min", "avg", "approx_percentile", "histogram",
    "interval", "minute", "minutes", "hour", "true", "false", "__TIMESTAMP__",
}  # fmt: skip


def query_fields(query: str) -> set[str]:
    without_strings = re.sub(r"'[^']*'|\"[^\"]*\"", " ", query)
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", without_strings))
    aliases = set(re.findall(r"\bas\s+([A-Za-z_][A-Za-z0-9_]*)", without_strings))
    return {word for word in words if word not in _QUERY_WORDS and word not in aliases}


def queries() -> list[tuple[str, str, list[str]]]:
    found = [(alarm["name"], alarm["query"], alarm["fields"]) for alarm in load_json("cls/alarms.json")]
    found += [(chart["title"], chart["query"], chart["fields"]) for chart in load_json("cls/dashboard.json")["charts"]]
    return found


@pytest.mark.parametrize(("name", "query", "fields"), queries())
def test_every_field_an_alarm_or_chart_queries_is_one_the_function_prints(
    name: str, query: str, fields: list[str]
) -> None:
    assert query_fields(query) == set(fields), name
    assert set(fields) <= set(LOG_FIELDS), name


def test_the_alarms_cover_what_operators_must_hear_about() -> None:
    events = {re.search(r'event:"(\w+)"', alarm["query"]).group(1) for alarm in load_json("cls/alarms.json")}  # type: ignore[union-attr]
    assert {
        "deployment_fault",
        "misconfigured",
        "redis_misconfigured",
        "unexpected_error",
        "batch_retry",
        "record",
        "unauthorized",
    } <= events
    metrics = {alarm["metric"] for alarm in load_json("monitor/alarms.json")}
    assert metrics == {"Error", "Throttle", "Duration"}
    assert all(alarm["runbook"] for alarm in load_json("cls/alarms.json"))


def test_tccli_request_files_are_private_and_gone_after_each_call(tmp_path: Path) -> None:
    """The one seam tested with a stand-in binary: what tccli finds on disk while it runs (the real tccli
    runs in test_deploy_with_tccli.py). It records the request file's mode and that the secret is inside."""
    probe = tmp_path / "tccli"
    log = tmp_path / "seen.txt"
    probe.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do case "$a" in file://*) f="${{a#file://}}"; '
        f'stat -c %a "$f" > {log}; grep -c {SECRET} "$f" >> {log};; esac; done\n'
        'echo "{\\"RoleId\\": \\"1\\"}"\n'
    )
    probe.chmod(0o755)
    workdir = tmp_path / "requests"
    cloud = Tccli(str(probe), "ap-guangzhou", None, workdir)
    assert cloud.call("cam", "CreateRole", {"RoleName": "r", "Description": SECRET}) == {"RoleId": "1"}
    mode, count = log.read_text().split()
    assert (mode, count) == ("600", "1")
    assert list(workdir.iterdir()) == []
    failing = tmp_path / "failing"
    error = "[TencentCloudSDKException] code:AuthFailure.SecretIdNotFound message:no such key requestId:r1"
    failing.write_text(f"#!/bin/sh\necho '{error}'\nexit 255\n")
    failing.chmod(0o755)
    with pytest.raises(CloudError) as caught:
        Tccli(str(failing), "ap-guangzhou", None, workdir).call("scf", "GetFunction", {"FunctionName": "f"})
    assert (caught.value.code, caught.value.message) == ("AuthFailure.SecretIdNotFound", "no such key")
    assert stat.S_IMODE(workdir.stat().st_mode) & 0o077 == 0 or list(workdir.iterdir()) == []


def test_the_deployers_cam_policy_allows_every_action_deploy_and_destroy_call() -> None:
    """deploy/deployer-policy.json is what README tells the person deploying to attach: nothing more, nothing less."""
    source = "".join(path.read_text() for path in sorted(Path(cli.__file__).parent.rglob("*.py")))
    called = {f"name/{service}:{action}" for service, action in re.findall(
        r'(?:self|d)\.(?:call|change|read|each|named)\(\s*"(\w+)",\s*"(\w+)"', source)}  # fmt: skip
    # A function setting's read is named by its class (tools/deploy/resources/scf.py's _FunctionSetting.read_action).
    called |= {f"name/scf:{action}" for action in re.findall(r'read_action = "(\w+)"', source)}
    policy = load_json("deployer-policy.json")
    [statement] = policy["statement"]
    # cam:PassRole: CreateFunction hands the execution role to SCF.
    assert set(statement["action"]) == called | {"name/cam:PassRole"}
    assert len(called) > 40


@pytest.mark.parametrize(
    ("resource", "id_key", "code"),
    [
        ("AlarmNotice", "AlarmNoticeId", "ResourceNotFound.AlarmNoticeNotExist"),
        ("Alarm", "AlarmId", "ResourceNotFound.AlarmNotExist"),
        ("Dashboard", "DashboardId", "ResourceNotFound.DashboardNotExist"),
    ],
)
def test_the_stand_in_answers_cls_not_found_for_an_id_it_does_not_hold(
    cloud: CloudStandIn, resource: str, id_key: str, code: str
) -> None:
    # What a rerun of deploy or destroy meets when someone deleted the resource in the console.
    # (The tool never modifies a dashboard: it cannot read one back.)
    for action in [f"Delete{resource}"] + ([f"Modify{resource}"] if resource != "Dashboard" else []):
        with pytest.raises(ApiError) as raised:
            cloud.dispatch("cls", action, {id_key: "gone-0001"})
        assert raised.value.code == code, action


def test_two_deploys_at_once_never_delete_each_others_request_files(tmp_path: Path) -> None:
    """A stale request file is a dead process's; a live one's (a second deploy running now) is left."""
    import os
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f"CreateFunction-{sleeper.pid}-abc.json"
        dead = tmp_path / "CreateFunction-999999-def.json"
        legacy = tmp_path / "CreateFunction-xyz.json"
        mine = tmp_path / f"GetRole-{os.getpid()}-ghi.json"
        for path in (live, dead, legacy, mine):
            path.write_text("{}")
        remove_stale_requests(tmp_path)
        assert sorted(path.name for path in tmp_path.iterdir()) == [live.name]
    finally:
        sleeper.kill()
        sleeper.wait()

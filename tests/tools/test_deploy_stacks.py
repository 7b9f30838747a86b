"""Stacks, regions and ownership: staging and production, two regions, one account; a deploy and a destroy that
touch only their own stack. In-process against the stand-in (regions, CAM and Cloud Monitor for the account,
tags, 20 items a page); the same with the real tccli is test_deploy_with_tccli.py (slow)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from deploy_doubles import FIRST, MUTATING, SECRET, InProcessCloud, plan_lines

from emulator.cloud import CloudStandIn
from tools.deploy import cli
from tools.deploy import desired as desired_module
from tools.deploy.cli import main as deploy_main
from tools.deploy.desired import load_json
from tools.deploy.tccli import CloudError
from tools.stack import Names

STAGING = """\
# the staging stack
SMS_SDK_APP_ID=1400006666
SMS_ALLOWED_SDK_APP_IDS=1400006666
SMS_MAX_RPS=100
RESERVED_INSTANCES=2
ALARM_WEBHOOK=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=staging
"""


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    directory = tmp_path / "stacks"
    directory.mkdir()
    (directory / "staging.env").write_text(STAGING)
    # 3 x 200 + staging's 2 x 100 in each of two regions: the account's 1,000 calls per second, no more.
    (directory / "production.env").write_text("SMS_SDK_APP_ID=1400006666\nSMS_MAX_RPS=200\nRESERVED_INSTANCES=3\n")
    return directory


@pytest.fixture
def cloud() -> CloudStandIn:
    return CloudStandIn(reads_until_active=1)


def run(
    cloud: CloudStandIn,
    package: Path,
    stacks: Path,
    shell: dict[str, str],
    command: str = "apply",
    dry_run: bool = False,
) -> tuple[int, str]:
    """`make deploy` / `make destroy` as typed (its main), the stand-in in the place of tccli."""
    out = io.StringIO()
    region = shell.get("REGION", "ap-guangzhou")
    argv = [command, "--zip", str(package), *(["--dry-run"] if dry_run else [])]
    status = deploy_main(argv, shell, out, cloud=InProcessCloud(cloud, region), stacks=stacks)
    return status, out.getvalue()


def names_in_plan(output: str) -> list[str]:
    return [line.split(None, 3)[-1] for line in output.splitlines() if line.startswith("  ")]


def everything(cloud: CloudStandIn) -> dict[str, Any]:
    """Every resource's name, per region for the regional ones."""
    found: dict[str, Any] = {
        "roles": sorted(cloud.roles),
        "policies": sorted(policy["PolicyName"] for policy in cloud.policies.values()),
        "attachments": sorted(cloud.attachments),
        "monitor": sorted(policy["PolicyName"] for policy in cloud.monitor_policies.values()),
        "monitor notices": sorted(notice["Name"] for notice in cloud.monitor_notices.values()),
    }
    for name, region in sorted(cloud.regions.items()):
        if not (region.functions or region.logsets or region.topics or region.alarms or region.dashboards):
            continue  # a region only read (destroy asks every region for the stack's function)
        found[name] = {
            "functions": sorted(function for _, function in region.functions),
            "logsets": sorted(item["LogsetName"] for item in region.logsets.values()),
            "topics": sorted(item["TopicName"] for item in region.topics.values()),
            "alarms": len(region.alarms),
            "dashboards": sorted(item["DashboardName"] for item in region.dashboards.values()),
        }
    return found


def test_a_staging_dry_run_plans_only_the_staging_stacks_names(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, dry_run=True)
    assert status == 0, output
    planned = names_in_plan(output)
    assert planned
    for line in planned:
        # The function's settings carry no name of their own ("keep scf asynchronous retries").
        assert "staging" in line or line.endswith("retries") or "reserved concurrency" in line, line
    assert "cls index of report-conversion-staging-logs" in output
    assert "would create    cam policy ReportConversionSms-staging" in output
    assert "would create    cls dashboard report-conversion-staging" in output
    assert [action for action in cloud.actions() if MUTATING.match(action)] == []


def test_two_stacks_in_one_region_and_one_stack_in_two_then_destroy_one_leaves_the_others_whole(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    assert run(cloud, package, stacks, {**FIRST, "STACK": "production"})[0] == 0
    assert run(cloud, package, stacks, {**FIRST, "STACK": "staging"})[0] == 0
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging", "REGION": "ap-shanghai"})
    assert status == 0, output
    before = everything(cloud)
    assert before["roles"] == ["SCF_ReportConversionRole-production", "SCF_ReportConversionRole-staging"]
    assert before["ap-guangzhou"]["functions"] == ["report-conversion-production", "report-conversion-staging"]
    assert before["ap-shanghai"]["functions"] == ["report-conversion-staging"]
    # The staging function in ap-shanghai runs with the one staging role: CAM has no region.
    shanghai = cloud.region("ap-shanghai").functions[("default", "report-conversion-staging")]
    assert shanghai.config["Role"] == "SCF_ReportConversionRole-staging"

    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, command="destroy")
    assert status == 0, output
    assert output.startswith("destroy: stack staging\n")
    after = everything(cloud)
    # Staging in ap-guangzhou is gone; production, and staging in ap-shanghai, are whole.
    assert after["ap-guangzhou"]["functions"] == ["report-conversion-production"]
    assert after["ap-guangzhou"]["logsets"] == ["report-conversion-production"]
    assert after["ap-shanghai"] == before["ap-shanghai"]
    # Global resources a function in another region still uses are left, and said so.
    assert after["roles"] == before["roles"]
    assert after["policies"] == before["policies"]
    assert after["attachments"] == before["attachments"]
    assert after["monitor"] == before["monitor"]
    assert (
        "leave           cam role SCF_ReportConversionRole-staging: stack staging's function in ap-shanghai" in output
    )
    # The last region of the stack: now its CAM role and policy go too; production keeps its own.
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging", "REGION": "ap-shanghai"}, "destroy")
    assert status == 0, output
    final = everything(cloud)
    assert final["roles"] == ["SCF_ReportConversionRole-production"]
    assert final["policies"] == ["ReportConversionSms-production"]
    assert [name for name in final["monitor"] if "staging" in name] == []
    assert "ap-shanghai" not in final
    production = cloud.functions[("default", "report-conversion-production")]
    assert production.config["Role"] in cloud.roles
    [(role, policy_id)] = cloud.attachments
    assert (role, cloud.policies[policy_id]["PolicyName"]) == (
        production.config["Role"],
        "ReportConversionSms-production",
    )


def test_a_resource_with_the_stacks_name_but_not_its_tags_is_left_alone_and_reported(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    assert run(cloud, package, stacks, {**FIRST, "STACK": "staging"})[0] == 0
    # Someone made a dashboard of the same name by hand (no tags), and removed ours.
    [ours] = [key for key, item in cloud.dashboards.items() if item["DashboardName"] == "report-conversion-staging"]
    del cloud.dashboards[ours]
    cloud.dispatch("cls", "CreateDashboard", {"DashboardName": "report-conversion-staging", "Data": "{}"})
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"})
    assert status == 0, output
    assert "leave           cls dashboard report-conversion-staging: not stack staging's" in output
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, command="destroy")
    assert status == 0, output
    assert [item["DashboardName"] for item in cloud.dashboards.values()] == ["report-conversion-staging"]
    assert "leave           cls dashboard report-conversion-staging: not stack staging's" in output
    # Another stack's resource is not this one's either, though the tool made it.
    assert run(cloud, package, stacks, {**FIRST, "STACK": "production"})[0] == 0
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, command="destroy")
    assert cloud.functions[("default", "report-conversion-production")]


def test_more_than_a_page_of_alarm_policies_and_notices_is_read_to_the_end(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    # The account's other alarm policies whose names the lookup's fuzzy PolicyName filter also matches: three
    # pages of the stand-in's 20 before ours.
    for number in range(45):
        condition = {"IsUnionRule": 0, "Rules": []}
        cloud.dispatch(
            "monitor",
            "CreateAlarmPolicy",
            {"Module": "monitor", "PolicyName": f"report-conversion-errors-other-{number:02d}", "MonitorType": "MT_QCE",
             "Namespace": "scf_v2", "Condition": condition},
        )  # fmt: skip
    assert run(cloud, package, stacks, FIRST)[0] == 0
    ours = {name for name in everything(cloud)["monitor"] if "-other-" not in name}
    assert len(ours) == len(load_json("monitor/alarms.json"))
    before = len(cloud.monitor_policies)
    status, output = run(cloud, package, stacks, FIRST)
    assert status == 0, output
    assert len(cloud.monitor_policies) == before  # found on a later page: not created twice
    listed = [call for call in cloud.calls if call.action == "DescribeAlarmPolicies"]
    assert any(call.params.get("PageNumber", 1) > 1 for call in listed)
    status, output = run(cloud, package, stacks, FIRST, command="destroy")
    assert status == 0, output
    assert sorted(policy["PolicyName"] for policy in cloud.monitor_policies.values()) == [
        f"report-conversion-errors-other-{number:02d}" for number in range(45)
    ]


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (
            "AuthFailure.SecretIdNotFound",
            "tccli's credentials were refused (AuthFailure.SecretIdNotFound): run `tccli configure`",
        ),
        ("AuthFailure.SignatureFailure", "tccli's credentials were refused"),
        ("UnauthorizedOperation", "attach deploy/deployer-policy.json"),
    ],
)
def test_a_refused_key_stops_a_real_run_at_its_first_call_and_a_dry_run_plans_without_the_cloud(
    cloud: CloudStandIn, package: Path, stacks: Path, code: str, words: str
) -> None:
    cloud.fail("GetFunction", code, "refused", times=99)
    status, output = run(cloud, package, stacks, FIRST)
    assert status == 1
    assert words in output
    assert names_in_plan(output) == [], output  # never "would create cam role ..."
    status, output = run(cloud, package, stacks, FIRST, dry_run=True)
    assert status == 0, output  # no refusal: what needs no account is planned, the rest said to be unknown
    [unknown] = [line for line in output.splitlines() if "the cloud's state is unknown: " in line]
    assert words in unknown
    assert names_in_plan(output) == [], output
    assert cloud.actions() == ["GetFunction", "GetFunction"]


def test_only_a_real_not_found_reads_as_missing() -> None:
    assert CloudError("ResourceNotFound.Function", "x").not_found
    assert CloudError("InvalidParameter.RoleNotExist", "x").not_found
    assert CloudError("ResourceNotFound.PolicyIdNotExist", "x").not_found
    assert not CloudError("AuthFailure.SecretIdNotFound", "x").not_found
    assert not CloudError("UnauthorizedOperation.NotExist", "x").not_found
    assert not CloudError("InternalError", "not exist").not_found


def test_a_loopback_endpoint_left_in_the_shell_never_reaches_the_plan(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    shell = {**FIRST, "SMS_ENDPOINT": "http://127.0.0.1:9000", "SMS_REGION": "ap-singapore"}
    status, output = run(cloud, package, stacks, shell, dry_run=True)
    assert status == 0, output
    assert "127.0.0.1" not in output.split("ignored from the shell")[0]
    assert "deploy: ignored from the shell: SMS_ENDPOINT, SMS_REGION (the stack file and template.yaml decide" in output
    assert "SMS_ENDPOINT=sms.tencentcloudapi.com (template)" in output
    # Named in FROM_SHELL, it is refused: one line, and nothing changes.
    status, output = run(cloud, package, stacks, {**shell, "FROM_SHELL": "SMS_ENDPOINT"})
    assert status == 1
    assert "deploy: refused: SMS_ENDPOINT=http://127.0.0.1:9000 is not HTTPS" in output
    assert [action for action in cloud.actions() if MUTATING.match(action)] == []


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ("SMS_ENDPOINT=127.0.0.1:9000\n", "is a loopback or private address"),
        ("SMS_ENDPOINT=10.0.0.8\n", "is a loopback or private address"),
        ("SMS_ENDPOINT=localhost:9000\n", "is this machine"),
        ("SMS_REGION=ap-singapore\n", "SMS_REGION=ap-singapore is served by the international site"),
        ("SMS_ENDPOINT=sms.intl.tencentcloudapi.com\n", "SMS_REGION=ap-guangzhou is a mainland region"),
    ],
)
def test_an_endpoint_that_cannot_work_is_refused_with_one_line(
    cloud: CloudStandIn, package: Path, stacks: Path, settings: str, words: str
) -> None:
    (stacks / "odd.env").write_text(settings)
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "odd"})
    assert status == 1
    [refusal] = [line for line in output.splitlines() if line.startswith("deploy: refused:")]
    assert words in refusal
    assert f"odd.env:{settings.count(chr(10))}: " in refusal  # the stack file's line to fix
    assert cloud.functions == {}


def test_the_international_pair_is_accepted(cloud: CloudStandIn, package: Path, stacks: Path) -> None:
    (stacks / "intl.env").write_text("SMS_REGION=ap-singapore\nSMS_ENDPOINT=sms.intl.tencentcloudapi.com\n")
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "intl", "REGION": "ap-singapore"}, dry_run=True)
    assert status == 0, output
    assert (
        "deploy: stack intl: function report-conversion-intl in ap-singapore (namespace default); SMS API region "
        "ap-singapore at sms.intl.tencentcloudapi.com"
    ) in output


def test_every_variable_is_listed_with_where_it_comes_from(cloud: CloudStandIn, package: Path, stacks: Path) -> None:
    assert run(cloud, package, stacks, {**FIRST, "STACK": "staging"})[0] == 0
    fn = cloud.functions[("default", "report-conversion-staging")]
    fn.config["Environment"]["Variables"].append({"Key": "SET_IN_THE_CONSOLE", "Value": "x"})
    shell = {"STACK": "staging", "LOG_LEVEL": "DEBUG", "FROM_SHELL": "LOG_LEVEL"}
    status, output = run(cloud, package, stacks, shell, dry_run=True)
    assert status == 0, output
    [listing] = [line for line in output.splitlines() if line.startswith("deploy: variables: ")]
    assert "SMS_MAX_RPS=100 (stack file)" in listing
    assert "SMS_TIMEOUT_SECONDS=5 (template)" in listing
    assert "LOG_LEVEL=DEBUG (shell)" in listing
    assert "SET_IN_THE_CONSOLE=x (kept)" in listing
    assert "REPORT_SIGNING_SECRET=(secret) (kept)" in listing
    assert SECRET not in output


def test_a_dry_run_without_the_signing_secret_prints_the_whole_plan_and_exits_non_zero(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    status, output = run(cloud, package, stacks, {"STACK": "staging"}, dry_run=True)
    assert status == 1
    assert "would create    scf function report-conversion-staging" in output
    assert "would create    cls dashboard report-conversion-staging" in output
    assert output.rstrip().splitlines()[-1].startswith("deploy: refused: REPORT_SIGNING_SECRET is not set")


def test_a_real_deploy_prints_the_function_url_read_back_from_the_trigger(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    status, output = run(cloud, package, stacks, FIRST)
    assert status == 0, output
    [line] = [line for line in output.splitlines() if line.startswith("deploy: Function URL: ")]
    assert line.endswith(".ap-guangzhou.tencentscf.com")
    [trigger] = [t for t in cloud.functions[("default", "report-conversion")].triggers if t["Type"] == "http"]
    assert line.removeprefix("deploy: Function URL: ") == trigger["Desc"]["NetConfig"]["ExtranetUrl"]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("nosuch", None, "no settings for stack 'nosuch': copy deploy/stacks/example.env"),
        ("bad", "NOT A SETTING\n", "bad.env:1: not KEY=VALUE"),
        ("secret", "REPORT_SIGNING_SECRET=x\n", "REPORT_SIGNING_SECRET is a secret: export it in the shell"),
        (
            "unknown",
            "SMS_REGION=ap-guangzhou\nSMS_MAXRPS=1\n",
            "unknown.env:2: unknown setting SMS_MAXRPS (did you mean SMS_MAX_RPS?)",
        ),
        (
            "instances",
            "\n\nRESERVED_INSTANCES=four\n",
            "instances.env:3: RESERVED_INSTANCES='four' is not a whole number",
        ),
        ("binary", "SMS_REGION=\xff\n", "binary.env: cannot read the stack file (not UTF-8 text)"),
        ("Bad_Name", None, "a stack name is 1 to 20 lower-case letters"),
    ],
)
def test_a_bad_stack_or_stack_file_is_one_line(
    cloud: CloudStandIn, package: Path, stacks: Path, name: str, text: str | None, words: str
) -> None:
    if text is not None:
        (stacks / f"{name}.env").write_bytes(text.encode("latin-1"))
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": name})
    assert status == 1
    assert words in output
    assert len(output.strip().splitlines()) == 1
    assert cloud.calls == []


def test_a_deployment_made_before_stacks_updates_in_place_and_destroys_whole(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    """Made by the tool before it tagged: role, policy, function and monitor alarms carry its mark; the CLS
    resources are shown to be the stack's by the function's and the alarms' references to them. The dashboard
    alone cannot be shown (DescribeDashboards answers no Data): it is left alone, and said so."""
    assert run(cloud, package, stacks, FIRST)[0] == 0
    for store in (cloud.roles, cloud.policies, cloud.logsets, cloud.topics, cloud.alarms, cloud.dashboards,
                  cloud.notices, cloud.monitor_policies, cloud.monitor_notices):  # fmt: skip
        for item in store.values():
            item.pop("Tags", None)
    cloud.functions[("default", "report-conversion")].config.pop("Tags")
    before = everything(cloud)
    status, output = run(cloud, package, stacks, FIRST)
    assert status == 0, output
    unproven = "leave           cls dashboard report-conversion: not stack default's (no tag stack=default): left alone"
    assert [line.strip() for line in output.splitlines() if line.strip().startswith(("create ", "leave "))] == [
        unproven
    ]
    assert everything(cloud) == before
    status, output = run(cloud, package, stacks, FIRST, command="destroy")
    assert status == 0, output
    after = everything(cloud)
    assert (after["roles"], after["policies"], after["monitor"]) == ([], [], [])
    left = {"functions": [], "logsets": [], "topics": [], "alarms": 0, "dashboards": ["report-conversion"]}
    assert after["ap-guangzhou"] == left  # nothing else left there


def test_destroy_says_destroy_and_a_dry_run_deletes_nothing(cloud: CloudStandIn, package: Path, stacks: Path) -> None:
    assert run(cloud, package, stacks, FIRST)[0] == 0
    before = everything(cloud)
    status, output = run(cloud, package, stacks, FIRST, command="destroy", dry_run=True)
    assert status == 0, output
    assert all(line.startswith(("destroy: ", "  ")) for line in output.splitlines()), output
    assert "would delete    scf function report-conversion" in output
    assert everything(cloud) == before


def test_the_committed_example_stack_file_is_valid_and_plans(cloud: CloudStandIn, package: Path) -> None:
    from tools.stack import STACKS

    status, output = run(cloud, package, STACKS, {**FIRST, "STACK": "example"}, dry_run=True)
    assert status == 0, output
    assert "would create    scf function report-conversion-example" in output
    assert "SMS_MAX_RPS=100 (stack file)" in output


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ("LOG_LEVEL=verbose\n", "invalid configuration: LOG_LEVEL: Input should be"),
        ("\nSMS_MAX_ATTEMPTS=99\n", "invalid configuration: SMS_MAX_ATTEMPTS:"),
        ("SMS_REGION=ap-guangzhuo\n", "SMS_REGION: is not a Tencent Cloud region (did you mean ap-guangzhou?)"),
        ("", "invalid configuration: REPORT_SIGNING_SECRET: each comma-separated secret must be at least 16"),
    ],
    ids=["log-level", "out-of-range", "region-typo", "short-secret-from-the-shell"],
)
def test_the_plan_refuses_what_the_function_would_answer_500_for_in_its_own_words(
    cloud: CloudStandIn, package: Path, stacks: Path, settings: str, words: str
) -> None:
    (stacks / "odd.env").write_text(settings)
    shell = {**FIRST, "STACK": "odd"}
    if not settings:
        shell["REPORT_SIGNING_SECRET"] = "short-secret-1"
    status, output = run(cloud, package, stacks, shell, dry_run=True)
    assert status == 1
    refusals = [line for line in output.splitlines() if line.startswith("deploy: refused:")]
    assert any(words in line for line in refusals), output
    if settings:
        assert any(f"odd.env:{settings.count(chr(10))}: " in line for line in refusals), refusals
    assert "international site" not in output  # a typo gets no pairing advice
    assert "short-secret-1" not in output  # a variable is named, its value never shown


def test_variables_over_scfs_4_kb_are_refused(cloud: CloudStandIn, package: Path, stacks: Path) -> None:
    (stacks / "big.env").write_text("SMS_ALLOWED_SDK_APP_IDS=" + ",".join(["1400006666"] * 400) + "\n")
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "big"}, dry_run=True)
    assert status == 1
    assert "over SCF's 4096 (its quota page, 583/11637)" in output


def test_the_longest_stack_name_keeps_every_derived_name_within_its_documented_limit(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    """A 20-character stack (the longest the tool takes) derives no name over its limit: the monitor alarm policy
    "near timeout" was "duration near the time limit", 66 characters for this stack, over the documented 60."""
    (stacks / "a-twenty-char-stack.env").write_text("")
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "a-twenty-char-stack"}, dry_run=True)
    assert status == 0, output
    assert "report-conversion-a-twenty-char-stack-near-timeout" in output
    assert "over the documented" not in output


def test_a_derived_name_over_its_documented_limit_is_refused_with_the_text_it_comes_from() -> None:
    names = Names("a-twenty-char-stack", "report-conversion-for-the-payments-team", "SCF_ReportConversionRole")
    problems = names.too_long(["near timeout"])
    assert (
        "STACK=a-twenty-char-stack makes the monitor alarm policy name "
        "report-conversion-for-the-payments-team-a-twenty-char-stack-near-timeout (72 characters), over the documented "
        "60 (monitor CreateAlarmPolicy.PolicyName: 策略名称，不超过60字符): choose a stack name 12 or more characters "
        "shorter"
    ) in problems


def test_the_plan_says_where_the_function_logs(cloud: CloudStandIn, package: Path, stacks: Path) -> None:
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, dry_run=True)
    assert status == 0, output
    assert (
        "deploy: logs: CLS topic report-conversion-staging-logs in logset report-conversion-staging (ap-guangzhou)"
        in output
    )


# ---- a plan with no account ---------------------------------------------------------------------


def test_a_dry_run_with_no_tccli_prints_all_that_needs_no_account(
    stacks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tccli anywhere
    out = io.StringIO()
    missing = tmp_path / "no-package.zip"
    status = deploy_main(
        ["apply", "--dry-run", "--zip", str(missing)], {**FIRST, "STACK": "staging"}, out, None, stacks
    )
    output = out.getvalue()
    assert status == 0, output
    assert "deploy: stack staging: function report-conversion-staging in ap-guangzhou" in output
    assert "SMS_MAX_RPS=100 (stack file)" in output
    assert "deploy: logs: CLS topic report-conversion-staging-logs" in output
    assert "capacity" in output or "records/s" in output  # the sizing
    assert (
        "the cloud's state is unknown: tccli could not ask the API (TccliNotRunnable: tccli is not installed" in output
    )
    assert names_in_plan(output) == []  # nothing is claimed about the cloud
    assert not missing.exists()  # a dry run never builds the package
    assert SECRET not in output


def test_a_dry_run_with_no_tccli_still_exits_1_for_a_refusal(
    stacks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    out = io.StringIO()
    shell = {"STACK": "staging"}  # no signing secret: the open Function URL is refused
    status = deploy_main(["apply", "--dry-run"], shell, out, None, stacks)
    assert status == 1
    assert "deploy: refused: REPORT_SIGNING_SECRET is not set" in out.getvalue()


def test_a_dry_run_with_a_refused_key_plans_offline_and_a_real_run_stops(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    cloud.fail("GetFunction", "AuthFailure.SecretIdNotFound", "no such key", times=2)
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, dry_run=True)
    assert status == 0, output
    assert "the cloud's state is unknown: tccli's credentials were refused (AuthFailure.SecretIdNotFound)" in output
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "staging"})
    assert status == 1
    assert "tccli's credentials were refused" in output
    assert cloud.functions == {}


def test_a_real_run_builds_the_package_once_its_plan_passed_and_never_before(
    cloud: CloudStandIn, package: Path, stacks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "dist" / "function.zip"
    built: list[int] = []

    def build() -> None:  # stands in for tools.package.build (pip and Python 3.10: the slow suite's)
        built.append(len(cloud.calls))
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(package.read_bytes())

    monkeypatch.setattr(cli, "FUNCTION_ZIP", target)
    monkeypatch.setattr(cli, "_build_package", build)
    region = InProcessCloud(cloud, "ap-guangzhou")
    out = io.StringIO()
    assert deploy_main(["apply"], {"STACK": "staging"}, out, cloud=region, stacks=stacks) == 1  # refused: no secret
    assert built == []
    assert deploy_main(["apply", "--dry-run"], {**FIRST, "STACK": "staging"}, out, cloud=region, stacks=stacks) == 0
    assert built == []
    assert deploy_main(["apply"], {**FIRST, "STACK": "staging"}, out, cloud=region, stacks=stacks) == 0, out.getvalue()
    assert len(built) == 1
    before = cloud.actions()[: built[0]]
    assert not [action for action in before if MUTATING.match(action)]  # every change comes after the build
    assert [action for action in cloud.actions()[built[0] :] if MUTATING.match(action)]


def test_with_no_package_built_a_dry_run_knows_from_the_sources_whether_the_code_changes(
    cloud: CloudStandIn, package: Path, stacks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function's description records the digest of the sources its package is built from, so a dry run (which
    never builds) says what the real run will do: keep the code while the sources are the same, update it when
    they differ."""
    target = tmp_path / "dist" / "function.zip"

    def build() -> None:
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(package.read_bytes())

    monkeypatch.setattr(cli, "FUNCTION_ZIP", target)
    monkeypatch.setattr(cli, "_build_package", build)
    region = InProcessCloud(cloud, "ap-guangzhou")
    shell = {**FIRST, "STACK": "staging"}
    assert deploy_main(["apply"], shell, io.StringIO(), cloud=region, stacks=stacks) == 0
    for sources_changed in (False, True):
        if sources_changed:
            monkeypatch.setattr(desired_module, "sources_digest", lambda: "f" * 64)
        target.unlink()  # no package built: `make clean`, or a fresh clone
        dry, real = io.StringIO(), io.StringIO()
        assert deploy_main(["apply", "--dry-run"], shell, dry, cloud=region, stacks=stacks) == 0
        assert deploy_main(["apply"], shell, real, cloud=region, stacks=stacks) == 0
        assert plan_lines(dry.getvalue()) == plan_lines(real.getvalue())
        code = [line for line in plan_lines(real.getvalue()) if "code" in line]
        assert code == (
            ["update scf function report-conversion-staging: code (a new package)"] if sources_changed else []
        )


def big_in_a_second_region(cloud: CloudStandIn, package: Path, stacks: Path, settings: str) -> tuple[int, str]:
    """Staging and a stack "big" (`settings`) deployed in ap-guangzhou; then big's plan for ap-shanghai."""
    (stacks / "big.env").write_text("SMS_SDK_APP_ID=1400006666\n" + settings)
    assert run(cloud, package, stacks, {**FIRST, "STACK": "staging"})[0] == 0
    assert run(cloud, package, stacks, {**FIRST, "STACK": "big"})[0] == 0
    return run(cloud, package, stacks, {**FIRST, "STACK": "big", "REGION": "ap-shanghai"})


def test_the_plan_adds_every_stack_of_the_account_in_every_region_to_the_quota(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    # The docs' first example: staging 2 x 100, production 3 x 200 here and again in a second region: 1,400/s.
    status, output = big_in_a_second_region(cloud, package, stacks, "SMS_MAX_RPS=200\nRESERVED_INSTANCES=3\n")
    assert status == 1
    assert (
        "the account's stacks together may start 1400 calls per second (big in ap-guangzhou 600/s, big in "
        "ap-shanghai 600/s, staging in ap-guangzhou 200/s), over its ReportConversion quota of 1000"
    ) in output
    assert not cloud.region("ap-shanghai").functions  # refused before anything changed


def test_stacks_sharing_one_fleet_limit_in_one_redis_count_once(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    # The same stack in a second region, its fleet limit in the same Redis: 200 + 700, not 200 + 700 + 700.
    status, output = big_in_a_second_region(cloud, package, stacks, "SMS_FLEET_MAX_RPS=700\n")
    assert status == 0, output


def test_a_dry_run_and_the_real_run_agree_line_for_line_on_an_empty_account(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    status, dry = run(cloud, package, stacks, {**FIRST, "STACK": "staging"}, dry_run=True)
    assert status == 0, dry
    status, real = run(cloud, package, stacks, {**FIRST, "STACK": "staging"})
    assert status == 0, real
    assert plan_lines(dry) == plan_lines(real)
    assert any(line.startswith("keep scf asynchronous retries") for line in plan_lines(dry))


def test_another_stacks_rate_set_by_hand_to_nonsense_is_a_warning_not_a_crash(
    cloud: CloudStandIn, package: Path, stacks: Path
) -> None:
    assert run(cloud, package, stacks, {**FIRST, "STACK": "staging"})[0] == 0
    variables = cloud.functions[("default", "report-conversion-staging")].config["Environment"]["Variables"]
    for variable in variables:
        if variable["Key"] == "SMS_MAX_RPS":
            variable["Value"] = "abc"  # edited in the console
    status, output = run(cloud, package, stacks, {**FIRST, "STACK": "production"}, dry_run=True)
    assert status == 0, output
    assert "warning: staging in ap-guangzhou: no reserved concurrency, or a rate that is not a number" in output

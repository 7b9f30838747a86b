"""`make deploy` with the real tccli, against the control-plane stand-in over HTTPS, as an operator runs it.

Slow (tccli from PyPI in a throwaway virtual environment under build/, about a second a call): `make
test-slow`. The SDK inside tccli verifies certificates against its certifi bundle only, so that venv's
bundle also trusts a test CA made here; the stand-in verifies every TC3 signature and keeps state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CONFIG_VARIABLES, ROOT
from deploy_doubles import EVERY_FEATURE

from emulator import PERMANENT_KEY
from emulator.cloud import CloudStandIn

# tccli takes about a second a call and a deploy makes some fifty: minutes, not the suite's two.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
TCCLI_VERSION = "3.1.189.1"
SECRET = "tccli-test-signing-secret-0001"
PUSH = "tccli-test-push-token-000001"
REDIS = "redis://:tccli-redis-password@10.0.0.5:6379/0"
BUILD = ROOT / "build"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def test_ca() -> Path:
    """A CA kept under build/ (so the tccli venv's bundle trusts one CA across runs), EC keys: fast."""
    directory = BUILD / "test-ca"
    ca = directory / "ca.pem"
    if not ca.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(directory / "ca.key"), "-out", str(ca), "-days", "3650",
                "-subj", "/CN=deploy test CA")  # fmt: skip
    return directory


@pytest.fixture(scope="module")
def tccli(test_ca: Path) -> Path:
    venv = BUILD / f"tccli-{TCCLI_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}"
    binary = venv / "bin" / "tccli"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             f"tccli=={TCCLI_VERSION}"],
            check=True, capture_output=True,
        )  # fmt: skip
    bundle = Path(
        subprocess.run([str(venv / "bin" / "python"), "-c", "import certifi; print(certifi.where())"],
                       check=True, capture_output=True, text=True).stdout.strip()
    )  # fmt: skip
    ca = (test_ca / "ca.pem").read_text()
    if ca not in bundle.read_text():
        with bundle.open("a") as out:
            out.write("\n" + ca)
    return binary


@pytest.fixture
def cloud(test_ca: Path, tmp_path: Path) -> Iterator[CloudStandIn]:
    key, csr, cert, extensions = (tmp_path / name for name in ("server.key", "server.csr", "server.pem", "san.cnf"))
    extensions.write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
            "-out", str(csr), "-subj", "/CN=127.0.0.1")  # fmt: skip
    openssl("x509", "-req", "-in", str(csr), "-CA", str(test_ca / "ca.pem"), "-CAkey", str(test_ca / "ca.key"),
            "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(extensions))  # fmt: skip
    stand_in = CloudStandIn(cert, key, reads_until_active=2).start()
    yield stand_in
    stand_in.stop()


def deploy(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path, *args: str, **shell: str
) -> subprocess.CompletedProcess[str]:
    """`make deploy` (its command, on a small zip), tccli configured from the environment as `tccli configure` does."""
    env = {key: value for key, value in os.environ.items() if key not in (*CONFIG_VARIABLES, "STACK", "REGION")}
    env.update(
        {
            "HOME": str(tmp_path),  # no ~/.tccli of the machine's
            "TCCLI": str(tccli),
            "DEPLOY_API_ENDPOINT": cloud.endpoint,
            "DEPLOY_POLL_SECONDS": "0.1",
            "TENCENTCLOUD_SECRET_ID": PERMANENT_KEY.secret_id,
            "TENCENTCLOUD_SECRET_KEY": PERMANENT_KEY.secret_key,
            **shell,
        }
    )
    command = [sys.executable, "-m", "tools.deploy", *(args or ("apply",)), "--zip", str(package)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def mutations(cloud: CloudStandIn, since: int) -> list[str]:
    return [a for a in cloud.actions(since) if a.startswith(("Create", "Update", "Modify", "Put", "Delete", "Attach"))]


def test_deploy_with_the_real_tccli_plans_resumes_updates_and_destroys(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path
) -> None:
    first = {"REPORT_SIGNING_SECRET": SECRET, "CMQ_PUSH_TOKEN": PUSH, "REDIS_URL": REDIS}
    # A dry run on an empty account: reads, prints the plan, changes nothing.
    done = deploy(tccli, cloud, package, tmp_path, "apply", "--dry-run", **first)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "would create    scf function report-conversion" in done.stdout
    assert mutations(cloud, 0) == []
    # The first deploy breaks half way (a trigger the account cannot have): one line, no traceback.
    cloud.fail("CreateTrigger", "LimitExceeded.Trigger", "too many triggers")
    done = deploy(tccli, cloud, package, tmp_path, **first)
    assert done.returncode == 1
    assert (
        'deploy: step "scf Function URL report-conversion-url" failed: LimitExceeded.Trigger: too many triggers'
        in done.stdout
    )
    assert "Traceback" not in done.stdout + done.stderr
    assert ("default", "report-conversion") in cloud.functions
    # The same command again continues: nothing is created twice, and it waited for Active between changes.
    since = len(cloud.calls)
    done = deploy(tccli, cloud, package, tmp_path, **first)
    assert done.returncode == 0, done.stdout + done.stderr
    again = mutations(cloud, since)
    assert "CreateRole" not in again
    assert "CreateFunction" not in again
    assert "CreateTrigger" in again
    assert "FunctionStatusError" not in done.stdout
    # An update from a shell that lacks the secrets: they keep their values, what is given updates.
    since = len(cloud.calls)
    done = deploy(tccli, cloud, package, tmp_path, SMS_CONCURRENCY="8", FROM_SHELL="SMS_CONCURRENCY")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [a for a in mutations(cloud, since) if a.startswith("Create")] == []
    variables = {
        item["Key"]: item["Value"]
        for item in cloud.functions[("default", "report-conversion")].config["Environment"]["Variables"]
    }
    assert (variables["REDIS_URL"], variables["CMQ_PUSH_TOKEN"], variables["REPORT_SIGNING_SECRET"]) == (
        REDIS,
        PUSH,
        SECRET,
    )
    assert variables["SMS_CONCURRENCY"] == "8"
    for secret in (SECRET, PUSH, "tccli-redis-password"):
        assert secret not in done.stdout + done.stderr
    # No request file (the zip, the secrets) is left behind.
    assert not (BUILD / "deploy").exists() or list((BUILD / "deploy").iterdir()) == []
    # Teardown removes what deploy made.
    done = deploy(tccli, cloud, package, tmp_path, "destroy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (cloud.functions, cloud.roles, cloud.alarms, cloud.topics) == ({}, {}, {}, {})


def test_a_refused_plan_and_a_missing_tccli_are_one_line_each(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path
) -> None:
    done = deploy(
        tccli, cloud, package, tmp_path, REPORT_SIGNING_SECRET=SECRET, SMS_MAX_RPS="1000", FROM_SHELL="SMS_MAX_RPS"
    )
    assert done.returncode == 1
    assert "deploy: refused: 4 instances x SMS_MAX_RPS=1000 = 4000 calls per second" in done.stdout
    assert mutations(cloud, 0) == []
    done = deploy(Path("/nonexistent/tccli"), cloud, package, tmp_path, REPORT_SIGNING_SECRET=SECRET)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "deploy: tccli could not ask the API (TccliNotRunnable: /nonexistent/tccli" in done.stdout


def test_a_deploy_killed_with_sigkill_leaves_no_secret_for_the_next_run(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path
) -> None:
    requests = BUILD / "deploy"
    requests.mkdir(parents=True, exist_ok=True)
    left = requests / "CreateFunction-left.json"
    left.write_text(json.dumps({"Environment": {"Variables": [{"Key": "REPORT_SIGNING_SECRET", "Value": SECRET}]}}))
    done = deploy(tccli, cloud, package, tmp_path, "apply", "--dry-run", REPORT_SIGNING_SECRET=SECRET)
    assert done.returncode == 0, done.stdout
    assert not left.exists()


def test_with_the_real_tccli_two_stacks_and_two_regions_then_destroy_one(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path
) -> None:
    """The stacks the README's recipe makes: production, staging, staging in a second region; destroying
    staging in one region leaves production whole and keeps the role staging's other region runs with."""
    first = {"REPORT_SIGNING_SECRET": SECRET}
    stack = ROOT / "deploy" / "stacks" / "tccli-test.env"
    # The default stack's 4 x 200, and 2 x 50 in each of two regions: the account's 1,000 calls per second.
    stack.write_text("SMS_MAX_RPS=50\nRESERVED_INSTANCES=2\n")
    try:
        for shell in ({}, {"STACK": "tccli-test"}, {"STACK": "tccli-test", "REGION": "ap-shanghai"}):
            done = deploy(tccli, cloud, package, tmp_path, **first, **shell)
            assert done.returncode == 0, done.stdout + done.stderr
        assert ("default", "report-conversion-tccli-test") in cloud.region("ap-shanghai").functions
        done = deploy(tccli, cloud, package, tmp_path, "destroy", STACK="tccli-test")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("destroy: stack tccli-test")
        assert "stack tccli-test's function in ap-shanghai still uses it" in done.stdout
        assert set(cloud.functions) == {("default", "report-conversion")}
        assert set(cloud.roles) == {"SCF_ReportConversionRole", "SCF_ReportConversionRole-tccli-test"}
        shanghai = cloud.region("ap-shanghai").functions[("default", "report-conversion-tccli-test")]
        assert shanghai.config["Role"] in cloud.roles
    finally:
        stack.unlink()


def test_with_the_real_tccli_a_refused_key_stops_a_real_run_and_a_dry_run_plans_without_the_cloud(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path
) -> None:
    wrong = {"TENCENTCLOUD_SECRET_ID": "AKIDnotakeyofthisaccount0000000000", "TENCENTCLOUD_SECRET_KEY": "wrong"}
    refused = "tccli's credentials were refused (AuthFailure.SecretIdNotFound): run `tccli configure`"
    done = deploy(tccli, cloud, package, tmp_path, "apply", REPORT_SIGNING_SECRET=SECRET, **wrong)
    assert done.returncode == 1
    assert refused in done.stdout
    assert "would create" not in done.stdout
    done = deploy(tccli, cloud, package, tmp_path, "apply", "--dry-run", REPORT_SIGNING_SECRET=SECRET, **wrong)
    assert done.returncode == 0, done.stdout  # no refusal: what needs no account is planned
    assert f"the cloud's state is unknown: {refused}" in done.stdout
    assert "deploy: variables: " in done.stdout
    assert cloud.calls == []  # the stand-in refused the signature before any action ran


def test_with_the_real_tccli_a_loopback_endpoint_in_the_shell_is_ignored_then_refused(
    tccli: Path, cloud: CloudStandIn, package: Path, tmp_path: Path
) -> None:
    shell = {"REPORT_SIGNING_SECRET": SECRET, "SMS_ENDPOINT": "http://127.0.0.1:9000"}
    done = deploy(tccli, cloud, package, tmp_path, "apply", "--dry-run", **shell)
    assert done.returncode == 0, done.stdout
    assert "deploy: ignored from the shell: SMS_ENDPOINT" in done.stdout
    assert "SMS_ENDPOINT=sms.tencentcloudapi.com (template)" in done.stdout
    done = deploy(tccli, cloud, package, tmp_path, "apply", FROM_SHELL="SMS_ENDPOINT", **shell)
    assert done.returncode == 1
    assert "deploy: refused: SMS_ENDPOINT=http://127.0.0.1:9000 is not HTTPS" in done.stdout
    assert mutations(cloud, 0) == []


# ---- make rehearse -----------------------------------------------------------------------------------


def test_make_rehearse_deploys_redeploys_and_destroys_a_stack_with_every_feature_and_records_every_call(
    tccli: Path, package: Path, tmp_path: Path
) -> None:
    """As an operator types it, from a shell that holds real-looking keys and a ~/.tccli: neither is used (the
    stand-in accepts only its own key), and the same shell can `make deploy` afterwards."""
    stack = ROOT / "deploy" / "stacks" / "rehearse-test.env"
    stack.write_text(EVERY_FEATURE)
    home = tmp_path / "home"
    (home / ".tccli").mkdir(parents=True)
    (home / ".tccli" / "default.credential").write_text('{"secretId": "AKIDoperator", "secretKey": "operator"}')
    env = {key: value for key, value in os.environ.items() if key not in (*CONFIG_VARIABLES, "STACK", "REGION")}
    env.update({"HOME": str(home), "TCCLI": str(tccli), "REPORT_SIGNING_SECRET": SECRET, "CMQ_PUSH_TOKEN": PUSH,
                "REDIS_URL": REDIS, "TENCENTCLOUD_SECRET_ID": "AKIDoperatorkey00000000000000000",
                "TENCENTCLOUD_SECRET_KEY": "operator-secret-key"})  # fmt: skip
    try:
        done = subprocess.run(["make", "--no-print-directory", "rehearse", "STACK=rehearse-test", f"ZIP={package}"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)  # fmt: skip
    finally:
        stack.unlink()
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    for plan in ("rehearse: deploy", "rehearse: redeploy", "rehearse: destroy"):
        assert plan in printed
    assert "create          scf CKafka trigger ckafka-abcd1234-verification-success" in printed
    assert "rehearse: done:" in printed
    assert "the second deploy changed nothing" in printed
    assert "Traceback" not in printed
    calls = [json.loads(line) for line in (BUILD / "rehearse" / "calls.jsonl").read_text().splitlines()]
    assert {call["step"] for call in calls} == {"deploy", "redeploy", "destroy"}
    assert all(set(call) == {"step", "service", "version", "action", "region", "params"} for call in calls)
    assert {call["service"] for call in calls} == {"scf", "cam", "cls", "monitor", "region"}
    mutating = ("Create", "Update", "Modify", "Put", "Delete", "Attach", "Detach", "Binding")
    assert [c["action"] for c in calls if c["step"] == "redeploy" and c["action"].startswith(mutating)] == []
    deletes = [c["params"] for c in calls if c["action"] == "DeleteTrigger"]
    assert {(p["Type"], p["Qualifier"]) for p in deletes} == {("http", "$DEFAULT"), ("ckafka", "$DEFAULT")}
    [create] = [c["params"] for c in calls if c["action"] == "CreateFunction"]
    assert create["Code"]["ZipFile"] == "(zip)"
    shown = {v["Key"]: v["Value"] for v in create["Environment"]["Variables"]}
    assert (shown["REPORT_SIGNING_SECRET"], shown["CMQ_PUSH_TOKEN"], shown["REDIS_URL"]) == ("(secret)",) * 3
    text = (BUILD / "rehearse" / "calls.jsonl").read_text()
    for secret in (SECRET, PUSH, "tccli-redis-password", PERMANENT_KEY.secret_key, "operator-secret-key"):
        assert secret not in text
        assert secret not in printed
    assert (home / ".tccli" / "default.credential").read_text().startswith('{"secretId": "AKIDoperator"')


def test_the_vendored_api_definitions_are_what_the_pinned_tccli_ships(tccli: Path) -> None:
    from emulator.cloud import extract

    services = next((tccli.parent.parent / "lib").glob("python3.*/site-packages/tccli/services"))
    for service in extract.VERSIONS:
        vendored = json.loads((Path(extract.HERE) / f"{service}.json").read_text(encoding="utf-8"))
        assert vendored == json.loads(json.dumps(extract.extract(services, service))), service

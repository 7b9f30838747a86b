"""`make rehearse`'s own words and what it writes (the whole rehearsal, with the real tccli, is slow: in
test_deploy_with_tccli.py)."""

from __future__ import annotations

import io
from pathlib import Path

from tools.rehearse import main, masked


def test_a_calls_log_shows_secrets_and_the_zip_as_placeholders_and_everything_else_as_sent() -> None:
    secrets = frozenset({"s3cret-signing-value", "redis-pass-77"})
    params = {
        "FunctionName": "report-conversion",
        "Code": {"ZipFile": "UEsDBBQAAAAIAA=="},
        "Environment": {
            "Variables": [
                {"Key": "REPORT_SIGNING_SECRET", "Value": "s3cret-signing-value"},
                {"Key": "CMQ_PUSH_TOKEN", "Value": "short"},  # a secret by its name, whatever its value
                {"Key": "REDIS_URL", "Value": "redis://:redis-pass-77@10.0.0.5:6379/0"},
                {"Key": "SMS_MAX_RPS", "Value": "100"},
            ]
        },
        "Description": "contains s3cret-signing-value by accident",
    }
    shown = masked(params, secrets)
    assert shown["Code"] == {"ZipFile": "(zip)"}
    assert [item["Value"] for item in shown["Environment"]["Variables"]] == ["(secret)", "(secret)", "(secret)", "100"]
    assert shown["Description"] == "(secret)"
    assert shown["FunctionName"] == "report-conversion"


def test_a_package_that_is_not_there_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["--zip", str(tmp_path / "missing.zip")], {}, out) == 2
    assert out.getvalue() == f"rehearse: no package at {tmp_path / 'missing.zip'}: make package, or leave ZIP unset\n"


def test_the_trust_hook_points_certifi_at_the_stand_ins_ca_and_still_runs_the_pythons_own_sitecustomize(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from tools.rehearse import trust

    ca = tmp_path / "ca.pem"
    ca.write_text("not read here\n")
    hooked = trust(tmp_path / "trust", ca)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import builtins\nbuiltins.THEIRS_RAN = True\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hooked), str(theirs)])}
    code = "import builtins, certifi; print(certifi.where()); print(getattr(builtins, 'THEIRS_RAN', False))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [str(ca), "True"]

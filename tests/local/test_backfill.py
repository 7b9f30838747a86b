"""`make backfill`: validated first, reported through the function's pipeline, a ledger per destination that
survives SIGKILL, failures fed back in, and replay from the function's own logs."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import CONFIG_VARIABLES, PERMANENT_KEY, ROOT, FakeClock, RedisServer, free_port, scf_context

from emulator import Fault, SmsEmulator
from local.backfill import parser, run
from sms_conversion.handler import Application
from sms_conversion.responder import DeploymentFaultRaised


def environ(emulator: SmsEmulator, **extra: str) -> dict[str, str]:
    return {
        "SMS_ENDPOINT": emulator.endpoint,
        "TENCENTCLOUD_SECRET_ID": PERMANENT_KEY.secret_id,
        "TENCENTCLOUD_SECRET_KEY": PERMANENT_KEY.secret_key,
        **extra,
    }


def write_csv(
    path: Path, rows: list[dict[str, object]], header: tuple[str, ...] = ("SmsSdkAppId", "SerialNo", "ConversionTime")
) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def backfill(path: Path, env: dict[str, str], *args: str, clock: FakeClock | None = None) -> tuple[int, str]:
    err = io.StringIO()
    status = run(parser().parse_args([str(path), *args]), env, clock, err)
    return status, err.getvalue()


@pytest.fixture
def conversions(tmp_path: Path) -> Path:
    """60 rows; lines 12, 31 and 50 (file lines, the header being line 1) are invalid."""
    rows: list[dict[str, object]] = [
        {"SmsSdkAppId": "1400006666", "SerialNo": f"5000:{index:06d}", "ConversionTime": 1_700_000_000 + index}
        for index in range(60)
    ]
    rows[10]["SerialNo"] = ""
    rows[29]["ConversionTime"] = "1700000000000"  # milliseconds
    rows[48]["SmsSdkAppId"] = "app"
    return write_csv(tmp_path / "conversions.csv", rows)


def test_invalid_rows_are_listed_by_line_and_nothing_is_reported(conversions: Path, emulator: SmsEmulator) -> None:
    status, output = backfill(conversions, environ(emulator))
    assert status == 2
    assert f"{conversions}:12: SerialNo: is required" in output  # an empty cell is a missing value
    assert f"{conversions}:31: ConversionTime: looks like milliseconds" in output
    assert f"{conversions}:50: SmsSdkAppId: must be a string of 1 to 20 digits" in output
    assert "3 invalid row(s)" in output
    assert emulator.snapshot()["requests"] == 0


def test_skip_invalid_reports_the_rest_and_a_rerun_calls_nothing(conversions: Path, emulator: SmsEmulator) -> None:
    status, output = backfill(conversions, environ(emulator, SMS_CONCURRENCY="8"), "--skip-invalid")
    assert status == 0, output
    assert "reported 57, already reported 0, invalid 3, failed 0" in output
    assert len(emulator.reports) == 57
    status, output = backfill(conversions, environ(emulator), "--skip-invalid")
    assert status == 0
    assert "reported 0, already reported 57, invalid 3, failed 0" in output
    assert emulator.snapshot()["requests"] == 57


def test_dry_run_validates_and_counts_without_calling(conversions: Path, emulator: SmsEmulator) -> None:
    status, output = backfill(conversions, environ(emulator), "--skip-invalid", "--dry-run")
    assert status == 0
    assert f"57 row(s) to report to {emulator.endpoint} (ap-guangzhou), 0 already reported there, 3 invalid" in output
    assert emulator.snapshot()["requests"] == 0


def test_failures_are_written_out_and_fed_back_in(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = write_csv(tmp_path / "c.csv", [{"SerialNo": f"5000:{i}"} for i in range(20)], header=("SerialNo",))
    emulator.inject(
        Fault(error_code="FailedOperation.X", serial_no="5000:3"),
        Fault(error_code="InternalError", serial_no="5000:7", times=9),
    )
    env = environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_MAX_ATTEMPTS="2")
    status, output = backfill(path, env)
    assert status == 1
    failed = tmp_path / "c.failed.csv"
    assert "2 row(s) still failing" in output
    assert list(csv.DictReader(failed.open())) == [{"SerialNo": "5000:3"}, {"SerialNo": "5000:7"}]
    emulator.reset()
    status, output = backfill(failed, env)
    assert status == 0
    assert sorted(report["SerialNo"] for report in emulator.reports) == ["5000:3", "5000:7"]


def test_json_lines_and_aliases(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"serial_no": "j-1", "sms_sdk_app_id": "1400006666"}\n\n{"serialNo": "j-2", "smsSdkAppId": 1400000001}\n[1]\n'
    )
    status, output = backfill(path, environ(emulator), "--skip-invalid")
    assert status == 0
    assert f"{path}:4: must be a JSON object" in output
    assert sorted(report["SerialNo"] for report in emulator.reports) == ["j-1", "j-2"]


def test_the_rate_limit_applies(tmp_path: Path, emulator: SmsEmulator, clock: FakeClock) -> None:
    path = write_csv(tmp_path / "r.csv", [{"SerialNo": f"r-{i}"} for i in range(25)], header=("SerialNo",))
    env = environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_MAX_RPS="10", SMS_CONCURRENCY="1")
    assert backfill(path, env, clock=clock)[0] == 0
    assert clock.slept == pytest.approx([0.1] * 24)  # 10 a second: each start one interval after the last


@pytest.mark.redis
def test_what_the_function_reported_is_not_reported_again(
    tmp_path: Path, redis_env: RedisServer, scf_env: SmsEmulator
) -> None:
    Application().handle({"SerialNo": "seen-1"}, scf_context())
    path = write_csv(tmp_path / "s.csv", [{"SerialNo": "seen-1"}, {"SerialNo": "new-1"}], header=("SerialNo",))
    status, output = backfill(path, environ(scf_env, SMS_SDK_APP_ID="1400006666", REDIS_URL=redis_env.url))
    assert status == 0
    assert "reported 1, already reported 1" in output
    assert [report["SerialNo"] for report in scf_env.reports] == ["seen-1", "new-1"]


@pytest.mark.slow
def test_ctrl_c_saves_the_ledger_and_a_rerun_finishes_each_row_exactly_once(
    tmp_path: Path, emulator: SmsEmulator
) -> None:
    path = write_csv(tmp_path / "big.csv", [{"SerialNo": f"c-{i}"} for i in range(100)], header=("SerialNo",))
    emulator.latency = 0.01
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env.update(environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_CONCURRENCY="4", HOME=str(tmp_path)))
    command = [sys.executable, "-m", "local.backfill", str(path)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    while len(emulator.reports) < 20:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, output = process.communicate(timeout=30)
    assert process.returncode == 130, output
    assert "interrupted: run again to finish" in output
    first = len(emulator.reports)
    assert 20 <= first < 100
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"already reported {first}" in done.stderr
    assert Counter(report["SerialNo"] for report in emulator.reports) == Counter(f"c-{i}" for i in range(100))
    assert (tmp_path / "big.csv.ledger.sqlite").is_file()


def test_a_row_whose_app_id_is_not_allowed_is_listed_as_invalid_and_never_called(
    tmp_path: Path, emulator: SmsEmulator
) -> None:
    path = write_csv(
        tmp_path / "a.csv",
        [{"SmsSdkAppId": "1400006666", "SerialNo": "in"}, {"SmsSdkAppId": "1400000001", "SerialNo": "out"}],
    )
    env = environ(emulator, SMS_ALLOWED_SDK_APP_IDS="1400006666")
    status, output = backfill(path, env)
    assert status == 2
    assert f"{path}:3: SmsSdkAppId: is not in SMS_ALLOWED_SDK_APP_IDS" in output
    assert emulator.snapshot()["requests"] == 0
    status, output = backfill(path, env, "--skip-invalid")
    assert status == 0
    assert [report["SerialNo"] for report in emulator.reports] == ["in"]


def test_a_rehearsal_against_the_emulator_does_not_poison_the_real_run(tmp_path: Path, emulator: SmsEmulator) -> None:
    """The ledger records where each row was reported: another endpoint reports them again."""
    path = write_csv(tmp_path / "r.csv", [{"SerialNo": f"r-{i}"} for i in range(3)], header=("SerialNo",))
    with SmsEmulator() as real:  # stands in for the real API: another endpoint
        assert backfill(path, environ(emulator, SMS_SDK_APP_ID="1400006666"))[0] == 0
        status, output = backfill(path, environ(real, SMS_SDK_APP_ID="1400006666"))
        assert status == 0
        assert "reported 3, already reported 0" in output
        assert len(real.reports) == 3
        held = output.split("the ledger holds ")[1].strip().split("; ")
        assert sorted(held) == sorted(
            [f"3 to {emulator.endpoint} (ap-guangzhou)", f"3 to {real.endpoint} (ap-guangzhou)"]
        )
        # Same endpoint, another region: another destination too.
        status, output = backfill(path, environ(real, SMS_SDK_APP_ID="1400006666", SMS_REGION="ap-beijing"))
        assert "reported 3, already reported 0" in output


def test_a_deployment_fault_stops_the_backfill_with_the_hint_and_a_rerun_finishes(
    tmp_path: Path, emulator: SmsEmulator
) -> None:
    path = write_csv(tmp_path / "f.csv", [{"SerialNo": f"f-{i}"} for i in range(100)], header=("SerialNo",))
    env = environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_CONCURRENCY="4")
    emulator.account.denied.add(PERMANENT_KEY.secret_id)
    status, output = backfill(path, env)
    assert status == 1
    assert "stopped by a deployment fault: AuthFailure.UnauthorizedOperation: CAM denies" in output
    assert emulator.snapshot()["requests"] <= 4
    emulator.account.denied.clear()
    status, output = backfill(path, env)
    assert (status, len(emulator.reports)) == (0, 100)


@pytest.mark.slow
def test_sigkill_at_any_moment_re_sends_at_most_the_calls_in_flight(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = write_csv(tmp_path / "k.csv", [{"SerialNo": f"k-{i}"} for i in range(300)], header=("SerialNo",))
    emulator.latency = 0.002
    env = {key: value for key, value in os.environ.items() if key not in CONFIG_VARIABLES}
    env.update(environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_CONCURRENCY="8", HOME=str(tmp_path)))
    command = [sys.executable, "-m", "local.backfill", str(path)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    while len(emulator.reports) < 100:
        time.sleep(0.002)
    process.kill()  # SIGKILL: no handler runs, nothing is flushed
    process.wait(timeout=30)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = Counter(report["SerialNo"] for report in emulator.reports)
    assert set(counts) == {f"k-{i}" for i in range(300)}
    assert sum(counts.values()) - 300 <= 8  # at most SMS_CONCURRENCY calls were in flight at the kill


# ---- replay from the function's logs --------------------------------------------------------------


def function_logs(emulator: SmsEmulator, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[str]:
    """What the function printed for a batch the API refused at first (a role without the CAM action)."""
    from conftest import FakeClock, ckafka_event

    from sms_conversion.instance import WarmInstance

    app = Application(WarmInstance(FakeClock()))
    emulator.account.denied.add("AKIDEMULATOR00TEMPORARY0000000000001")
    event = ckafka_event([{"SerialNo": f"l-{i}", "ConversionTime": 1_700_000_000 + i} for i in range(10)] + ["{poison"])
    with pytest.raises(DeploymentFaultRaised):
        app.handle(event, scf_context())
    emulator.account.denied.clear()
    # A second invocation reported two of them before the redeliveries ran out.
    app.handle(ckafka_event([{"SerialNo": "l-3", "ConversionTime": 1_700_000_003}, {"SerialNo": "l-7"}]), scf_context())
    return [line for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.mark.usefixtures("scf_env")
def test_from_logs_reports_what_the_function_could_not(
    tmp_path: Path, emulator: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "function.log"
    logs.write_text("\n".join(["START RequestId: x", *function_logs(emulator, capsys, tmp_path)]) + "\n")
    emulator.reset()
    status, output = backfill(logs, environ(emulator), "--from-logs")
    assert status == 0, output
    assert "for 10 message(s); 8 not reported; 1 line(s) of poison records carry no message" in output
    assert sorted(report["SerialNo"] for report in emulator.reports) == sorted(
        f"l-{i}" for i in range(10) if i not in (3, 7)
    )
    # The value sent (ConversionTime), not the time of the replay.
    assert {report["ConversionTime"] for report in emulator.reports} == {
        1_700_000_000 + i for i in (0, 1, 2, 4, 5, 6, 8, 9)
    }
    status, output = backfill(logs, environ(emulator), "--from-logs")
    assert "reported 0, already reported 8" in output


@pytest.mark.usefixtures("scf_env")
@pytest.mark.parametrize("shape", ["fields", "message_field", "array"])
def test_from_logs_reads_a_cls_export(
    tmp_path: Path, emulator: SmsEmulator, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    """CLS exports each log as JSON: the function's fields split out beside CLS's and SCF's own (values may
    become strings, newest first), or the printed line kept whole in SCF_Message."""
    lines = [json.loads(line) for line in function_logs(emulator, capsys, tmp_path)]
    exported = []
    for number, line in enumerate(lines):
        meta = {"__TIMESTAMP__": str(1_764_000_000_000 + number), "SCF_RequestId": "r", "SCF_Type": "Custom"}
        if shape == "message_field":
            exported.append({**meta, "SCF_Message": json.dumps(line)})
        else:
            exported.append({**meta, **{key: str(value) for key, value in line.items()}})
    exported.reverse()  # CLS lists newest first
    path = tmp_path / "export.json"
    if shape == "array":
        path.write_text(json.dumps(exported))
    else:
        path.write_text("\n".join(json.dumps(item) for item in exported) + "\n")
    emulator.reset()
    status, output = backfill(path, environ(emulator), "--from-logs")
    assert status == 0, output
    assert sorted(report["SerialNo"] for report in emulator.reports) == sorted(
        f"l-{i}" for i in range(10) if i not in (3, 7)
    )


# ---- the input explains itself ------------------------------------------------------------------


def test_a_wrong_header_stops_before_any_call_with_one_line_naming_both(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("app,serial\n" + "".join(f"1400006666,5000:{i}\n" for i in range(10_003)))
    status, err = backfill(path, environ(emulator))
    assert status == 2
    assert err.strip().splitlines() == [
        f"backfill: {path}: the header has unknown column(s) app, serial; missing SerialNo, SmsSdkAppId "
        "(is the first line the header?): found app, serial; expected SmsSdkAppId, SerialNo, optional "
        "ConversionTime (or snake_case / camelCase: serial_no, serialNo, ...). Nothing was reported."
    ]
    assert emulator.snapshot()["requests"] == 0


def test_a_one_row_file_without_a_header_is_an_error_not_a_silent_success(
    tmp_path: Path, emulator: SmsEmulator
) -> None:
    path = tmp_path / "one.csv"
    path.write_text("1400006666,5000:only-row,1700000000\n")
    status, err = backfill(path, environ(emulator))
    assert status == 2
    assert "(is the first line the header?): found 1400006666, 5000:only-row, 1700000000" in err
    assert emulator.snapshot()["requests"] == 0


def test_an_unknown_column_beside_known_ones_is_named(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = write_csv(tmp_path / "extra.csv", [{"SerialNo": "x", "phone": "1"}], header=("SerialNo", "phone"))
    status, err = backfill(path, environ(emulator, SMS_SDK_APP_ID="1400006666"))
    assert status == 2
    assert "the header has unknown column(s) phone: found SerialNo, phone" in err


def test_without_an_app_id_column_the_function_default_must_be_set(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = write_csv(tmp_path / "serials.csv", [{"serial_no": "5000:s-1"}], header=("serial_no",))
    status, err = backfill(path, environ(emulator))
    assert status == 2
    assert "missing SmsSdkAppId" in err
    assert backfill(path, environ(emulator, SMS_SDK_APP_ID="1400006666"))[0] == 0
    assert [report["SerialNo"] for report in emulator.reports] == ["5000:s-1"]


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("empty.csv", "", "has no rows to report (it is empty)"),
        ("header.csv", "SmsSdkAppId,SerialNo\n", "has no rows to report (only a header)"),
        ("empty.jsonl", "\n\n", "has no rows to report (it is empty)"),
    ],
)
def test_an_empty_or_header_only_file_is_an_error(
    name: str, text: str, why: str, tmp_path: Path, emulator: SmsEmulator
) -> None:
    path = tmp_path / name
    path.write_text(text)
    status, err = backfill(path, environ(emulator, SMS_SDK_APP_ID="1400006666"))
    assert status == 2
    assert why in err


def test_every_row_line_carries_file_and_line(tmp_path: Path, emulator: SmsEmulator) -> None:
    rows: list[dict[str, object]] = [{"SmsSdkAppId": "1400006666", "SerialNo": f"5000:f-{i}"} for i in range(3)]
    rows.append({"SmsSdkAppId": "1400006666", "SerialNo": ""})
    path = write_csv(tmp_path / "rows.csv", rows, header=("SmsSdkAppId", "SerialNo"))
    emulator.inject(Fault(error_code="InternalError.SendAndRecvFail", serial_no="5000:f-1", times=99))
    status, err = backfill(path, environ(emulator, SMS_MAX_ATTEMPTS="1"), "--skip-invalid")
    assert status == 1
    assert f"{path}:5: SerialNo: is required" in err  # an empty cell is a missing value
    assert f"{path}:3: 5000:f-1: InternalError.SendAndRecvFail:" in err


def test_rps_sets_the_pace_and_the_arithmetic_is_said_first(
    tmp_path: Path, emulator: SmsEmulator, clock: FakeClock
) -> None:
    path = write_csv(tmp_path / "r.csv", [{"SerialNo": f"p-{i}"} for i in range(5)], header=("SerialNo",))
    env = environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_MAX_RPS="200", SMS_CONCURRENCY="1")
    status, err = backfill(path, env, "--rps", "4", clock=clock)
    assert status == 0
    assert clock.slept == pytest.approx([0.25] * 4)
    assert (
        "backfill: 5 row(s) at 4 rows/s (--rps) take about 1 s; leaves 996/s of the "
        "account's 1000/s ReportConversion quota to production"
    ) in err
    assert f"backfill: this run reported 5 row(s) to {emulator.endpoint} (ap-guangzhou)" in err


def test_the_pace_line_names_the_variable_and_where_it_came_from(
    tmp_path: Path, emulator: SmsEmulator, clock: FakeClock
) -> None:
    path = write_csv(tmp_path / "r.csv", [{"SerialNo": "v-1"}], header=("SerialNo",))
    args = parser().parse_args([str(path)])
    args.rate_from = "SMS_MAX_RPS from template.yaml"
    err = io.StringIO()
    run(args, environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_MAX_RPS="200"), clock, err)
    assert "at 200 rows/s (SMS_MAX_RPS from template.yaml; --rps N to change)" in err.getvalue()


def test_a_missing_file_is_a_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    from local.backfill import main

    with pytest.raises(SystemExit) as exited:
        main([""])  # what `make backfill` without FILE= passes
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: make backfill")
    assert "FILE is required: make backfill FILE=conversions.csv" in err
    assert "Is a directory" not in err


def test_a_run_that_reported_nothing_says_so_and_why(tmp_path: Path, emulator: SmsEmulator) -> None:
    path = write_csv(tmp_path / "down.csv", [{"SerialNo": f"x-{i}"} for i in range(3)], header=("SerialNo",))
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: the API is down
    env = {**environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_MAX_ATTEMPTS="1"), "SMS_ENDPOINT": down}
    status, err = backfill(path, env)
    assert status == 1
    assert "backfill: reported 0, already reported 0, invalid 0, failed 3" in err
    assert (
        f"backfill: this run reported nothing to {down} (ap-guangzhou): the first failure was ClientNetworkError" in err
    )
    assert "this run reported to" not in err


def test_the_pace_line_for_a_million_rows_at_the_templates_rate() -> None:
    from local.backfill import pace
    from sms_conversion.settings import load_settings

    line = pace(1_000_000, load_settings({"SMS_MAX_RPS": "200"}), "SMS_MAX_RPS from template.yaml; --rps N to change")
    assert "1000000 row(s) at 200 rows/s" in line
    assert "take about 83 min; leaves 800/s of the account's 1000/s" in line


@pytest.mark.parametrize("rate", ["0", "1001", "fast"])
def test_an_rps_outside_the_quota_is_one_usage_line(rate: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parser().parse_args(["f.csv", "--rps", rate])
    assert exited.value.code == 2
    assert "--rps: must be a whole number of calls per second from 1 to 1000" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_off_a_terminal_is_plain_lines_and_on_a_terminal_a_bar(
    tmp_path: Path, emulator: SmsEmulator, clock: FakeClock
) -> None:
    path = write_csv(tmp_path / "g.csv", [{"SerialNo": f"g-{i}"} for i in range(30)], header=("SerialNo",))
    env = environ(emulator, SMS_SDK_APP_ID="1400006666", SMS_MAX_RPS="2", SMS_CONCURRENCY="1")
    status, err = backfill(path, env, clock=clock)
    assert status == 0
    assert "\r" not in err
    plain = [line for line in err.splitlines() if line.startswith("backfill: ") and "row(s), " in line]
    # 30 rows at 2/s on the injected clock (14.5 s): a line every 5 s of it, and the last.
    assert [line.split(",")[0] for line in plain] == [
        "backfill: 11/30 row(s)",
        "backfill: 21/30 row(s)",
        "backfill: 30/30 row(s)",
    ]
    terminal = _Terminal()
    status = run(parser().parse_args([str(path), "--ledger", str(tmp_path / "other.sqlite")]), env, clock, terminal)
    assert status == 0
    assert "\r" in terminal.getvalue()

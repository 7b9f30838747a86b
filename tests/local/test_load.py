"""`make load`: N signed conversions at a set rate through a Function URL, against `make serve`'s server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from conftest import FakeClock

import local.load
from emulator import SmsEmulator
from local.serve import make_server
from sms_conversion.handler import Application
from sms_conversion.instance import WarmInstance

SECRET = "load-test-secret-0001"


@pytest.fixture
def served(scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("REPORT_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    app = Application(WarmInstance())
    server = make_server(app.handle, dict)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_every_conversion_is_signed_reported_and_counted(served: str, scf_env: SmsEmulator) -> None:
    summary = local.load.run(served, 20, 1000.0, "1400006666", SECRET, workers=4)
    assert summary["statuses"] == {"200": 20}
    prefix = str(summary["serial_prefix"])
    assert sorted(report["SerialNo"] for report in scf_env.reports) == sorted(f"{prefix}{n}" for n in range(20))


def test_a_wrong_secret_is_counted_as_401_not_raised(served: str, scf_env: SmsEmulator) -> None:
    summary = local.load.run(served, 3, 1000.0, "1400006666", "wrong", workers=1)
    assert summary["statuses"] == {"401": 3}
    assert scf_env.reports == []


def test_starts_are_paced_one_every_1_over_rps(served: str, clock: FakeClock) -> None:
    local.load.run(served, 5, 4.0, "1400006666", SECRET, workers=1, clock=clock.monotonic, sleep=clock.sleep)
    assert clock.slept == pytest.approx([0.25] * 4)


def test_a_bad_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert local.load.main(["not-a-url"]) == 2
    assert capsys.readouterr().err.strip() == (
        "make load: URL must be the Function URL (https://...); make serve prints a local one"
    )

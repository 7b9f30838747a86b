"""Sizing that holds: the template's memory, rate cap, instances and batch size against what `make bench`
measured per CPU share (deploy/sizing.json), and `make deploy` saying so."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from deploy_doubles import FIRST, InProcessCloud

from emulator.cloud import CloudStandIn
from local.runtime import function_from_template
from tools.deploy.desired import DEFAULT_QUOTA_RPS, Desired, template_variables
from tools.deploy.plan import Deployer, Plan
from tools.sizing import Sizing, capacity_rps


def template_sizing() -> Sizing:
    desired = Desired.from_template({}, Path("unused.zip"), frozenset())
    return desired.sizing(template_variables(desired.properties))


def test_the_templates_rate_cap_is_reachable_at_its_memory() -> None:
    sized = template_sizing()
    assert sized.cap_rps <= sized.capacity_rps, sized
    assert sized.warnings() == []


def test_the_fleet_the_template_promises_stays_within_the_quota_and_is_reached() -> None:
    sized = template_sizing()
    assert sized.instances * sized.cap_rps <= DEFAULT_QUOTA_RPS
    assert sized.instances * sized.rate == sized.instances * sized.cap_rps  # the cap binds, not the CPU


def test_a_full_ckafka_batch_finishes_well_within_the_timeout() -> None:
    sized = template_sizing()
    assert sized.batch is not None
    assert sized.batch / sized.rate <= sized.timeout_s * 0.8
    _, _, properties = function_from_template()
    assert properties["Timeout"] == sized.timeout_s


@pytest.mark.parametrize(("memory", "capacity"), [(64, 45), (128, 90), (200, 90), (256, 220), (3072, 650)])
def test_capacity_between_measured_sizes_is_the_smaller_ones(memory: int, capacity: int) -> None:
    assert capacity_rps(memory) == capacity


def test_a_cap_above_the_capacity_and_a_batch_past_the_timeout_are_warned() -> None:
    sized = Sizing(memory_mb=128, capacity_rps=90, cap_rps=200, instances=4, batch=10_000, timeout_s=30)
    warnings = sized.warnings()
    assert warnings[0].startswith("SMS_MAX_RPS=200 is above the ~90 records/s one 128 MB instance can report")
    assert warnings[1].startswith("a full CKafka batch of 10000 needs about 111 s")


def test_make_deploy_prints_the_capacity_beside_the_cap_and_warns(package: Path) -> None:
    out = io.StringIO()
    shell = {**FIRST, "SMS_MAX_RPS": "240", "RESERVED_INSTANCES": "4", "FROM_SHELL": "SMS_MAX_RPS"}
    desired = Desired.from_template(shell, package, frozenset())
    desired.properties = {**desired.properties, "MemorySize": 128}
    deployer = Deployer(
        InProcessCloud(CloudStandIn(reads_until_active=2)),
        desired,
        Plan(out, dry_run=True),
        poll_seconds=0,
        sleep=lambda _: None,
    )
    deployer.apply()
    text = out.getvalue()
    assert (
        "deploy: sizing: about 90 records/s per 128 MB instance (deploy/sizing.json), rate cap SMS_MAX_RPS=240; "
        "4 instances reach about 360 records/s; a full CKafka batch of 1000 takes about 11 s"
    ) in text
    assert "deploy: warning: SMS_MAX_RPS=240 is above the ~90 records/s one 128 MB instance can report" in text


def test_the_sizing_page_shows_the_figures_deploy_plans_with() -> None:
    import json
    import re

    from conftest import ROOT

    figures = json.loads((ROOT / "deploy" / "sizing.json").read_text())
    page = (ROOT / "docs" / "sizing.md").read_text()
    table = page.split("<!-- sizing:start -->", 1)[1].split("<!-- sizing:end -->", 1)[0]
    rows = re.findall(r"\| (\d+) MB \| (\d+)% \| (\d+) \| ([\d.]+) s \| ([\d.]+) \|", table)
    expected = [
        (size, str(figures["cpu_share_percent"][size]), str(rate), f"{figures['cold_start_seconds'][size]:g}",
         f"{int(size) / 1024 * 1000 / rate:.2f}")
        for size, rate in sorted(figures["records_per_second"].items(), key=lambda item: int(item[0]))
    ]  # fmt: skip
    assert rows == expected

"""The published HTTP contract: openapi.yaml is valid OpenAPI (what `make serve` answers is checked against it
by schemathesis in test_contract_served.py, in the slow suite)."""

from __future__ import annotations

import yaml
from conftest import ROOT
from openapi_spec_validator import validate

SPEC = ROOT / "openapi.yaml"


def test_the_spec_is_valid_openapi() -> None:
    validate(yaml.safe_load(SPEC.read_text()))

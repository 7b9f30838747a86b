"""The published HTTP contract under generated requests: `make serve`, signing off and on, checked by schemathesis.

Slow (two real `make serve` processes, hundreds of requests in CI): `make test-slow`. The spec itself is
checked in the fast suite (test_contract.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from conftest import ROOT, Served
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.call import signed_headers

SPEC = ROOT / "openapi.yaml"
pytestmark = pytest.mark.slow
SECRET = "contract-signing-secret-01"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_path(SPEC)
if os.environ.get("CI") != "true":
    # Locally, generated examples only; CI adds the coverage phase (boundary values of every field).
    schema.config.phases.update(phases=["examples", "fuzzing"])


def start_serve(home: Path, extra: dict[str, str]) -> Served:
    """`make serve`'s command, on a free port, against its embedded emulator."""
    return Served(home, {"LOG_LEVEL": "WARNING", **extra})


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Served]]:
    servers = {
        "open": start_serve(tmp_path_factory.mktemp("open"), {}),
        "signed": start_serve(tmp_path_factory.mktemp("signed"), {"REPORT_SIGNING_SECRET": SECRET}),
    }
    yield servers
    for server in servers.values():
        server.stop()


class SignedSession(requests.Session):
    """Signs each prepared request's final body, as a caller would (README, Signing)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body or b""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        assert isinstance(raw, bytes)  # schemathesis sends whole bodies, never streams
        request.headers.update({k: v for k, v in signed_headers(SECRET, raw).items() if k != "Content-Type"})
        return super().send(request, **kwargs)


def test_make_serve_answers_a_curl_like_request(served: dict[str, Served]) -> None:
    answer = requests.post(
        served["open"].url, json={"SerialNo": "5000:serve-1", "SmsSdkAppId": "1400006666"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.json()["Results"][0]["Outcome"] == "reported"
    assert requests.post(served["signed"].url, json={"SerialNo": "5000:serve-2"}, timeout=10).status_code == 401


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_conforms_with_signing_off(case: schemathesis.Case[Any], served: dict[str, Served]) -> None:
    case.call_and_validate(base_url=served["open"].url, checks=CHECKS)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_conforms_with_signing_on(case: schemathesis.Case[Any], served: dict[str, Served]) -> None:
    with SignedSession() as session:
        response = case.call(base_url=served["signed"].url, session=session)
    case.validate_response(response, checks=CHECKS)
    assert response.status_code != 401 or case.method != "POST"  # every signed request gets through

"""The deploy tests' shared pieces: the control-plane stand-in called in-process, and a first deploy's shell."""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.cloud import CloudStandIn
from emulator.signing import ApiError
from tools.deploy.tccli import CloudError

SECRET = "deploy-test-signing-secret-0001"
PUSH = "deploy-test-push-token-000001"
REDIS = "redis://:hunter2-redis-password@10.0.0.5:6379/0"
MUTATING = re.compile(r"^(Create|Update|Modify|Put|Delete|Attach|Detach|Binding)")


class InProcessCloud:
    """The stand-in's dispatch without the transport: requests and answers judged by Tencent's definitions there."""

    def __init__(self, stand_in: CloudStandIn, region: str = "ap-guangzhou") -> None:
        self.stand_in = stand_in
        self.region = region

    def call(self, service: str, action: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        try:
            result = self.stand_in.dispatch(service, action, json.loads(json.dumps(params)), region or self.region)
        except ApiError as exc:
            raise CloudError(exc.code, exc.message) from None
        return result


FIRST = {"REPORT_SIGNING_SECRET": SECRET, "CMQ_PUSH_TOKEN": PUSH, "REDIS_URL": REDIS}

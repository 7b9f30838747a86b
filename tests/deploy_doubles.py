"""The deploy tests' shared pieces: the control-plane stand-in called in-process, and a first deploy's shell."""

from __future__ import annotations

import importlib
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


# The SDK model modules tccli answers through (tccli/services/<service>/<service>_client.py).
_MODELS = {
    "scf": "tencentcloud.scf.v20180416.models",
    "cam": "tencentcloud.cam.v20190116.models",
    "cls": "tencentcloud.cls.v20201016.models",
    "monitor": "tencentcloud.monitor.v20180724.models",
    "region": "tencentcloud.region.v20220627.models",
}


def as_tccli_prints(service: str, action: str, result: dict[str, Any]) -> dict[str, Any]:
    """An answer as tccli prints it: read into the SDK's response model and written back (`rsp.to_json_string()`),
    so every member the model has is there, null where the service sent none."""
    response = getattr(importlib.import_module(_MODELS[service]), f"{action}Response")()
    response._deserialize(json.loads(json.dumps({**result, "RequestId": "in-process"})))
    printed: dict[str, Any] = json.loads(response.to_json_string())
    return printed


class InProcessCloud:
    """The stand-in's dispatch without the transport (requests and answers judged by Tencent's definitions there),
    its answers as tccli prints them."""

    def __init__(self, stand_in: CloudStandIn, region: str = "ap-guangzhou") -> None:
        self.stand_in = stand_in
        self.region = region

    def call(self, service: str, action: str, params: dict[str, Any], region: str | None = None) -> dict[str, Any]:
        try:
            result = self.stand_in.dispatch(service, action, json.loads(json.dumps(params)), region or self.region)
        except ApiError as exc:
            raise CloudError(exc.code, exc.message) from None
        return as_tccli_prints(service, action, result)


FIRST = {"REPORT_SIGNING_SECRET": SECRET, "CMQ_PUSH_TOKEN": PUSH, "REDIS_URL": REDIS}

# A stack with every feature on: CKafka, a VPC, a robot and CAM receivers (the push token and Redis come from FIRST).
EVERY_FEATURE = """\
SMS_SDK_APP_ID=1400006666
SMS_MAX_RPS=100
RESERVED_INSTANCES=2
CKAFKA_INSTANCE=ckafka-abcd1234
CKAFKA_TOPIC=verification-success
CKAFKA_MAX_MSG_NUM=500
VPC_ID=vpc-abcd1234
SUBNET_ID=subnet-abcd1234
ALARM_WEBHOOK=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=full
ALARM_WEBHOOK_TYPE=WeCom
ALARM_CAM_UINS=100000000011,100000000012
ALARM_CAM_GROUPS=20001
"""


def plan_lines(output: str) -> list[str]:
    """The plan's resource lines, as a dry run and a real run both print them ("would create" and "create")."""
    lines = []
    for line in output.splitlines():
        match = re.match(r"^\s+(?:would )?(create|update|keep|leave|delete)\s+(.*)$", line)
        if match:
            lines.append(f"{match[1]} {match[2]}")
    return lines

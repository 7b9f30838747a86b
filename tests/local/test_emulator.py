"""The emulator verifies requests as the real service does: the real SDK is the client."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from emulator import PERMANENT_KEY, TEMPORARY_KEY, Fault, KeyPair, SmsEmulator


@pytest.fixture
def skewed() -> Iterator[Callable[[float], SmsEmulator]]:
    started: list[SmsEmulator] = []

    def start(offset: float) -> SmsEmulator:
        emulator = SmsEmulator(clock=lambda: time.time() + offset).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


def client_for(
    emulator: SmsEmulator, key: KeyPair, token: str | None = None, region: str = "ap-guangzhou"
) -> sms_client.SmsClient:
    cred = credential.Credential(key.secret_id, key.secret_key, token)
    http = HttpProfile(protocol="http", endpoint=emulator.endpoint.removeprefix("http://"), reqTimeout=5)
    return sms_client.SmsClient(cred, region, ClientProfile(httpProfile=http))


def report(client: sms_client.SmsClient, app_id: str = "1400006666", conversion_time: int | None = 1658310430) -> str:
    request = models.ReportConversionRequest()
    request.SmsSdkAppId, request.SerialNo, request.ConversionTime = app_id, "5000:1", conversion_time
    response = client.ReportConversion(request)
    return str(response.ReportConversionStatus.Code)


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(TencentCloudSDKException) as caught:
        call()
    return str(caught.value.get_code())


def test_permanent_and_temporary_keys_are_accepted(emulator: SmsEmulator) -> None:
    assert report(client_for(emulator, PERMANENT_KEY)) == "ok"
    assert report(client_for(emulator, TEMPORARY_KEY, TEMPORARY_KEY.token)) == "ok"
    assert [call["SecretId"] for call in emulator.reports] == [PERMANENT_KEY.secret_id, TEMPORARY_KEY.secret_id]


def test_signature_checks(emulator: SmsEmulator) -> None:
    wrong_key = KeyPair(PERMANENT_KEY.secret_id, "not-the-key-000000000000000000000")
    unknown = KeyPair("AKIDUNKNOWN000000000000000000000000", "whatever-000000000000000000000000")
    assert error_code(lambda: report(client_for(emulator, wrong_key))) == "AuthFailure.SignatureFailure"
    assert error_code(lambda: report(client_for(emulator, unknown))) == "AuthFailure.SecretIdNotFound"
    assert error_code(lambda: report(client_for(emulator, TEMPORARY_KEY))) == "AuthFailure.TokenFailure"
    assert error_code(lambda: report(client_for(emulator, TEMPORARY_KEY, "stale-token"))) == "AuthFailure.TokenFailure"
    assert emulator.reports == []


@pytest.mark.parametrize("offset", [301, -301])
def test_timestamp_window(skewed: Callable[[float], SmsEmulator], offset: float) -> None:
    emulator = skewed(offset)
    assert error_code(lambda: report(client_for(emulator, PERMANENT_KEY))) == "AuthFailure.SignatureExpire"


def test_within_the_window_is_accepted(skewed: Callable[[float], SmsEmulator]) -> None:
    assert report(client_for(skewed(250), PERMANENT_KEY)) == "ok"


def test_region_app_id_and_parameters(emulator: SmsEmulator) -> None:
    assert error_code(lambda: report(client_for(emulator, PERMANENT_KEY, region="mars-1"))) == "UnsupportedRegion"
    assert (
        error_code(lambda: report(client_for(emulator, PERMANENT_KEY), app_id="1400009999"))
        == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
    )
    assert report(client_for(emulator, PERMANENT_KEY), conversion_time=None) == "ok"


def raw_post(emulator: SmsEmulator, headers: dict[str, str], body: bytes = b"{}") -> tuple[int, str, dict[str, object]]:
    request = urllib.request.Request(emulator.endpoint + "/", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.headers["Content-Type"], json.loads(response.read())


def test_unsigned_request_gets_the_api_error_shape(emulator: SmsEmulator) -> None:
    status, content_type, body = raw_post(emulator, {"Content-Type": "application/json"})
    assert status == 200
    assert content_type == "application/json"  # exactly: the SDK ignores errors under any other
    response = body["Response"]
    assert isinstance(response, dict)
    assert response["Error"]["Code"] == "AuthFailure.InvalidAuthorization"
    assert response["RequestId"]


def test_faults_are_injected_per_serial_and_count(emulator: SmsEmulator) -> None:
    client = client_for(emulator, PERMANENT_KEY)
    emulator.inject(Fault(error_code="InternalError.SendAndRecvFail", times=2, serial_no="5000:1"))
    assert error_code(lambda: report(client)) == "InternalError.SendAndRecvFail"
    assert error_code(lambda: report(client)) == "InternalError.SendAndRecvFail"
    assert report(client) == "ok"
    emulator.inject(Fault(http_status=503))
    assert error_code(lambda: report(client)) == "ServerNetworkError"
    emulator.inject(Fault(drop=True))
    assert error_code(lambda: report(client)) == "ClientNetworkError"


def test_wrong_content_type_hides_the_error_from_the_sdk(emulator: SmsEmulator) -> None:
    """The SDK trap the function guards against: the error passes as a response without a status."""
    emulator.inject(Fault(error_code="RequestLimitExceeded", content_type="application/json; charset=utf-8"))
    request = models.ReportConversionRequest()
    request.SmsSdkAppId, request.SerialNo = "1400006666", "5000:1"
    response = client_for(emulator, PERMANENT_KEY).ReportConversion(request)
    assert response.ReportConversionStatus is None


def test_faults_over_http_for_other_processes(emulator: SmsEmulator) -> None:
    payload = json.dumps([{"error_code": "ServiceUnavailable"}]).encode()
    request = urllib.request.Request(emulator.endpoint + "/_emulator/faults", data=payload, method="POST")
    urllib.request.urlopen(request, timeout=5).close()
    assert error_code(lambda: report(client_for(emulator, PERMANENT_KEY))) == "ServiceUnavailable"
    with urllib.request.urlopen(emulator.endpoint + "/_emulator/stats", timeout=5) as response:
        stats = json.loads(response.read())
    assert stats["requests"] == 1
    assert stats["rejected"] == [{"Code": "ServiceUnavailable", "SerialNo": "5000:1"}]

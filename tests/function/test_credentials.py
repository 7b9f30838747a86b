"""Credentials and region: the role's rotating keys, an operator's own keys, and what the API says when
they are wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import scf_context

from emulator import PERMANENT_KEY, KeyPair, SmsEmulator
from sms_conversion.credentials import MissingCredentialsError, RoleCredential
from sms_conversion.handler import Application
from sms_conversion.responder import RetryLater


def report_one(app: Application, serial: str = "s-1", **context: Any) -> Any:
    return app.handle({"SerialNo": serial}, scf_context(**context))


def test_rotated_role_credentials_are_picked_up_by_a_warm_instance(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert report_one(app, "before")["StatusCode"] == 200
    rotated = KeyPair(
        "AKIDEMULATOR00ROTATED00000000000002", "rotated-secret-key-000000000002", "rotated-token-" + "r" * 40
    )
    scf_env.add_key(rotated)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", rotated.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", rotated.secret_key)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", rotated.token or "")
    assert report_one(app, "after")["StatusCode"] == 200
    assert scf_env.snapshot()["connections"] == 1  # same client and connection, new keys
    assert [report["SecretId"] for report in scf_env.reports] == [
        "AKIDEMULATOR00TEMPORARY0000000000001",
        rotated.secret_id,
    ]


def test_temporary_keys_without_their_token_are_refused(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_SESSIONTOKEN")
    with pytest.raises(RetryLater):
        report_one(app)
    assert scf_env.snapshot()["rejected"][0]["Code"] == "AuthFailure.TokenFailure"


def test_local_variables_and_permanent_keys(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY", "TENCENTCLOUD_SESSIONTOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", PERMANENT_KEY.secret_id)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", PERMANENT_KEY.secret_key)
    assert report_one(app)["StatusCode"] == 200
    assert scf_env.reports[0]["SecretId"] == PERMANENT_KEY.secret_id


def test_a_wrong_secret_key_is_a_signature_failure_the_emulator_finds(
    app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-right-key-000000000000")
    with pytest.raises(RetryLater) as caught:
        report_one(app)
    assert json.loads(str(caught.value))["Error"]["Code"] == "AuthFailure.SignatureFailure"
    assert scf_env.snapshot()["rejected"] == [{"Code": "AuthFailure.SignatureFailure", "SerialNo": None}]


def test_the_region_is_checked(app: Application, scf_env: SmsEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMS_REGION", "na-toronto")  # a Tencent Cloud region SMS does not serve
    with pytest.raises(RetryLater) as caught:
        report_one(app)
    assert json.loads(str(caught.value))["Error"]["Code"] == "UnsupportedRegion"


def test_credential_chain(tmp_path: Path) -> None:
    profile = tmp_path / "credentials"
    profile.write_text("[default]\nsecret_id = AKIDPROFILE\nsecret_key = profile-key\n")
    env = {
        "TENCENTCLOUD_SECRETID": "AKIDSCF",
        "TENCENTCLOUD_SECRETKEY": "scf-key",
        "TENCENTCLOUD_SESSIONTOKEN": "tok",
        "TENCENTCLOUD_SECRET_ID": "AKIDLOCAL",
        "TENCENTCLOUD_SECRET_KEY": "local-key",
    }
    credential = RoleCredential(env, profile)
    assert credential.get_credential_info() == ("AKIDSCF", "scf-key", "tok")
    del env["TENCENTCLOUD_SECRETKEY"]
    assert credential.get_credential_info() == ("AKIDLOCAL", "local-key", None)
    env["TENCENTCLOUD_SESSION_TOKEN"] = "local-token"
    assert credential.get_credential_info() == ("AKIDLOCAL", "local-key", "local-token")
    env.clear()
    assert credential.get_credential_info() == ("AKIDPROFILE", "profile-key", None)
    assert "profile-key" not in repr(credential)
    profile.write_text("[default]\nsecret_id = \n")
    import os

    os.utime(profile, (1, 1))
    with pytest.raises(MissingCredentialsError, match="TENCENTCLOUD_SECRET_ID"):
        credential.get_credential_info()
    with pytest.raises(MissingCredentialsError):
        RoleCredential({}, tmp_path / "absent").get_credential_info()

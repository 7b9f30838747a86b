"""The classifier: one verdict per answer. A new code is one rule in classifier.py and one row here."""

from __future__ import annotations

import pytest

from sms_conversion import classifier
from sms_conversion.classifier import Kind, Scope

DEPLOYMENT_FAULTS = [
    # (code, scope, a word the hint must contain)
    ("AuthFailure.UnauthorizedOperation", Scope.ACCOUNT, "name/sms:ReportConversion"),
    ("AuthFailure.SecretIdNotFound", Scope.ACCOUNT, "role"),
    ("AuthFailure.InvalidSecretId", Scope.ACCOUNT, "role"),
    ("AuthFailure.SignatureFailure", Scope.ACCOUNT, "secret key"),
    ("AuthFailure.SignatureExpire", Scope.ACCOUNT, "clock"),
    ("AuthFailure.MFAFailure", Scope.ACCOUNT, "MFA"),
    ("AuthFailure.InvalidAuthorization", Scope.ACCOUNT, "credentials"),
    ("AuthFailure.SomethingNew", Scope.ACCOUNT, "credentials"),
    ("UnauthorizedOperation.RequestPermissionDeny", Scope.ACCOUNT, "allow-listed"),
    ("UnauthorizedOperation.RequestIpNotInWhitelist", Scope.ACCOUNT, "NAT"),
    ("UnauthorizedOperation.ServiceSuspendDueToArrears", Scope.ACCOUNT, "arrears"),
    ("UnauthorizedOperation.IndividualUserMarketingSmsPermissionDeny", Scope.ACCOUNT, "SMS console"),
    ("UnauthorizedOperation.SdkAppIdIsDisabled", Scope.APP, "disabled"),
    ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", Scope.APP, "SMS_SDK_APP_ID"),
    ("InvalidParameterValue.SdkAppIdNotExist", Scope.APP, "does not exist"),
    ("UnsupportedOperation.UnsupportedRegion", Scope.ACCOUNT, "SMS_REGION"),
    ("UnsupportedRegion", Scope.ACCOUNT, "SMS_REGION"),
    ("InvalidAction", Scope.ACCOUNT, "SMS_ENDPOINT"),
    ("NoSuchVersion", Scope.ACCOUNT, "SMS_ENDPOINT"),
    ("UnknownParameter", Scope.ACCOUNT, "SDK version"),
    ("InternalError.RestApiInterfaceNotExist", Scope.ACCOUNT, "SMS_ENDPOINT"),
    ("InvalidCredential", Scope.ACCOUNT, "credentials"),
    ("ClientParamsError", Scope.ACCOUNT, "SMS_REGION"),
    ("ClientError", Scope.ACCOUNT, "SMS_ENDPOINT"),
    ("ClientSideError", Scope.ACCOUNT, "SMS_ENDPOINT"),
]


@pytest.mark.parametrize(("code", "scope", "word"), DEPLOYMENT_FAULTS)
def test_deployment_faults_stop_with_a_hint_and_a_503(code: str, scope: Scope, word: str) -> None:
    verdict = classifier.classify_code(code, "upstream text", "req-1", own_app=True)
    assert (verdict.kind, verdict.scope, verdict.http_status, verdict.code) == (Kind.DEPLOYMENT_FAULT, scope, 503, code)
    assert verdict.hint is not None
    assert word in verdict.hint
    assert verdict.request_id == "req-1"


# Every app-level deployment fault is the producer's mistake when the app id is not ours.
APP_LEVEL_CODES = [code for code, scope, _ in DEPLOYMENT_FAULTS if scope is Scope.APP]


@pytest.mark.parametrize("code", APP_LEVEL_CODES)
def test_an_app_level_code_for_a_foreign_app_id_refuses_only_that_message(code: str) -> None:
    verdict = classifier.classify_code(code, "text", None, own_app=False)
    assert (verdict.kind, verdict.http_status, verdict.hint, verdict.scope) == (Kind.REFUSED, 403, None, None)


def test_an_account_level_code_is_the_deployments_whoever_the_app_id_belongs_to() -> None:
    verdict = classifier.classify_code("UnauthorizedOperation.RequestPermissionDeny", "x", None, own_app=False)
    assert verdict.kind is Kind.DEPLOYMENT_FAULT


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InternalError.SendAndRecvFail", 502),
        ("InternalError", 502),
        ("InternalError.Timeout", 502),
        ("RequestLimitExceeded", 429),
        ("RequestLimitExceeded.UinLimitExceeded", 429),
        ("RequestLimitExceeded.GlobalRegionUinLimitExceeded", 429),
        ("ServiceUnavailable", 502),
        ("ResourceUnavailable", 502),
        ("JSONDecodeError", 502),  # the SDK could not read the answer: the API's word never arrived intact
        ("KeyError", 502),
    ],
)
def test_transient_codes_are_retried(code: str, status: int) -> None:
    verdict = classifier.classify_code(code, "x", None, own_app=True)
    assert (verdict.kind, verdict.http_status, verdict.retry_once) == (Kind.RETRY, status, False)


def test_an_expired_role_token_is_retried_once_after_the_credentials_are_re_read() -> None:
    verdict = classifier.classify_code("AuthFailure.TokenFailure", "x", None, own_app=True)
    assert (verdict.kind, verdict.retry_once) == (Kind.RETRY, True)


@pytest.mark.parametrize(
    "code",
    [
        "InvalidParameter",
        "InvalidParameter.InvalidParameters",
        "InvalidParameterValue",
        "InvalidParameterValue.Something",
        "MissingParameter",
        "FailedOperation.OtherError",
        "LimitExceeded.DailyLimit",
        "UnsupportedOperation",
        "Entirely.Unknown",
    ],
)
def test_codes_about_the_message_refuse_it(code: str) -> None:
    verdict = classifier.classify_code(code, "x", None, own_app=True)
    assert (verdict.kind, verdict.http_status) == (Kind.REFUSED, 422)


def test_a_status_code_other_than_ok_refuses_the_message() -> None:
    verdict = classifier.classify_status("SerialNoNotFound", "no such serial", "r")
    assert (verdict.kind, verdict.code, verdict.message, verdict.http_status) == (
        Kind.REFUSED,
        "FailedOperation.SerialNoNotFound",
        "no such serial",
        422,
    )
    assert classifier.classify_status("FailedOperation.X", "", None).code == "FailedOperation.X"


def test_an_answer_without_a_status_or_with_an_unreadable_error_is_retried() -> None:
    assert classifier.missing_status("r").kind is Kind.RETRY
    assert classifier.unreadable_error(None).kind is Kind.RETRY


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (None, Kind.RETRY),
        (500, Kind.RETRY),
        (502, Kind.RETRY),
        (503, Kind.RETRY),
        (408, Kind.RETRY),
        (429, Kind.RETRY),
        (400, Kind.DEPLOYMENT_FAULT),
        (403, Kind.DEPLOYMENT_FAULT),
        (404, Kind.DEPLOYMENT_FAULT),
    ],
)
def test_an_http_status_the_api_never_sends_is_the_endpoints_fault_unless_transient(
    status: int | None, kind: Kind
) -> None:
    verdict = classifier.classify_http_status(status)
    assert verdict.kind is kind
    assert verdict.code == "ServerNetworkError"
    if kind is Kind.DEPLOYMENT_FAULT:
        assert verdict.hint is not None
        assert "SMS_ENDPOINT" in verdict.hint


def test_network_failures_are_retried_unless_no_retry_can_fix_them() -> None:
    assert classifier.classify_network_failure("ConnectTimeout", transient=True).kind is Kind.RETRY
    fault = classifier.classify_network_failure("SSLError", transient=False)
    assert (fault.kind, fault.scope, fault.http_status) == (Kind.DEPLOYMENT_FAULT, Scope.ACCOUNT, 503)


def test_specific_rules_come_before_the_prefixes_that_would_also_match() -> None:
    """First match wins: a rule shadowed by an earlier prefix would never apply."""
    for index, rule in enumerate(classifier.RULES):
        for earlier in classifier.RULES[:index]:
            probe = rule.pattern.rstrip("*")
            assert not earlier.matches(probe), f"{earlier.pattern} shadows {rule.pattern}"

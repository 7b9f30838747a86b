"""One verdict per answer: reported, refused, retry, or deployment fault.

Every answer the API (or the road to it) can give ends here: an error code,
a `ReportConversionStatus.Code` other than "ok", an HTTP status, a network
failure, an exception the SDK wrapped. The API's codes live here, one `Rule`
each (a new one is one line and one test); the codes and statuses this function
answers with are `codes.py`'s.

- **reported**: the API accepted the conversion.
- **refused**: the message is at fault; it will never succeed as sent (skipped
  on a queue, a 4xx over HTTP).
- **retry**: a later attempt may succeed (within the invocation, then by the
  platform's redelivery).
- **deployment fault**: the function, its role or the account is at fault
  (a role without the CAM action, an account not enabled or in arrears, a wrong
  region or endpoint). Nothing the message can change: stop calling, keep the
  messages for redelivery, and tell the operator what to check (`hint`).

Sources: the SDK's `tencentcloud/sms/v20210111/errorcodes.py` (SMS codes) and
the API 3.0 common error codes page (AuthFailure.*, InvalidAction, NoSuchVersion,
UnknownParameter, RequestLimitExceeded.*); see docs/behaviour.md#classification.
"""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

from . import codes


class Kind(enum.Enum):
    REPORTED = "reported"
    REFUSED = "refused"
    RETRY = "retry"
    DEPLOYMENT_FAULT = "deployment_fault"


class Scope(enum.Enum):
    """What a deployment fault stops: every call, or the calls for one app id."""

    ACCOUNT = "account"
    APP = "app"


class Verdict(NamedTuple):
    kind: Kind
    code: str | None
    message: str
    http_status: int
    request_id: str | None = None
    # Deployment faults: what to check, and what it stops.
    hint: str | None = None
    scope: Scope | None = None
    # An expired role token: one more attempt after the credentials are re-read.
    retry_once: bool = False


class Rule(NamedTuple):
    """`pattern` is a code, or a prefix ending in `*` (`InternalError*` matches `InternalError.Timeout`)."""

    pattern: str
    kind: Kind
    hint: str | None = None
    scope: Scope = Scope.ACCOUNT
    http_status: int | None = None
    retry_once: bool = False

    def matches(self, code: str) -> bool:
        if self.pattern.endswith("*"):
            return code.startswith(self.pattern[:-1])
        return code == self.pattern


# The HTTP status each verdict answers with (codes.py holds them all).
HTTP_REPORTED = codes.OK
HTTP_REFUSED = codes.REFUSED
HTTP_FOREIGN_APP = codes.FORBIDDEN
HTTP_RETRY = codes.UPSTREAM_FAILED
HTTP_RATE_LIMITED = codes.RATE_LIMITED
HTTP_DEPLOYMENT_FAULT = codes.DEPLOYMENT_FAULT

_ROLE = "the execution role (template.yaml Role, deploy/access-policy.json)"
FAULT, REFUSED, RETRY = Kind.DEPLOYMENT_FAULT, Kind.REFUSED, Kind.RETRY

# First match wins: specific codes before the prefixes that would also match them.
RULES: tuple[Rule, ...] = (
    Rule("AuthFailure.TokenFailure", RETRY, retry_once=True),
    Rule("AuthFailure.UnauthorizedOperation", FAULT,
         f"CAM denies sms:ReportConversion: attach an allow of name/sms:ReportConversion to {_ROLE}"),
    Rule("AuthFailure.SecretIdNotFound", FAULT,
         "the API does not know the function's secret id: give the function its execution role (Role) and "
         "check that the role still exists"),
    Rule("AuthFailure.InvalidSecretId", FAULT, "the secret id is not a valid key: check the execution role"),
    Rule("AuthFailure.SignatureFailure", FAULT,
         "the signature does not match: the secret key is wrong (a stale TENCENTCLOUD_SECRET_KEY set on the "
         "function overrides the role's keys?)"),
    Rule("AuthFailure.SignatureExpire", FAULT, "the function's clock is more than 5 minutes off the API's"),
    Rule("AuthFailure.MFAFailure", FAULT, "the credentials need MFA: use the execution role, not a user's key"),
    Rule("AuthFailure.*", FAULT, f"the API refused the function's credentials: check {_ROLE}"),
    Rule("UnauthorizedOperation.RequestPermissionDeny", FAULT,
         "ReportConversion is allow-listed per account: ask SMS support to enable it for this account"),
    Rule("UnauthorizedOperation.RequestIpNotInWhitelist", FAULT,
         "the SMS app has an IP allowlist without the function's egress IP (its NAT gateway's IP in a VPC): "
         "add it in the SMS console"),
    Rule("UnauthorizedOperation.ServiceSuspendDueToArrears", FAULT,
         "the account is in arrears: SMS resumes once the balance is paid"),
    Rule("UnauthorizedOperation.SdkAppIdIsDisabled", FAULT,
         "this SMS app is disabled: enable it in the SMS console, or stop sending its app id", Scope.APP),
    Rule("UnauthorizedOperation.SmsSdkAppIdVerifyFail", FAULT,
         "this app id is not under the account of the function's role: check SMS_SDK_APP_ID / "
         "SMS_ALLOWED_SDK_APP_IDS and the account the role belongs to", Scope.APP),
    Rule("UnauthorizedOperation.*", FAULT,
         "the account may not make this call: check the SMS console (app, allowlists, enablement)"),
    Rule("InvalidParameterValue.SdkAppIdNotExist", FAULT,
         "this app id does not exist: check SMS_SDK_APP_ID / SMS_ALLOWED_SDK_APP_IDS", Scope.APP),
    Rule("UnsupportedOperation.UnsupportedRegion", FAULT,
         "SMS is not offered in SMS_REGION: use ap-guangzhou (or ap-singapore with sms.intl.tencentcloudapi.com)"),
    Rule("UnsupportedRegion", FAULT,
         "SMS is not offered in SMS_REGION: use ap-guangzhou (or ap-singapore with sms.intl.tencentcloudapi.com)"),
    Rule("InvalidAction", FAULT, "SMS_ENDPOINT does not serve ReportConversion: check SMS_ENDPOINT"),
    Rule("NoSuchVersion", FAULT, "SMS_ENDPOINT does not serve the SMS API 2021-01-11: check SMS_ENDPOINT"),
    Rule("UnknownParameter", FAULT,
         "the API does not accept a parameter this function sends: check SMS_ENDPOINT and the SDK version"),
    Rule("InternalError.RestApiInterfaceNotExist", FAULT,
         "the endpoint has no ReportConversion: check SMS_ENDPOINT and SMS_REGION"),
    # The SDK refused to build or send the request: its configuration, not a message, is wrong.
    Rule("InvalidCredential", FAULT, f"the SDK rejected the credentials: check {_ROLE}"),
    Rule("ClientParamsError", FAULT, "the SDK refused the request's parameters: check SMS_REGION and SMS_ENDPOINT"),
    Rule("ClientError", FAULT, "the SDK refused to send the request: check SMS_ENDPOINT and SMS_REGION"),
    Rule("ClientSideError", FAULT, "the SDK refused to send the request: check SMS_ENDPOINT and SMS_REGION"),
    Rule("RequestLimitExceeded*", RETRY, http_status=HTTP_RATE_LIMITED),
    Rule("InternalError*", RETRY),
    Rule("ServiceUnavailable*", RETRY),
    Rule("ResourceUnavailable*", RETRY),
    Rule("InvalidParameter*", REFUSED),
    Rule("MissingParameter*", REFUSED),
    Rule("FailedOperation*", REFUSED),
    Rule("LimitExceeded*", REFUSED),
    Rule("UnsupportedOperation*", REFUSED),
)  # fmt: skip

# The SDK wraps an unexpected Python exception (a garbled body, say) with its class name as the code.
_PYTHON_EXCEPTION_NAME = re.compile(r"^[A-Z][A-Za-z]*(Error|Exception)$")
UNREADABLE_ANSWER = "InternalError.UnreadableAnswer"
MISSING_STATUS = "InternalError.MissingStatus"
SERVER_NETWORK_ERROR = "ServerNetworkError"
CLIENT_NETWORK_ERROR = "ClientNetworkError"


def reported(request_id: str | None) -> Verdict:
    return Verdict(Kind.REPORTED, None, "report success", HTTP_REPORTED, request_id)


def classify_status(code: str, message: str, request_id: str | None) -> Verdict:
    """An answer whose `ReportConversionStatus.Code` is not "ok": the API read the message and refused it."""
    refused = code if "." in code else f"FailedOperation.{code}"
    return Verdict(Kind.REFUSED, refused, message or "report refused", HTTP_REFUSED, request_id)


def missing_status(request_id: str | None) -> Verdict:
    # The SDK reads an error body only under an exact Content-Type: an answer without a status is unreadable.
    return Verdict(
        Kind.RETRY, MISSING_STATUS, "the API answered without ReportConversionStatus", HTTP_RETRY, request_id
    )


def unreadable_error(request_id: str | None) -> Verdict:
    return Verdict(Kind.RETRY, UNREADABLE_ANSWER, "the API answered with an unreadable error", HTTP_RETRY, request_id)


def classify_http_status(status: int | None) -> Verdict:
    """The HTTP status of an answer that is not the API's JSON (a gateway, a proxy, a wrong host)."""
    shown = f"HTTP {status}" if status is not None else "an HTTP error status"
    message = f"the API answered with {shown}"
    if status is None or status >= 500 or status in (408, 429):
        return Verdict(Kind.RETRY, SERVER_NETWORK_ERROR, message, HTTP_RETRY)
    # The SMS API answers every error as HTTP 200 with a JSON body: a 4xx comes from something else.
    return _endpoint_fault(
        SERVER_NETWORK_ERROR, message, f"SMS_ENDPOINT answered {shown}, which the SMS API never does"
    )


def classify_network_failure(reason: str, transient: bool) -> Verdict:
    """A call that got no answer: a timeout or a dropped connection is retried; a certificate or URL is not."""
    message = f"network error calling the API: {reason}"
    if transient:
        return Verdict(Kind.RETRY, CLIENT_NETWORK_ERROR, message, HTTP_RETRY)
    return _endpoint_fault(CLIENT_NETWORK_ERROR, message, "the connection fails in a way no retry fixes (TLS, URL)")


def _endpoint_fault(code: str, message: str, what: str) -> Verdict:
    hint = f"{what}: check SMS_ENDPOINT and any proxy"
    return Verdict(Kind.DEPLOYMENT_FAULT, code, message, HTTP_DEPLOYMENT_FAULT, hint=hint, scope=Scope.ACCOUNT)


def classify_code(code: str, message: str, request_id: str | None, own_app: bool) -> Verdict:
    """An error code the API answered (or the SDK raised).

    `own_app`: the message's app id is the operator's own (listed in SMS_ALLOWED_SDK_APP_IDS, or
    SMS_SDK_APP_ID). An app-level code for it is the deployment's fault; for any other app id the
    producer sent a foreign one, and only that message is refused.
    """
    for rule in RULES:
        if rule.matches(code):
            return _apply(rule, code, message, request_id, own_app)
    if _PYTHON_EXCEPTION_NAME.match(code):
        # The API's word never arrived intact (the SDK could not parse it): ask again.
        return Verdict(Kind.RETRY, code, message, HTTP_RETRY, request_id)
    # A code no rule knows: the message is refused (logged with everything needed to replay it).
    return Verdict(Kind.REFUSED, code, message, HTTP_REFUSED, request_id)


def _apply(rule: Rule, code: str, message: str, request_id: str | None, own_app: bool) -> Verdict:
    if rule.kind is Kind.DEPLOYMENT_FAULT:
        if rule.scope is Scope.APP and not own_app:
            return Verdict(Kind.REFUSED, code, message, HTTP_FOREIGN_APP, request_id)
        return Verdict(Kind.DEPLOYMENT_FAULT, code, message, HTTP_DEPLOYMENT_FAULT, request_id, rule.hint, rule.scope)
    if rule.kind is Kind.RETRY:
        return Verdict(
            Kind.RETRY, code, message, rule.http_status or HTTP_RETRY, request_id, retry_once=rule.retry_once
        )
    return Verdict(Kind.REFUSED, code, message, rule.http_status or HTTP_REFUSED, request_id)

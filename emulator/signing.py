"""TC3-HMAC-SHA256 as Tencent Cloud's APIs verify it: the SMS emulator's and the cloud stand-in's one check.

Canonical request, string to sign and signing key as the SDK builds them (see the reference's sdk-notes):
a request outside the 5-minute window, with a credential date that is not its timestamp's UTC date, an
unknown secret id, a signature that does not match (constant-time), or a temporary key without its token
is refused with the API's own error code.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

SIGNATURE_WINDOW_SECONDS = 300
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class KeyPair:
    """A test key. A temporary key (with `token`) is accepted only with that token."""

    secret_id: str
    secret_key: str
    token: str | None = None


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def verify_tc3(
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, KeyPair],
    now: float,
    service: str | None = None,
) -> tuple[KeyPair, str]:
    """The key that signed the request and the service it signed for; ApiError otherwise.

    `headers` have lower-case names. `service`, when given, is the only one accepted.
    """
    match = _AUTH.match(headers.get("authorization", ""))
    if not match:
        raise ApiError("AuthFailure.InvalidAuthorization", "Authorization header is missing or malformed")
    try:
        timestamp = int(headers.get("x-tc-timestamp", ""))
    except ValueError:
        raise ApiError("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is missing or not an integer") from None
    if abs(now - timestamp) > SIGNATURE_WINDOW_SECONDS:
        raise ApiError(
            "AuthFailure.SignatureExpire", "signature expired: the client clock is off by more than 5 minutes"
        )
    date = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    signed_for = match["service"]
    if match["date"] != date or (service is not None and signed_for != service):
        raise ApiError(
            "AuthFailure.InvalidAuthorization", "credential scope does not match the timestamp's date or service"
        )
    signed = match["signed"].split(";")
    if "content-type" not in signed or "host" not in signed:
        raise ApiError("AuthFailure.InvalidAuthorization", "SignedHeaders must include content-type and host")
    key = keys.get(match["id"])
    if key is None:
        raise ApiError("AuthFailure.SecretIdNotFound", "secret id not found")
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, "/", "", canonical_headers, match["signed"], hashlib.sha256(body).hexdigest()]
    )
    string_to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            f"{date}/{signed_for}/tc3_request",
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    if not hmac.compare_digest(_sign(key.secret_key, date, signed_for, string_to_sign), match["signature"]):
        raise ApiError("AuthFailure.SignatureFailure", "signature does not match")
    if key.token is not None and not hmac.compare_digest(headers.get("x-tc-token", ""), key.token):
        raise ApiError("AuthFailure.TokenFailure", "temporary credentials need a valid X-TC-Token")
    return key, signed_for


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _sign(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    signing_key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()

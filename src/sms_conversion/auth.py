"""Who may call the HTTP routes: HMAC-signed requests, or a TDMQ-CMQ push carrying the push token.

A caller signs `<X-Timestamp>.<raw body>` with HMAC-SHA256 under one of the
secrets in REPORT_SIGNING_SECRET (several, to rotate without downtime) and
sends `X-Signature: sha256=<hex>`. A TDMQ-CMQ push subscription cannot sign, so
its endpoint URL carries `?token=<CMQ_PUSH_TOKEN>` instead. Every comparison is
constant-time; no secret, signature or token is ever put in an answer or a log.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import NamedTuple

from . import codes
from .sources import HttpRequest

SIGNATURE_WINDOW_SECONDS = 300
TIMESTAMP_HEADER = "x-timestamp"
SIGNATURE_HEADER = "x-signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")


class AuthFailure(NamedTuple):
    code: str
    message: str


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The X-Signature value for `body` sent at `timestamp` (what a caller computes)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def authenticate(
    request: HttpRequest, secrets: Sequence[str], push_token: str | None, now: float, push: bool = False
) -> AuthFailure | None:
    """None when the request proves who sent it (or no secret is configured); the failure otherwise.

    `push`: a TDMQ-CMQ push, which cannot sign: what is wrong is said in words about its token."""
    if not secrets and not push_token:
        return None
    given_token = request.query.get("token")
    if push_token is not None and given_token is not None and _same(given_token, push_token):
        return None
    if push and SIGNATURE_HEADER not in request.headers:
        return _push_token_failure(given_token, push_token)
    timestamp = request.headers.get(TIMESTAMP_HEADER, "").strip()
    signature = _SIGNATURE.fullmatch(request.headers.get(SIGNATURE_HEADER, "").strip())
    if not _TIMESTAMP.fullmatch(timestamp) or signature is None:
        return AuthFailure(
            codes.INVALID_AUTHORIZATION,
            "sign the request: X-Timestamp (UNIX seconds) and X-Signature (sha256=<hex HMAC>) are required",
        )
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW_SECONDS:
        return AuthFailure(codes.SIGNATURE_EXPIRED, "X-Timestamp is more than 300 seconds from the server's time")
    body = request.raw_body
    if body is not None:
        for secret in secrets:
            if _same(sign(secret, timestamp, body), signature.group(0)):
                return None
    return AuthFailure(codes.SIGNATURE_FAILURE, "X-Signature does not match the request")


def _push_token_failure(given: str | None, configured: str | None) -> AuthFailure:
    """A TDMQ-CMQ push cannot sign: what is wrong with the token its URL carries, in words about the token."""
    if configured is None:
        return AuthFailure(
            codes.INVALID_AUTHORIZATION,
            "a TDMQ-CMQ push cannot sign: set CMQ_PUSH_TOKEN on the function and put ?token=<it> in the "
            "subscription's endpoint URL",
        )
    if given is None:
        return AuthFailure(
            codes.INVALID_AUTHORIZATION,
            "the push carries no token: the subscription's endpoint URL must end in ?token=<CMQ_PUSH_TOKEN>",
        )
    return AuthFailure(
        codes.INVALID_TOKEN,
        "the push's ?token= is not CMQ_PUSH_TOKEN: put the function's current token in the subscription's URL",
    )


def _same(given: str, expected: str) -> bool:
    # Bytes, so that non-ASCII input is compared (and refused) in constant time rather than raising.
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))

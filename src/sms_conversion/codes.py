"""Every code and HTTP status this function answers with, in one table.

The classifier (`classifier.py`) holds the upstream verdicts: which of the API's codes means what. This
module holds ours: the codes we answer for what never reached the API (a bad body, a refused signature, no
time left), and the HTTP status of each kind of answer. No other module spells a code or a status (a test
reads the source to keep it so). The API's own code shape (`Category.Detail`) is kept, so a caller handles
ours and the API's the same way. docs/behaviour.md#http-answers lists them.
"""

from __future__ import annotations

# ---- HTTP statuses --------------------------------------------------------------------------------
OK = 200
BAD_REQUEST = 400
UNAUTHORIZED = 401
FORBIDDEN = 403  # an app id outside the allowlist, or an app-level refusal of a foreign one
METHOD_NOT_ALLOWED = 405
PAYLOAD_TOO_LARGE = 413
REFUSED = 422  # the API read the message and refused it: it will never succeed as sent
RATE_LIMITED = 429
INTERNAL = 500  # this function's own fault (a bug, a misconfiguration)
UPSTREAM_FAILED = 502  # the API failed; a retry may succeed
DEPLOYMENT_FAULT = 503  # the role, the account or the endpoint is wrong: nothing was (or will be) reported
# Answers a caller should send again later: they carry Retry-After.
RETRY_LATER = frozenset({RATE_LIMITED, DEPLOYMENT_FAULT})

# Which failure a request with several messages answers first: our own fault, the deployment's, the caller's
# (a foreign app id, a refused message), then the API's.
URGENCY = {INTERNAL: 0, DEPLOYMENT_FAULT: 1, FORBIDDEN: 2, REFUSED: 3, UPSTREAM_FAILED: 4, RATE_LIMITED: 5}

# ---- what the request is -------------------------------------------------------------------------
UNSUPPORTED_METHOD = "UnsupportedOperation.MethodNotAllowed"
UNRECOGNISED_EVENT = "InvalidParameter.UnrecognisedEvent"
MALFORMED_BODY = "InvalidParameter.MalformedBody"
MALFORMED_JSON = "InvalidParameter.MalformedJson"
BODY_TOO_LARGE = "LimitExceeded.PayloadTooLarge"
TOO_MANY_MESSAGES = "LimitExceeded.TooManyMessages"
MISSING_PARAMETER = "MissingParameter"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"

# ---- who sent it ----------------------------------------------------------------------------------
INVALID_AUTHORIZATION = "AuthFailure.InvalidAuthorization"
SIGNATURE_EXPIRED = "AuthFailure.SignatureExpire"
SIGNATURE_FAILURE = "AuthFailure.SignatureFailure"
INVALID_TOKEN = "AuthFailure.InvalidToken"  # noqa: S105 - an error code, not a secret
APP_ID_NOT_ALLOWED = "UnauthorizedOperation.SmsSdkAppIdNotAllowed"

# ---- messages never sent to the API ----------------------------------------------------------------
DEADLINE_EXCEEDED = "ResourceUnavailable.DeadlineExceeded"
IN_PROGRESS = "ResourceUnavailable.InProgress"

# ---- this function's own faults ----------------------------------------------------------------------
UNEXPECTED = "InternalError.Unexpected"
MISCONFIGURED = "InternalError.Misconfiguration"
MISSING_CREDENTIALS = "InternalError.MissingCredentials"
# A failure without a code of its own (never expected: every outcome that fails carries one).
INTERNAL_ERROR = "InternalError"

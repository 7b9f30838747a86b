"""No secret key, session token, signature or the context's `environ` ever leaves the function."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import body_of, ckafka_event, http_event, load_event, scf_context
from hypothesis import example, given
from hypothesis import strategies as st

from emulator import TEMPORARY_KEY, Fault, SmsEmulator
from sms_conversion import logs
from sms_conversion.handler import Application

FORBIDDEN = (
    "TC3-HMAC-SHA256",
    "Signature=",
    "Authorization",
    "X-TC-Token",
    "TENCENTCLOUD_SECRETKEY=",
    "TENCENTCLOUD_SESSIONTOKEN=",
)


@pytest.fixture
def root_debug_log() -> Iterator[io.StringIO]:
    """What SCF's runtime does: a root handler. Whatever reaches it must be clean too."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


class RawRecords(logging.Handler):
    """Every field of every record, before the formatter's redaction: proves no code path logs a secret."""

    def __init__(self, stream: io.StringIO) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        fields = {name: value for name, value in vars(record).items() if name not in ("args", "exc_info")}
        fields["message"] = record.getMessage()
        self.stream.write(json.dumps(fields, default=str) + "\n")


@pytest.fixture
def raw_records() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = RawRecords(stream)
    logger = logging.getLogger(logs.LOGGER_NAME)
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def scenarios(emulator: SmsEmulator, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Fault | None]]:
    return [
        (load_event("apigw.json"), None),
        (http_event({"SerialNo": "e-1"}), Fault(error_code="AuthFailure.SignatureFailure")),
        (http_event({"SerialNo": "e-2"}), Fault(error_code="AuthFailure.TokenFailure", times=2)),
        (http_event({"SerialNo": "e-3"}), Fault(http_status=500, times=9)),
        (http_event({"SerialNo": "e-4"}), Fault(drop=True, times=9)),
        (http_event("{broken"), None),
        (ckafka_event([{"SerialNo": "e-5"}, "x", {"SerialNo": "e-6", "SmsSdkAppId": "1400009999"}]), None),
        (ckafka_event([{"SerialNo": "e-7"}]), Fault(error_code="InternalError", times=9)),
        ({"SerialNo": "e-8"}, Fault(error_code="InvalidParameterValue")),
        ("not an event", None),
        # An upstream that echoes the request's credentials back.
        (
            http_event({"SerialNo": "e-9"}),
            Fault(error_code="InvalidParameter", error_message=f"echo X-TC-Token: {TEMPORARY_KEY.token}"),
        ),
        (
            ckafka_event([{"SerialNo": "e-10"}]),
            Fault(error_code="FailedOperation", error_message=f"{TEMPORARY_KEY.secret_key} Signature={'ab' * 32}"),
        ),
    ]


def test_no_secret_in_logs_answers_or_exceptions(
    app: Application,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    root_debug_log: io.StringIO,
    raw_records: io.StringIO,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SMS_MAX_ATTEMPTS", "2")
    context = scf_context()
    environ = context["environ"]
    assert TEMPORARY_KEY.secret_key in environ  # the context really carries the keys, as on SCF
    seen: list[str] = []
    for event, fault in scenarios(scf_env, monkeypatch):
        if fault:
            scf_env.inject(fault)
        try:
            seen.append(repr(app.handle(event, context)))
        except Exception as exc:  # queue and direct triggers raise to be retried
            seen.append(f"{type(exc).__name__}: {exc}")
    # The misconfigured and missing-credential paths too.
    monkeypatch.setenv("SMS_TIMEOUT_SECONDS", TEMPORARY_KEY.secret_key)
    seen.append(repr(app.handle(http_event({"SerialNo": "e-9"}), context)))
    monkeypatch.delenv("SMS_TIMEOUT_SECONDS")
    out, err = capfd.readouterr()
    everything = "\n".join([*seen, out, err, root_debug_log.getvalue(), raw_records.getvalue()])
    assert '"event": "invocation"' in raw_records.getvalue()
    assert '"level": "DEBUG"' in out  # DEBUG lines were written, and none carried a secret
    for secret in (TEMPORARY_KEY.secret_key, TEMPORARY_KEY.token or "", environ, *FORBIDDEN):
        assert secret not in everything


def test_sdk_debug_logging_cannot_reach_any_handler(
    app: Application,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    root_debug_log: io.StringIO,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    app.handle({"SerialNo": "sdk-1"}, scf_context())
    out, err = capfd.readouterr()
    assert "SendRequest" not in out + err + root_debug_log.getvalue()
    assert "HTTP connection" not in root_debug_log.getvalue()  # urllib3's plain-text lines stay out too
    assert TEMPORARY_KEY.token
    assert TEMPORARY_KEY.token not in out + err + root_debug_log.getvalue()


def test_redaction_is_a_last_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    from sms_conversion.logs import redact

    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", "a-session-token-value")
    assert redact('{"x": "a-session-token-value"}') == '{"x": "[REDACTED]"}'


# What the pattern catches, as an echo could spell it: any case, and the non-ASCII letters that
# IGNORECASE folds onto ASCII ones (U+017F long s, U+0131 dotless i, U+212A Kelvin sign).
SIGNED_PARTS = [
    "Signature=ab12",
    "X-TC-Token: tok-1",
    "Authorization=TC3 x",
    "TENCENTCLOUD_SECRETKEY=k1",
    "\u017fignature=ab",
    "S\u0131gnature=ab",
    "x-tc-to\u212aen=t",
    "tencentcloud_session_token=v",
]
_SIGNED_PART = st.sampled_from(SIGNED_PARTS)
_PIECE = st.tuples(
    st.one_of(_SIGNED_PART, st.text(max_size=8), st.text(alphabet="sigx-=:_ ", max_size=8)), st.booleans()
)


@given(st.lists(_PIECE, max_size=6).map(lambda pieces: "".join(p.swapcase() if flip else p for p, flip in pieces)))
@example("\u017fignature=ab")
@example("S\u0131gnature=ab")
@example('"x-tc-to\u212aen": "t"')
@example('{"AUTHORIZATION": "TC3-HMAC-SHA256 Credential=x"}')
def test_the_redaction_shortcut_leaves_nothing_the_full_pattern_would_catch(text: str) -> None:
    # redact skips the regex for ASCII text without a marker; the result must be what the regex gives.
    assert logs.redact(text) == logs.redact_signed_parts(text)


@pytest.mark.parametrize("part", SIGNED_PARTS)
def test_every_signed_part_is_redacted_in_any_case(part: str) -> None:
    for text in (part, part.swapcase(), f'{{"message": "x {part.upper()} y"}}'):
        assert "[REDACTED]" in logs.redact(text), text


def test_signing_secrets_signatures_and_push_tokens_never_appear(
    app: Application,
    scf_env: SmsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    raw_records: io.StringIO,
) -> None:
    from sms_conversion.auth import sign

    secret, token = "signing-secret-never-shown-01", "push-token-never-shown-0001"
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("REPORT_SIGNING_SECRET", secret)
    monkeypatch.setenv("CMQ_PUSH_TOKEN", token)
    body = '{"SerialNo": "signed-1"}'
    good = sign(secret, int(time.time()), body.encode())
    bad = sign("some-other-secret-0000000", int(time.time()), body.encode())
    answers = []
    for signature in (good, bad):
        event = http_event(body, headers={"x-timestamp": str(int(time.time())), "x-signature": signature})
        answers.append(app.handle(event, scf_context()))
    push = load_event("cmq_push.json")
    for query in ({"token": token}, {"token": token[:-1]}):
        push["queryString"] = query
        answers.append(app.handle(push, scf_context()))
    assert [answer["statusCode"] for answer in answers] == [200, 401, 200, 401]
    out, err = capfd.readouterr()
    everything = "\n".join([*map(repr, answers), out, err, raw_records.getvalue()])
    for value in (secret, token, token[:-1], good.removeprefix("sha256="), bad.removeprefix("sha256=")):
        assert value not in everything


def test_upstream_text_echoing_credentials_is_redacted_before_truncation(
    app: Application, scf_env: SmsEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    echo = (
        "x" * 250
        + f" X-TC-Token: {TEMPORARY_KEY.token} Authorization: TC3-HMAC-SHA256 Signature={'ab' * 32} "
        + TEMPORARY_KEY.secret_key
    )
    scf_env.inject(Fault(error_code="InvalidParameterValue", error_message=echo))
    response = app.handle(http_event({"SerialNo": "echo"}), scf_context())
    output = capsys.readouterr().out + response["body"]
    assert TEMPORARY_KEY.token is not None
    for secret in (TEMPORARY_KEY.token, TEMPORARY_KEY.token[:20], "ab" * 32, "abababab", TEMPORARY_KEY.secret_key):
        assert secret not in output
    assert "[REDACTED]" in body_of(response)["Error"]["Message"]

"""The message contract: field rules, aliases, arrays, publish-time fallback."""

from __future__ import annotations

from typing import Any

import pytest

from sms_conversion.message import InvalidMessage, parse_messages, plausible_publish_time

NOW = 1_700_000_000


def parse(payload: Any, default_app_id: str | None = "1400006666", publish_time: int | None = None) -> list[Any]:
    return parse_messages(payload, now=NOW, default_app_id=default_app_id, publish_time=publish_time)


def errors_of(payload: Any, **kwargs: Any) -> list[tuple[int | None, str, str]]:
    with pytest.raises(InvalidMessage) as caught:
        parse(payload, **kwargs)
    return [(error.index, error.field, error.message) for error in caught.value.errors]


def test_the_api_example_is_valid() -> None:
    [message] = parse(
        {"SmsSdkAppId": "1400000001", "SerialNo": "5000:1045710669157053657849499619", "ConversionTime": 1658310430}
    )
    assert (message.SmsSdkAppId, message.SerialNo, message.ConversionTime) == (
        "1400000001",
        "5000:1045710669157053657849499619",
        1658310430,
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"sms_sdk_app_id": "1400000001", "serial_no": "s-1", "conversion_time": 1658310430},
        {"smsSdkAppId": "1400000001", "serialNo": "s-1", "conversionTime": 1658310430},
        {"SmsSdkAppId": 1400000001, "SerialNo": "s-1", "ConversionTime": 1658310430.0},
        {"SmsSdkAppId": "1400000001", "SerialNo": "s-1", "ConversionTime": "1658310430"},
    ],
)
def test_snake_and_camel_case_and_lenient_numbers(payload: dict[str, Any]) -> None:
    [message] = parse(payload)
    assert message.model_dump() == {"SmsSdkAppId": "1400000001", "SerialNo": "s-1", "ConversionTime": 1658310430}


def test_unknown_fields_are_ignored_and_never_forwarded() -> None:
    [message] = parse({"SerialNo": "s-1", "PhoneNumber": "+8613800000000", "Extra": {"a": 1}})
    assert set(message.model_dump()) == {"SmsSdkAppId", "SerialNo", "ConversionTime"}


def test_app_id_defaults_to_the_configured_one() -> None:
    [message] = parse({"SerialNo": "s-1"}, default_app_id="1400009999")
    assert message.SmsSdkAppId == "1400009999"
    [explicit] = parse({"SerialNo": "s-1", "SmsSdkAppId": "1400000001"}, default_app_id="1400009999")
    assert explicit.SmsSdkAppId == "1400000001"
    [null] = parse({"SerialNo": "s-1", "SmsSdkAppId": None}, default_app_id="1400009999")
    assert null.SmsSdkAppId == "1400009999"


def test_app_id_required_without_a_default_says_how_to_fix() -> None:
    assert errors_of({"SerialNo": "s-1"}, default_app_id=None) == [
        (None, "SmsSdkAppId", "is required (or set SMS_SDK_APP_ID on the function)")
    ]
    [(_, field, _)] = errors_of({"SerialNo": "s-1", "SmsSdkAppId": None}, default_app_id=None)
    assert field == "SmsSdkAppId"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (True, "not a boolean"),
        ("14000abc", "digits"),
        ("", "digits"),
        ("1" * 21, "digits"),
        (1.5, "digits"),
    ],
)
def test_bad_app_ids(value: Any, fragment: str) -> None:
    [(_, field, message)] = errors_of({"SerialNo": "s-1", "SmsSdkAppId": value})
    assert field == "SmsSdkAppId"
    assert fragment in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("a" * 129, "at most 128"),
        ("5000:1 2", "whitespace"),
        ("5000:1\t2", "whitespace"),
        ("5000:1\x002", "control"),
        ("5000:1\u200b2", "control"),
        (12345, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_bad_serial_numbers(value: Any, fragment: str) -> None:
    [(_, field, message)] = errors_of({"SerialNo": value})
    assert field == "SerialNo"
    assert fragment in message


def test_serial_number_of_exactly_128_characters_is_valid() -> None:
    assert parse({"SerialNo": "a" * 128})[0].SerialNo == "a" * 128


def test_missing_serial_number() -> None:
    assert errors_of({"SmsSdkAppId": "1400000001"}) == [(None, "SerialNo", "is required")]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (True, "not a boolean"),
        (1658310430.5, "without a fraction"),
        ("1658310430.5", "without a fraction"),
        (-5, "positive"),
        (0, "positive"),
        (1658310430123, "milliseconds"),
        (NOW + 301, "future"),
        ("soon", "integer"),
        ([1], "integer"),
        (float("nan"), "fraction"),
    ],
)
def test_bad_conversion_times(value: Any, fragment: str) -> None:
    [(_, field, message)] = errors_of({"SerialNo": "s-1", "ConversionTime": value})
    assert field == "ConversionTime"
    assert fragment in message


def test_conversion_time_within_five_minutes_ahead_is_accepted() -> None:
    assert parse({"SerialNo": "s-1", "ConversionTime": NOW + 300})[0].ConversionTime == NOW + 300


def test_array_is_validated_whole_and_lists_each_bad_item() -> None:
    errors = errors_of([{"SerialNo": "ok-1"}, {"SerialNo": ""}, "text", {"SerialNo": "ok-2", "ConversionTime": -1}])
    assert errors == [
        (1, "SerialNo", "must not be empty"),
        (2, "message", "must be a JSON object"),
        (3, "ConversionTime", "must be a positive UNIX time in seconds"),
    ]


def test_array_limits() -> None:
    assert len(parse([{"SerialNo": f"s-{i}"} for i in range(100)])) == 100
    with pytest.raises(InvalidMessage) as caught:
        parse([{"SerialNo": f"s-{i}"} for i in range(101)])
    assert caught.value.too_large
    assert errors_of([]) == [(None, "message", "an array must hold at least one message")]


@pytest.mark.parametrize("payload", ["text", 42, None, True])
def test_non_objects_are_invalid(payload: Any) -> None:
    assert errors_of(payload) == [(None, "message", "must be a JSON object")]


def test_publish_time_fills_only_a_missing_conversion_time() -> None:
    [filled] = parse({"SerialNo": "s-1"}, publish_time=NOW - 10)
    [kept] = parse({"SerialNo": "s-1", "ConversionTime": NOW - 99}, publish_time=NOW - 10)
    assert (filled.ConversionTime, kept.ConversionTime) == (NOW - 10, NOW - 99)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (NOW - 60, NOW - 60),
        ((NOW - 60) * 1000 + 123, NOW - 60),
        (str(NOW - 60), NOW - 60),
        ("2023-11-14T22:13:20.000Z", 1_700_000_000),
        ("2023-11-14T22:13:20", 1_700_000_000),
        ("1970-01-01T00:00:00.000Z", None),
        (11203432, None),
        (NOW + 3600, None),
        ("yesterday", None),
        (True, None),
        (None, None),
        (float("inf"), None),
    ],
)
def test_plausible_publish_time(raw: Any, expected: int | None) -> None:
    assert plausible_publish_time(raw, NOW) == expected

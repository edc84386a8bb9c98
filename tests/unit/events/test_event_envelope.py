"""The envelope: id, type, occurred_at, store_id, data; and the shape of the error messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from kapta_vendus.events import EventInvalid, EventType, Rejection, validate_event


def reasons(envelope) -> list[str]:
    with pytest.raises(EventInvalid) as caught:
        validate_event(envelope)
    return caught.value.errors


def test_cafe_example_validates(cafe):
    event = validate_event(cafe)
    assert event.id == "evt_0001"
    assert event.type is EventType.SALE_COMPLETED
    assert event.store_id == 24994
    assert event.occurred_at == datetime(2026, 11, 25, 8, 12, tzinfo=UTC)
    assert event.data["lines"][0]["unit_price"] == Decimal("0.80")
    assert event.raw is cafe


def test_event_invalid_is_a_rejection_with_reasons(cafe):
    del cafe["id"]
    with pytest.raises(Rejection) as caught:
        validate_event(cafe)
    assert caught.value.reasons == ["id: is required"]
    assert "id: is required" in str(caught.value)


def test_not_an_object():
    assert reasons(["x"]) == ["envelope: must be a JSON object"]


def test_all_missing_fields_reported_at_once():
    assert reasons({}) == [
        "data: is required",
        "id: is required",
        "occurred_at: is required",
        "store_id: is required",
        "type: is required",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "id: must not be blank"),
        ("   ", "id: must not be blank"),
        ("x" * 201, "id: must be at most 200 characters (got 201)"),
        (12, "id: must be a string (got int)"),
    ],
)
def test_id(cafe, value, message):
    cafe["id"] = value
    assert reasons(cafe) == [message]


def test_id_is_kept_exactly_as_sent(cafe):
    cafe["id"] = " evt_1 "
    assert validate_event(cafe).id == " evt_1 "


def test_id_of_200_characters_is_fine(cafe):
    cafe["id"] = "e" * 200
    assert validate_event(cafe).id == "e" * 200


def test_unknown_type_lists_the_catalogue(cafe):
    cafe["type"] = "sale.created"
    (message,) = reasons(cafe)
    assert message.startswith("type: must be one of sale.completed, invoice.created")
    assert message.endswith("(got 'sale.created')")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2026-11-25T08:12:00", "must include a UTC offset"),
        ("2026-11-25", "must include a UTC offset"),
        ("yesterday", "must be an ISO 8601 datetime"),
        (1764058320, "must be an ISO 8601 string"),
    ],
)
def test_occurred_at_must_be_aware(cafe, value, fragment):
    cafe["occurred_at"] = value
    (message,) = reasons(cafe)
    assert message.startswith("occurred_at: ") and fragment in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25T08:12:00Z", datetime(2026, 11, 25, 8, 12, tzinfo=UTC)),
        ("2026-11-25T09:12:00+01:00", datetime(2026, 11, 25, 9, 12, tzinfo=timezone(timedelta(hours=1)))),
    ],
)
def test_occurred_at_offsets(cafe, value, expected):
    cafe["occurred_at"] = value
    assert validate_event(cafe).occurred_at == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("24994", "store_id: must be an integer (got '24994')"),
        (True, "store_id: must be an integer (got True)"),
        (1.5, "store_id: must be an integer (got 1.5)"),
        (0, "store_id: must be at least 1 (got 0)"),
        (None, "store_id: must not be null"),
    ],
)
def test_store_id(cafe, value, message):
    cafe["store_id"] = value
    assert reasons(cafe) == [message]


@pytest.mark.parametrize("value", [[], "x", None])
def test_data_must_be_an_object(cafe, value):
    cafe["data"] = value
    assert reasons(cafe) == ["data: must be a JSON object" if value is not None else "data: must not be null"]


def test_unknown_fields_are_ignored_but_kept_raw(cafe):
    cafe["extra"] = {"anything": 1}
    cafe["data"]["pos_terminal"] = "T1"
    cafe["data"]["lines"][0]["colour"] = "black"
    event = validate_event(cafe)
    assert "pos_terminal" not in event.data
    assert "colour" not in event.data["lines"][0]
    assert event.raw["data"]["pos_terminal"] == "T1"


def test_envelope_and_payload_errors_come_together(cafe):
    cafe["store_id"] = "x"
    del cafe["data"]["sale_id"]
    assert reasons(cafe) == ["store_id: must be an integer (got 'x')", "data.sale_id: is required"]


def test_list_indexes_are_zero_based_in_paths(cafe):
    cafe["data"]["lines"][1]["tax"] = "ISE"
    assert reasons(cafe) == [
        "data.lines[1].exemption: required when tax is ISE (an exemption code such as M07)"
    ]

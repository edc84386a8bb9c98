"""sale.completed payload rules (reference/events.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kapta_vendus.events import EventInvalid, validate_event


def reasons(envelope) -> list[str]:
    with pytest.raises(EventInvalid) as caught:
        validate_event(envelope)
    return caught.value.errors


def line(**fields):
    return {"reference": "X", "title": "Thing", "qty": "1", "unit_price": "1.00", "tax": "NOR", **fields}


def test_defaults_applied(cafe):
    data = validate_event(cafe).data
    assert data["register_id"] is None
    assert data["notes"] is None
    assert data["lines"][0]["discount_percentage"] is None
    assert data["lines"][0]["exemption"] is None


@pytest.mark.parametrize("field", ["sale_id", "closed_at", "lines", "payment_status"])
def test_required_fields(cafe, field):
    del cafe["data"][field]
    assert reasons(cafe) == [f"data.{field}: is required"]


def test_payments_may_be_left_out(cafe):
    del cafe["data"]["payments"]
    cafe["data"]["payment_status"] = "pending"
    assert validate_event(cafe).data["payments"] == []


def test_lines_must_not_be_empty(cafe):
    cafe["data"]["lines"] = []
    assert reasons(cafe) == ["data.lines: must have at least 1 line"]


def test_closed_at_must_carry_an_offset(cafe):
    cafe["data"]["closed_at"] = "2026-11-25 08:12:00"
    (message,) = reasons(cafe)
    assert message.startswith("data.closed_at: must include a UTC offset")


def test_register_id_is_an_integer(cafe):
    cafe["data"]["register_id"] = "101"
    assert reasons(cafe) == ["data.register_id: must be an integer (got '101')"]
    cafe["data"]["register_id"] = 101
    assert validate_event(cafe).data["register_id"] == 101


@pytest.mark.parametrize("status", ["paid", "partial", "pending"])
def test_payment_status_values(cafe, status):
    cafe["data"]["payment_status"] = status
    assert validate_event(cafe).data["payment_status"] == status


def test_payment_status_unknown(cafe):
    cafe["data"]["payment_status"] = "PAID"
    assert reasons(cafe) == ["data.payment_status: must be one of paid, partial, pending (got 'PAID')"]


# --- lines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("qty", "0", "data.lines[0].qty: must be greater than 0"),
        ("qty", "-1", "data.lines[0].qty: must not be negative"),
        ("qty", 2, 'data.lines[0].qty: must be a decimal string such as "2", not a JSON number'),
        ("qty", "1.0005", "data.lines[0].qty: must have at most 3 decimal places (got 1.0005)"),
        ("unit_price", "-0.80", "data.lines[0].unit_price: must not be negative"),
        (
            "unit_price",
            0.8,
            'data.lines[0].unit_price: must be a decimal string such as "2.90", not a JSON number',
        ),
        ("unit_price", "0.805", "data.lines[0].unit_price: must have at most 2 decimal places (got 0.805)"),
        ("tax", "OUT", "data.lines[0].tax: must be one of NOR, INT, RED, ISE (got 'OUT')"),
        ("tax", "23", "data.lines[0].tax: must be one of NOR, INT, RED, ISE (got '23')"),
        ("title", "", "data.lines[0].title: must not be blank"),
        ("discount_percentage", "101", "data.lines[0].discount_percentage: must be at most 100 (got 101)"),
        ("discount_percentage", "-5", "data.lines[0].discount_percentage: must not be negative"),
        (
            "discount_percentage",
            10,
            'data.lines[0].discount_percentage: must be a decimal string such as "10", not a JSON number',
        ),
    ],
)
def test_line_field_rules(cafe, field, value, message):
    cafe["data"]["lines"][0][field] = value
    assert reasons(cafe) == [message]


def test_title_is_required(cafe):
    del cafe["data"]["lines"][0]["title"]
    assert reasons(cafe) == ["data.lines[0].title: is required"]


def test_reference_is_optional(cafe):
    del cafe["data"]["lines"][0]["reference"]
    assert validate_event(cafe).data["lines"][0]["reference"] is None


def test_discount_percentage_and_category(cafe):
    cafe["data"]["lines"][0].update(discount_percentage="12.5", category="Bebidas")
    loaded = validate_event(cafe).data["lines"][0]
    assert loaded["discount_percentage"] == Decimal("12.5")
    assert loaded["category"] == "Bebidas"


def test_ise_needs_an_exemption(cafe):
    cafe["data"]["lines"] = [line(), line(tax="ISE")]
    assert reasons(cafe) == [
        "data.lines[1].exemption: required when tax is ISE (an exemption code such as M07)"
    ]


@pytest.mark.parametrize("exemption", [None, "", "  "])
def test_ise_with_blank_exemption(cafe, exemption):
    cafe["data"]["lines"] = [line(tax="ISE", exemption=exemption)]
    assert reasons(cafe) == [
        "data.lines[0].exemption: required when tax is ISE (an exemption code such as M07)"
    ]


@pytest.mark.parametrize("code", ["M07", "m07", "M16", "M99", "M10", "M30", "M43", "M44", "M46"])
def test_valid_exemption_codes(cafe, code):
    cafe["data"]["lines"] = [line(tax="ISE", exemption=code)]
    assert validate_event(cafe).data["lines"][0]["exemption"] == code.upper()


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("M03", "M03 is revoked and cannot be used on new documents"),
        ("M08", "M08 is revoked (replaced by M30 to M43 since 2023) and cannot be used on new documents"),
        (
            "M26",
            "M26 is expired (the 'IVA zero' food basket ended in January 2024)"
            " and cannot be used on new documents",
        ),
        ("M17", "M17 is not an exemption code (expected M01 to M99 from the AT table, e.g. M07)"),
        ("isento", "ISENTO is not an exemption code (expected M01 to M99 from the AT table, e.g. M07)"),
    ],
)
def test_invalid_or_revoked_exemption_codes(cafe, code, message):
    cafe["data"]["lines"] = [line(tax="ISE", exemption=code)]
    assert reasons(cafe) == [f"data.lines[0].exemption: {message}"]


def test_exemption_only_with_ise(cafe):
    cafe["data"]["lines"] = [line(tax="NOR", exemption="M07")]
    assert reasons(cafe) == ["data.lines[0].exemption: only allowed when tax is ISE (tax is NOR)"]


def test_every_line_problem_is_reported(cafe):
    cafe["data"]["lines"] = [line(qty="0"), line(tax="ISE"), line(unit_price="x")]
    assert reasons(cafe) == [
        "data.lines[0].qty: must be greater than 0",
        "data.lines[1].exemption: required when tax is ISE (an exemption code such as M07)",
        "data.lines[2].unit_price: must be a decimal string such as \"2.90\" (got 'x')",
    ]


# --- customer ----------------------------------------------------------------------------------


def test_customer_defaults_to_portugal(cafe):
    cafe["data"]["customer"] = {"name": "Ana", "fiscal_id": "123456789"}
    customer = validate_event(cafe).data["customer"]
    assert customer["country"] == "PT"
    assert customer["fiscal_id"] == "123456789"


def test_customer_null_country_means_portugal(cafe):
    cafe["data"]["customer"] = {"fiscal_id": "123456789", "country": None}
    assert validate_event(cafe).data["customer"]["country"] == "PT"


def test_customer_country_is_upper_cased(cafe):
    cafe["data"]["customer"] = {"fiscal_id": "B58378431", "country": "es"}
    assert validate_event(cafe).data["customer"]["country"] == "ES"


@pytest.mark.parametrize("country", ["Portugal", "PRT", "P", "1A"])
def test_customer_country_must_be_iso2(cafe, country):
    cafe["data"]["customer"] = {"country": country}
    (message,) = reasons(cafe)
    assert message.startswith("data.customer.country: must be an ISO 3166 two-letter country code")


def test_blank_fiscal_id_means_none(cafe):
    cafe["data"]["customer"] = {"name": "Ana", "fiscal_id": ""}
    assert validate_event(cafe).data["customer"]["fiscal_id"] is None


def test_customer_email(cafe):
    cafe["data"]["customer"] = {"email": "not-an-email"}
    assert reasons(cafe) == ["data.customer.email: must be an email address"]
    cafe["data"]["customer"] = {
        "email": "ana@example.pt",
        "address": "Rua A, 1",
        "postalcode": "1000-001",
        "city": "Lisboa",
    }
    assert validate_event(cafe).data["customer"]["city"] == "Lisboa"


def test_customer_must_be_an_object(cafe):
    cafe["data"]["customer"] = "Ana"
    assert reasons(cafe) == ["data.customer: must be a JSON object"]


# --- payments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payment", "message"),
    [
        ({"method": "cash", "amount": "2.90"}, "data.payments[0].status: is required"),
        (
            {"method": "cash", "amount": "2.90", "status": "done"},
            "data.payments[0].status: must be one of paid, pending (got 'done')",
        ),
        ({"method": "", "amount": "2.90", "status": "paid"}, "data.payments[0].method: must not be blank"),
        (
            {"method": "cash", "amount": 2.9, "status": "paid"},
            'data.payments[0].amount: must be a decimal string such as "2.90", not a JSON number',
        ),
        (
            {"method": "cash", "amount": "-2.90", "status": "paid"},
            "data.payments[0].amount: must not be negative",
        ),
    ],
)
def test_payment_rules(cafe, payment, message):
    cafe["data"]["payments"] = [payment]
    assert reasons(cafe) == [message]


def test_line_kind_is_goods_or_service(cafe):
    """events.md sale.completed: ``kind`` is optional, goods or service (it decides the FS limit)."""
    cafe["data"]["lines"][0]["kind"] = "service"
    assert validate_event(cafe).data["lines"][0]["kind"] == "service"
    assert validate_event(cafe).data["lines"][1]["kind"] is None
    cafe["data"]["lines"][0]["kind"] = "food"
    assert reasons(cafe) == ["data.lines[0].kind: must be one of goods, service (got 'food')"]

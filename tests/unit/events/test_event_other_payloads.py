"""payment.confirmed, sale.refunded and the events that carry a Vendus document."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from kapta_vendus.events import EventInvalid, validate_event

PAYMENT = {
    "sale_id": "T1-9",
    "payment_id": "pay_1",
    "method": "mbway",
    "amount": "10.00",
    "confirmed_at": "2026-11-25T10:00:00+00:00",
}
REFUND = {"sale_id": "T1-9", "refund_id": "ref_1", "reason": "Produto com defeito"}


def reasons(envelope) -> list[str]:
    with pytest.raises(EventInvalid) as caught:
        validate_event(envelope)
    return caught.value.errors


# --- payment.confirmed -------------------------------------------------------------------------


def test_payment_confirmed(envelope):
    data = validate_event(envelope("payment.confirmed", dict(PAYMENT))).data
    assert data["amount"] == Decimal("10.00")
    assert data["confirmed_at"].utcoffset() is not None


@pytest.mark.parametrize("field", ["sale_id", "payment_id", "method", "amount", "confirmed_at"])
def test_payment_confirmed_required(envelope, field):
    data = dict(PAYMENT)
    del data[field]
    assert reasons(envelope("payment.confirmed", data)) == [f"data.{field}: is required"]


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0.00", "must be greater than 0"),
        ("-1", "must not be negative"),
        ("1.005", "must have at most 2 decimal places (got 1.005)"),
    ],
)
def test_payment_confirmed_amount(envelope, amount, message):
    assert reasons(envelope("payment.confirmed", {**PAYMENT, "amount": amount})) == [
        f"data.amount: {message}"
    ]


# --- sale.refunded -----------------------------------------------------------------------------


def test_refund_without_lines_means_everything(envelope):
    assert validate_event(envelope("sale.refunded", dict(REFUND))).data["lines"] is None


def test_refund_lines_by_reference_or_row(envelope):
    data = {**REFUND, "lines": [{"reference": "CAFE", "qty": "1"}, {"row": 2, "qty": "0.5"}]}
    lines = validate_event(envelope("sale.refunded", data)).data["lines"]
    assert lines[0] == {"reference": "CAFE", "row": None, "qty": Decimal(1)}
    assert lines[1] == {"reference": None, "row": 2, "qty": Decimal("0.5")}


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_refund_reason_must_not_be_blank(envelope, reason):
    message = "must not be null" if reason is None else "must not be blank"
    assert reasons(envelope("sale.refunded", {**REFUND, "reason": reason})) == [f"data.reason: {message}"]


def test_refund_reason_required(envelope):
    data = dict(REFUND)
    del data["reason"]
    assert reasons(envelope("sale.refunded", data)) == ["data.reason: is required"]


def test_refund_empty_lines_is_refused(envelope):
    assert reasons(envelope("sale.refunded", {**REFUND, "lines": []})) == [
        "data.lines: must not be empty; leave lines out to refund everything"
    ]


@pytest.mark.parametrize(
    ("refund_line", "message"),
    [
        ({"qty": "1"}, "data.lines[0]: needs a reference (product) or a row (1-based line of the invoice)"),
        (
            {"reference": "", "qty": "1"},
            "data.lines[0]: needs a reference (product) or a row (1-based line of the invoice)",
        ),
        ({"reference": "A", "row": 1, "qty": "1"}, "data.lines[0]: give either reference or row, not both"),
        ({"row": 0, "qty": "1"}, "data.lines[0].row: must be at least 1 (got 0)"),
        ({"row": "1", "qty": "1"}, "data.lines[0].row: must be an integer (got '1')"),
        ({"row": 1}, "data.lines[0].qty: is required"),
        ({"row": 1, "qty": "0"}, "data.lines[0].qty: must be greater than 0"),
    ],
)
def test_refund_line_rules(envelope, refund_line, message):
    assert reasons(envelope("sale.refunded", {**REFUND, "lines": [refund_line]})) == [message]


# --- document events ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_type", ["invoice.created", "receipt.issued", "credit_note.issued", "document.cancelled"]
)
def test_document_events_accept_the_detail_shape(envelope, document, event_type):
    data = validate_event(envelope(event_type, document)).data
    assert data["status"] == "N"
    assert data["date"] == date(2026, 11, 25)
    assert data["amount_gross"] == Decimal("12.30")
    assert "items" not in data  # kept in the raw event, not in the loaded summary


def test_document_list_row_shape_and_decoded_amounts(envelope, document):
    document.update(status="A", amount_gross=Decimal("12.30"), amount_net=10, external_reference=None)
    data = validate_event(envelope("document.cancelled", document)).data
    assert (data["status"], data["amount_gross"], data["amount_net"]) == ("A", Decimal("12.30"), Decimal(10))
    assert data["external_reference"] is None


def test_unknown_document_types_are_accepted(envelope, document):
    document["type"] = "VD"
    assert validate_event(envelope("invoice.created", document)).data["type"] == "VD"


@pytest.mark.parametrize(
    "field",
    ["id", "type", "number", "status", "date", "amount_gross", "amount_net", "store_id", "register_id"],
)
def test_document_required_fields(envelope, document, field):
    del document[field]
    assert reasons(envelope("invoice.created", document)) == [f"data.{field}: is required"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", {"date": "x"}, 'data.status: must be a status letter such as "N", or an object with "id"'),
        ("date", "25/11/2026", 'data.date: must be a date such as "2026-11-25"'),
        ("amount_gross", "abc", "data.amount_gross: must be an amount such as \"12.30\" (got 'abc')"),
        ("id", "5123", "data.id: must be an integer (got '5123')"),
    ],
)
def test_document_field_rules(envelope, document, field, value, message):
    document[field] = value
    assert reasons(envelope("invoice.created", document)) == [message]


def test_invoice_finalized_needs_the_invoice(envelope, document):
    document.update(type="PF", number="PF 01P2026/3", status="F")
    assert reasons(envelope("invoice.finalized", document)) == ["data.invoice: is required"]
    document["invoice"] = {**document, "id": 6000, "type": "FT", "number": "FT 01P2026/8", "status": "N"}
    data = validate_event(envelope("invoice.finalized", document)).data
    assert data["invoice"]["number"] == "FT 01P2026/8"


# --- sale.customer_changed ---------------------------------------------------------------------

CHANGE = {"sale_id": "T1-9", "change_id": "chg_1", "customer": {"name": "Ana", "fiscal_id": "123456789"}}


def test_customer_changed_has_a_default_reason(envelope):
    """events.md sale.customer_changed: reason optional, default "Correção dos dados do adquirente"."""
    data = validate_event(envelope("sale.customer_changed", CHANGE)).data
    assert data["reason"] == "Correção dos dados do adquirente"
    assert data["customer"]["country"] == "PT"


@pytest.mark.parametrize("field", ["sale_id", "change_id", "customer"])
def test_customer_changed_required(envelope, field):
    data = {k: v for k, v in CHANGE.items() if k != field}
    assert reasons(envelope("sale.customer_changed", data)) == [f"data.{field}: is required"]

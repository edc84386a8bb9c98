"""normalise(): validated payloads → frozen models; to_context(): the rules' flat view."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from event_samples import envelope
from hypothesis import given
from hypothesis import strategies as st

from kapta_vendus.events import EventType, validate_event
from kapta_vendus.pipeline.model import Customer, Payment, SaleLine, region_timezone
from kapta_vendus.pipeline.normalise import CONTEXT_FIELDS, normalise, to_context

DOC = {
    "id": 5123,
    "type": "ft",
    "number": "FT 01P2026/7",
    "status": {"id": "N"},
    "date": "2026-11-25",
    "amount_gross": "12.30",
    "amount_net": "10.00",
    "external_reference": "T1-000200",
    "store_id": 24994,
    "register_id": 101,
    "client": {"fiscal_id": "PT 501 964 843", "name": "Empresa", "country": "pt"},
}


def test_cafe_sale(cafe_event):
    sale = cafe_event.sale
    assert cafe_event.type is EventType.SALE_COMPLETED
    assert cafe_event.event_id == "evt_0001"
    assert cafe_event.sale_id == "T1-000123"
    assert sale.customer is None
    assert sale.lines[0] == SaleLine(
        title="Café", qty=Decimal(2), unit_price=Decimal("0.80"), tax="RED", reference="CAFE"
    )
    assert sale.payments == (Payment("cash", Decimal("2.90"), "paid"),)
    assert sale.total == Decimal("2.90")
    assert sale.paid_amount == Decimal("2.90")
    assert sale.unpaid_amount == Decimal("0.00")
    assert sale.closed_at.tzinfo is not None


def test_models_are_frozen(cafe_event):
    with pytest.raises(dataclasses.FrozenInstanceError):
        cafe_event.sale.sale_id = "other"  # type: ignore[misc]


def test_customer_and_register(cafe_envelope):
    cafe_envelope["data"].update(
        register_id=5, customer={"name": "Ana", "fiscal_id": "123 456 789"}, notes="Mesa 4"
    )
    sale = normalise(validate_event(cafe_envelope)).sale
    assert sale.register_id == 5
    assert sale.notes == "Mesa 4"
    assert sale.customer == Customer(name="Ana", fiscal_id="123 456 789", country="PT")
    assert sale.has_nif


@pytest.mark.parametrize(
    ("fiscal_id", "has_nif"),
    [(None, False), ("999999990", False), ("PT 999 999 990", False), ("123456789", True)],
)
def test_final_consumer(fiscal_id, has_nif):
    assert Customer(fiscal_id=fiscal_id).has_nif is has_nif
    assert Customer(fiscal_id=fiscal_id).is_final_consumer is not has_nif


def test_pending_payments_do_not_count_as_paid(cafe_envelope):
    cafe_envelope["data"]["payments"] = [
        {"method": "cash", "amount": "1.00", "status": "paid"},
        {"method": "transfer", "amount": "1.90", "status": "pending"},
    ]
    cafe_envelope["data"]["payment_status"] = "partial"
    sale = normalise(validate_event(cafe_envelope)).sale
    assert (sale.paid_amount, sale.unpaid_amount) == (Decimal("1.00"), Decimal("1.90"))


def test_line_total_with_discount_rounds_half_up_per_line():
    line = SaleLine(
        title="x", qty=Decimal(3), unit_price=Decimal("0.35"), tax="NOR", discount_percentage=Decimal(10)
    )
    assert line.total == Decimal("0.95")  # 0.945 → 0.95


def test_payment_confirmed():
    data = {
        "sale_id": "T1-9",
        "payment_id": "p1",
        "method": "mbway",
        "amount": "5.00",
        "confirmed_at": "2026-11-25T10:00:00+00:00",
    }
    event = normalise(validate_event(envelope("payment.confirmed", data)))
    assert event.payment.amount == Decimal("5.00")
    assert event.payment.store_id == 24994
    assert event.sale_id == "T1-9"


def test_sale_refunded():
    data = {"sale_id": "T1-9", "refund_id": "r1", "reason": "Defeito", "lines": [{"row": 1, "qty": "1"}]}
    refund = normalise(validate_event(envelope("sale.refunded", data))).refund
    assert refund.reason == "Defeito"
    assert not refund.is_full
    assert refund.lines[0].row == 1
    data.pop("lines")
    assert normalise(validate_event(envelope("sale.refunded", data))).refund.is_full


def test_document_event_keeps_the_raw_document():
    event = normalise(validate_event(envelope("invoice.created", dict(DOC))))
    doc = event.document
    assert (doc.id, doc.type, doc.number, doc.status) == (5123, "FT", "FT 01P2026/7", "N")
    assert doc.date == date(2026, 11, 25)
    assert doc.amount_gross == Decimal("12.30")
    assert doc.raw["client"]["name"] == "Empresa"
    assert event.sale_id == "T1-000200"


def test_invoice_finalized_links_the_invoice():
    data = {**DOC, "type": "PF", "number": "PF 01P2026/1", "status": "F", "invoice": {**DOC, "id": 6000}}
    doc = normalise(validate_event(envelope("invoice.finalized", data))).document
    assert doc.status == "F"
    assert doc.invoice.id == 6000 and doc.invoice.type == "FT"


# --- to_context --------------------------------------------------------------------------------


def test_cafe_context(cafe_event):
    ctx = to_context(cafe_event)
    assert ctx["type"] == "sale.completed"
    assert ctx["total"] == Decimal("2.90") and isinstance(ctx["total"], Decimal)
    assert ctx["paid"] == Decimal("2.90")
    assert ctx["payment_status"] == "paid"
    assert ctx["has_nif"] is False and ctx["has_customer"] is False
    assert ctx["customer_nif"] == "" and ctx["customer_country"] == "PT"
    assert ctx["line_count"] == 2
    assert ctx["products"] == ["CAFE", "PASTEL"]
    assert ctx["taxes"] == ["RED", "INT"]
    assert ctx["methods"] == ["cash"]
    assert ctx["hour"] == 8 and ctx["weekday"] == 3 and ctx["date"] == "2026-11-25"


def test_context_has_the_same_keys_for_every_event(cafe_event):
    refund = normalise(
        validate_event(envelope("sale.refunded", {"sale_id": "a", "refund_id": "b", "reason": "c"}))
    )
    doc = normalise(validate_event(envelope("document.cancelled", {**DOC, "status": "A"})))
    for event in (cafe_event, refund, doc):
        assert set(to_context(event)) == set(CONTEXT_FIELDS)


def test_context_is_in_local_time():
    # 23:30 UTC on a summer Saturday is 00:30 on Sunday in Lisbon, but 23:30 Saturday in the Azores.
    data = {
        "sale_id": "a",
        "payment_id": "b",
        "method": "card",
        "amount": "1.00",
        "confirmed_at": "2026-07-04T23:30:00+00:00",
    }
    event = normalise(validate_event(envelope("payment.confirmed", data)))
    lisbon = to_context(event)
    assert (lisbon["hour"], lisbon["weekday"], lisbon["date"]) == (0, 7, "2026-07-05")
    azores = to_context(event, tz=region_timezone("azores"))
    assert (azores["hour"], azores["weekday"], azores["date"]) == (23, 6, "2026-07-04")


def test_context_of_a_customer_with_nif(cafe_envelope):
    cafe_envelope["data"]["customer"] = {"name": "Ana", "fiscal_id": "pt 123.456.789", "country": "pt"}
    ctx = to_context(normalise(validate_event(cafe_envelope)))
    assert (ctx["customer_nif"], ctx["customer_country"], ctx["customer_name"]) == (
        "PT123456789",
        "PT",
        "Ana",
    )
    assert ctx["has_nif"] is True and ctx["has_customer"] is True


def test_context_final_consumer_nif_is_not_a_nif(cafe_envelope):
    cafe_envelope["data"]["customer"] = {"fiscal_id": "999999990"}
    ctx = to_context(normalise(validate_event(cafe_envelope)))
    assert ctx["has_nif"] is False and ctx["has_customer"] is True


def test_context_of_a_document():
    ctx = to_context(normalise(validate_event(envelope("invoice.created", dict(DOC)))))
    assert ctx["document_type"] == "FT" and ctx["document_status"] == "N"
    assert ctx["total"] == Decimal("12.30")
    assert ctx["register_id"] == 101
    assert ctx["customer_nif"] == "PT501964843" and ctx["has_nif"] is True
    assert ctx["sale_id"] == "T1-000200"


def test_context_of_a_payment_and_a_refund():
    data = {
        "sale_id": "a",
        "payment_id": "b",
        "method": "mbway",
        "amount": "7.50",
        "confirmed_at": "2026-11-25T10:00:00Z",
    }
    ctx = to_context(normalise(validate_event(envelope("payment.confirmed", data))))
    assert (ctx["total"], ctx["paid"], ctx["methods"]) == (Decimal("7.50"), Decimal("7.50"), ["mbway"])
    refund = {
        "sale_id": "a",
        "refund_id": "r",
        "reason": "Troca",
        "lines": [{"reference": "CAFE", "qty": "1"}, {"row": 2, "qty": "1"}],
    }
    ctx = to_context(normalise(validate_event(envelope("sale.refunded", refund))))
    assert (ctx["reason"], ctx["line_count"], ctx["products"]) == ("Troca", 2, ["CAFE"])


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.001"), max_value=Decimal(999), places=3),
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal(9999), places=2),
            st.decimals(min_value=0, max_value=100, places=2),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_sale_total_is_the_sum_of_cent_rounded_lines(rows):
    from kapta_vendus.pipeline.model import Sale

    lines = tuple(
        SaleLine(title="x", qty=q, unit_price=p, tax="NOR", discount_percentage=d) for q, p, d in rows
    )
    sale = Sale(
        sale_id="s",
        store_id=1,
        closed_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=lines,
        payment_status="pending",
    )
    assert sale.total == sum(line.total for line in lines)
    assert sale.total == sale.total.quantize(Decimal("0.01"))
    for line, (q, p, _) in zip(lines, rows, strict=True):
        assert Decimal(0) <= line.total <= (q * p).quantize(Decimal("0.01")) + Decimal("0.01")
        assert abs(line.total - q * p * (100 - line.discount_percentage) / 100) <= Decimal("0.005")


def test_context_as_json_keeps_money_exact(cafe_event):
    import json

    from kapta_vendus.pipeline.normalise import context_as_json

    flat = context_as_json(to_context(cafe_event))
    assert flat["total"] == "2.90" and flat["occurred_at"] == "2026-11-25T08:12:00+00:00"
    assert json.loads(json.dumps(flat)) == flat

"""Vendus request bodies: only documented fields, the right shape per document type."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from kapta_vendus.pipeline.account_exemptions import AccountExemption
from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.mapping import IntegrationMapping, map_sale
from kapta_vendus.pipeline.model import Customer, Payment, Refund, RefundLine, derived_reference
from kapta_vendus.pipeline.payloads import (
    CLIENT_FIELDS,
    DOCUMENT_FIELDS,
    ITEM_FIELDS,
    PAYMENT_FIELDS,
    build_credit_note_payload,
    build_document_payload,
    build_receipt_payload,
    build_sale_receipt_payload,
    credit_note_reference,
    receipt_reference,
    sale_id_from_reference,
)


def assert_only_allowed_fields(body: dict[str, Any]) -> None:
    assert set(body) <= DOCUMENT_FIELDS, set(body) - DOCUMENT_FIELDS
    for item in body.get("items", []):
        assert set(item) <= ITEM_FIELDS, set(item) - ITEM_FIELDS
        if "reference_document" in item:
            assert set(item["reference_document"]) == {"document_number", "document_row"}
    assert set(body.get("client", {})) <= CLIENT_FIELDS
    for payment in body.get("payments", []):
        assert set(payment) <= PAYMENT_FIELDS
    for invoice in body.get("invoices", []):
        assert set(invoice) == {"document_number"}
    json.dumps(body)  # JSON-ready: no Decimal, no date objects


@pytest.fixture
def plain_mapping() -> IntegrationMapping:
    return IntegrationMapping.from_dict(
        {"mode": "normal", "default_register_id": 101, "payment_methods": {"cash": 24934, "card": 24935}}
    )


# --- FT / FR / FS ------------------------------------------------------------------------------


TODAY = date(2026, 11, 27)


def test_cafe_example_is_an_fs(cafe_event, plain_mapping):
    body = build_document_payload(map_sale(cafe_event.sale, plain_mapping), "FS", tx_id="kv123", today=TODAY,
                                  external_reference="kv0a1b2c3d:24994:T1-000123")
    assert body == {
        "type": "FS",
        "register_id": 101,
        "mode": "normal",
        "date": "2026-11-27",  # issued today (pt rules §3 "Dates")
        "date_supply": "2026-11-25",  # the sale's own day
        "external_reference": "kv0a1b2c3d:24994:T1-000123",
        "items": [
            {"reference": "CAFE", "title": "Café", "qty": "2", "gross_price": "0.80", "type_id": "P",
             "tax_id": "RED"},
            {
                "reference": "PASTEL",
                "title": "Pastel de nata",
                "qty": "1",
                "gross_price": "1.30",
                "type_id": "P",
                "tax_id": "INT",
            },
        ],
        "payments": [{"id": 24934, "amount": "2.90"}],
        "tx_id": "kv123",
    }
    assert_only_allowed_fields(body)


def test_mapped_products_go_by_id(cafe_event, mapping):
    body = build_document_payload(map_sale(cafe_event.sale, mapping), "FS")
    assert body["items"][1] == {"id": 5001, "qty": "1", "gross_price": "1.30", "type_id": "P", "tax_id": "INT"}
    assert "tx_id" not in body  # the issuing step adds it
    assert body["register_id"] == 77


def test_fr_to_a_customer_with_nif(make_sale, plain_mapping):
    customer = Customer(name="Ana Silva", fiscal_id="PT 123 456 789", email="ana@example.pt", city="Porto")
    body = build_document_payload(map_sale(make_sale(customer=customer), plain_mapping), "FR")
    assert body["client"] == {
        "fiscal_id": "123456789",
        "country": "PT",
        "name": "Ana Silva",
        "city": "Porto",
        "email": "ana@example.pt",
    }
    assert body["payments"] == [{"id": 24934, "amount": "10.00"}]
    assert_only_allowed_fields(body)


def test_foreign_customer_keeps_the_country(make_sale, plain_mapping):
    body = build_document_payload(map_sale(make_sale(nif="ESB58378431", country="ES"), plain_mapping), "FR")
    assert body["client"]["fiscal_id"] == "ESB58378431" and body["client"]["country"] == "ES"


@pytest.mark.parametrize("fiscal_id", ["999999990", "PT999999990", None])
def test_final_consumer_nif_is_never_sent(make_sale, plain_mapping, fiscal_id):
    sale = make_sale(customer=Customer(fiscal_id=fiscal_id), total="500.00")
    body = build_document_payload(map_sale(sale, plain_mapping), "FR")
    assert "client" not in body
    assert "999999990" not in json.dumps(body)


def test_named_customer_without_nif_is_on_the_document(make_sale, plain_mapping):
    """A 1,500 € sale to João Silva, with an address but no NIF (pt rules §3, consumer identification)."""
    customer = Customer(name="João Silva", fiscal_id="999999990", address="Rua Direita 1", city="Lisboa")
    body = build_document_payload(map_sale(make_sale(customer=customer, total="1500.00"), plain_mapping), "FR")
    assert body["client"] == {"country": "PT", "name": "João Silva", "address": "Rua Direita 1", "city": "Lisboa"}
    assert "999999990" not in json.dumps(body)


def test_ft_has_no_payments_even_when_partly_paid(make_sale, plain_mapping):
    body = build_document_payload(map_sale(make_sale(status="partial"), plain_mapping), "FT")
    assert body["type"] == "FT" and "payments" not in body
    assert_only_allowed_fields(body)


def test_exempt_and_discounted_lines(make_sale, make_line, plain_mapping):
    lines = (
        make_line(title="Consulta", tax="ISE", exemption="M07", unit_price=Decimal("40.00")),
        make_line(
            title="Livro",
            reference="LIV-1",
            qty=Decimal("1.5"),
            unit_price=Decimal("20.00"),
            tax="RED",
            discount_percentage=Decimal("10"),
        ),
    )
    exemptions = {"M07": AccountExemption("M07", "Isento artigo 9.º do CIVA", "Artigo 9.º do CIVA")}
    body = build_document_payload(map_sale(make_sale(lines=lines), plain_mapping), "FS", exemptions=exemptions)
    assert body["items"] == [
        {
            "reference": derived_reference("Consulta"),  # none sent: derived from the title, stable
            "title": "Consulta",
            "qty": "1",
            "gross_price": "40.00",
            "type_id": "P",
            "tax_id": "ISE",
            "tax_exemption": "M07",
            "tax_exemption_law": "Artigo 9.º do CIVA",  # the account's legal article, not the label
        },
        {
            "reference": "LIV-1",
            "title": "Livro",
            "qty": "1.5",
            "gross_price": "20.00",
            "type_id": "P",
            "tax_id": "RED",
            "discount_percentage": "10",
        },
    ]
    assert body["payments"] == [{"id": 24934, "amount": "67.00"}]


def test_integration_exemption_law_text_is_used(make_sale, make_line):
    mapping = IntegrationMapping.from_dict(
        {
            "mode": "tests",
            "default_register_id": 1,
            "payment_methods": {"cash": 1},
            "exemption_laws": {"M07": "Texto AT"},
        }
    )
    sale = make_sale(lines=(make_line(tax="ISE", exemption="M07"),))
    body = build_document_payload(map_sale(sale, mapping), "FS")
    assert body["items"][0]["tax_exemption_law"] == "Texto AT"
    assert body["mode"] == "tests"


def test_split_payment(make_sale, plain_mapping):
    sale = make_sale(
        total="10.00", payments=(Payment("cash", Decimal("4.00")), Payment("card", Decimal("6.00")))
    )
    body = build_document_payload(map_sale(sale, plain_mapping), "FR")
    assert body["payments"] == [{"id": 24934, "amount": "4.00"}, {"id": 24935, "amount": "6.00"}]


def test_late_sale_is_dated_today_and_supplied_on_its_local_day(make_sale, plain_mapping):
    """Vendus refuses a date before the series' latest document: date = today, date_supply = the
    sale's local day (pt rules §3 "Dates"; events.md "Late and rounded sales")."""
    sale = make_sale(closed_at=datetime(2026, 7, 4, 23, 30, tzinfo=UTC), notes="Mesa 4")
    body = build_document_payload(map_sale(sale, plain_mapping), "FS", today=date(2026, 7, 8))
    assert (body["date"], body["date_supply"]) == ("2026-07-08", "2026-07-05")
    assert body["notes"] == "Mesa 4"
    assert build_document_payload(map_sale(sale, plain_mapping), "FS", notes="Outra")["notes"] == "Outra"


def test_fiscal_checks_run_before_building(make_sale, plain_mapping):
    with pytest.raises(FiscalRejection, match="over the FS limit"):
        build_document_payload(map_sale(make_sale(total="1200.00"), plain_mapping), "FS")
    with pytest.raises(FiscalRejection, match="not a valid Portuguese NIF"):
        build_document_payload(map_sale(make_sale(nif="123456780"), plain_mapping), "FR")


# --- RG ----------------------------------------------------------------------------------------


def test_receipt_payload():
    body = build_receipt_payload(
        ["FT 01P2026/7"],
        Decimal("7.5"),
        24936,
        register_id=77,
        mode="normal",
        date=date(2026, 11, 26),
        external_reference=receipt_reference("T1-9", "pay_1"),
        tx_id="kvRG",
    )
    assert body == {
        "type": "RG",
        "register_id": 77,
        "mode": "normal",
        "date": "2026-11-26",
        "payments": [{"id": 24936, "amount": "7.50"}],
        "invoices": [{"document_number": "FT 01P2026/7"}],
        "external_reference": "T1-9#RG:pay_1",
        "tx_id": "kvRG",
    }
    assert "items" not in body
    assert_only_allowed_fields(body)


def test_receipt_needs_an_invoice_and_an_amount():
    with pytest.raises(FiscalRejection):
        build_receipt_payload([], Decimal(5), 1)
    with pytest.raises(FiscalRejection):
        build_receipt_payload(["FT 1"], Decimal(0), 1)


def test_receipt_for_the_part_paid_at_the_sale(make_sale, plain_mapping):
    sale = make_sale(
        total="10.00",
        status="partial",
        payments=(
            Payment("cash", Decimal("2.00")),
            Payment("card", Decimal("3.00")),
            Payment("cash", Decimal("1.00")),
            Payment("card", Decimal("4.00"), "pending"),
        ),
    )
    body = build_sale_receipt_payload(map_sale(sale, plain_mapping), "FT 01P2026/7")
    assert body["payments"] == [{"id": 24934, "amount": "3.00"}, {"id": 24935, "amount": "3.00"}]
    assert body["invoices"] == [{"document_number": "FT 01P2026/7"}]
    assert body["external_reference"] == "T1-000200#RG:sale"
    assert_only_allowed_fields(body)


def test_reference_helpers():
    assert sale_id_from_reference(receipt_reference("T1-9", "p")) == "T1-9"
    assert sale_id_from_reference(credit_note_reference("T1-9", "r")) == "T1-9"
    assert sale_id_from_reference("T1-9") == "T1-9"


# --- NC ----------------------------------------------------------------------------------------


def refund(*lines: RefundLine, reason: str = "Produto com defeito") -> Refund:
    return Refund(sale_id="T1-000200", refund_id="ref_1", reason=reason, store_id=24994, lines=lines)


def nc_items(body):
    return [(i["reference_document"]["document_row"], i.get("id"), i["qty"]) for i in body["items"]]


def test_full_refund_credits_what_is_still_creditable(ft_detail):
    body = build_credit_note_payload(ft_detail, refund(), mode="normal", tx_id="kvNC")
    assert body["type"] == "NC"
    assert body["notes"] == "Produto com defeito"
    assert body["register_id"] == 77
    assert body["external_reference"] == "T1-000200#NC:ref_1"
    assert nc_items(body) == [(1, 9001, "4"), (2, 5001, "1"), (4, 9001, "1")]  # row 3 is fully credited
    assert body["items"][0] == {
        "reference_document": {"document_number": "FT 01P2026/7", "document_row": 1},
        "id": 9001,
        "qty": "4",
    }
    assert body["tx_id"] == "kvNC"
    assert_only_allowed_fields(body)


def test_partial_refund_by_row(ft_detail):
    body = build_credit_note_payload(ft_detail, refund(RefundLine(qty=Decimal("0.5"), row=2)), register_id=5)
    assert nc_items(body) == [(2, 5001, "0.5")]
    assert body["register_id"] == 5


def test_partial_refund_by_reference_spreads_over_rows(ft_detail):
    body = build_credit_note_payload(ft_detail, refund(RefundLine(qty=Decimal(5), reference="CAFE")))
    assert nc_items(body) == [(1, 9001, "4"), (4, 9001, "1")]


def test_reason_override(ft_detail):
    assert build_credit_note_payload(ft_detail, refund(), "Devolução")["notes"] == "Devolução"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            (RefundLine(qty=Decimal(2), row=2),),
            "lines[0]: qty 2 exceeds what is still creditable (1.000) of row 2",
        ),
        (
            (RefundLine(qty=Decimal(1), row=3),),
            "lines[0]: qty 1 exceeds what is still creditable (0.000) of row 3",
        ),
        ((RefundLine(qty=Decimal(1), row=9),), "lines[0]: row 9 does not exist on FT 01P2026/7 (4 rows)"),
        (
            (RefundLine(qty=Decimal(6), reference="CAFE"),),
            "lines[0]: qty 6 exceeds what is still creditable (5.000) of 'CAFE'",
        ),
        (
            (RefundLine(qty=Decimal(1), reference="BOLO"),),
            "lines[0]: no row with reference 'BOLO' on FT 01P2026/7",
        ),
    ],
)
def test_partial_quantities_must_be_creditable(ft_detail, lines, message):
    with pytest.raises(FiscalRejection) as caught:
        build_credit_note_payload(ft_detail, refund(*lines))
    assert caught.value.reasons == [message]


def test_quantities_already_requested_count(ft_detail):
    # 3 of row 1 leaves 1 on row 1 and 1 on row 4: 2 more CAFE fit, and each row is credited once.
    body = build_credit_note_payload(
        ft_detail, refund(RefundLine(qty=Decimal(3), row=1), RefundLine(qty=Decimal(2), reference="CAFE"))
    )
    assert nc_items(body) == [(1, 9001, "4"), (4, 9001, "1")]
    with pytest.raises(FiscalRejection) as caught:
        build_credit_note_payload(
            ft_detail, refund(RefundLine(qty=Decimal(4), row=1), RefundLine(qty=Decimal(2), reference="CAFE"))
        )
    assert caught.value.reasons == ["lines[1]: qty 2 exceeds what is still creditable (1.000) of 'CAFE'"]


@pytest.mark.parametrize("reason", ["", "   "])
def test_nc_without_reason_is_refused(ft_detail, reason):
    with pytest.raises(FiscalRejection) as caught:
        build_credit_note_payload(ft_detail, refund(reason=reason))
    assert caught.value.reasons == ["reason: required (it becomes the credit note's notes)"]


def test_nc_without_rows_is_refused(ft_detail):
    ft_detail["items"] = []
    with pytest.raises(FiscalRejection) as caught:
        build_credit_note_payload(ft_detail, refund())
    assert caught.value.reasons == ["original: FT 01P2026/7 has no rows (the detail document is needed)"]


def test_nothing_left_to_credit(ft_detail):
    for item in ft_detail["items"]:
        item["qty_nc"] = "0.000"
    with pytest.raises(FiscalRejection, match="nothing left to credit on FT 01P2026/7"):
        build_credit_note_payload(ft_detail, refund())


def test_cancelled_or_wrong_type_original(ft_detail):
    ft_detail["status"] = "A"
    with pytest.raises(FiscalRejection, match="FT 01P2026/7 is cancelled"):
        build_credit_note_payload(ft_detail, refund())
    ft_detail.update(status="N", type="RG")
    with pytest.raises(FiscalRejection, match="only FT, FR and FS are credited with an NC, not RG"):
        build_credit_note_payload(ft_detail, refund())


def test_nc_mode_must_match_the_original(ft_detail):
    with pytest.raises(FiscalRejection, match="a test-mode NC would not credit the real document"):
        build_credit_note_payload(ft_detail, refund(), mode="tests")
    ft_detail["number"] = "FT T01P2026/7"
    with pytest.raises(FiscalRejection, match="is a test document"):
        build_credit_note_payload(ft_detail, refund(), mode="normal")
    assert build_credit_note_payload(ft_detail, refund(), mode="tests")["mode"] == "tests"


def test_detail_decoded_by_the_vendus_client(ft_detail):
    # The client turns qty fields into Decimal; both shapes must work.
    for item in ft_detail["items"]:
        item["qty"], item["qty_nc"] = Decimal(item["qty"]), Decimal(item["qty_nc"])
    assert nc_items(build_credit_note_payload(ft_detail, refund(RefundLine(qty=Decimal(1), row=2)))) == [
        (2, 5001, "1")
    ]


def test_rows_without_qty_nc_fall_back_to_qty(ft_detail):
    for item in ft_detail["items"]:
        del item["qty_nc"]
    assert len(build_credit_note_payload(ft_detail, refund())["items"]) == 4


def test_row_without_product_id_uses_the_reference(ft_detail):
    del ft_detail["items"][0]["id"]
    body = build_credit_note_payload(ft_detail, refund(RefundLine(qty=Decimal(1), row=1)))
    assert body["items"][0] == {
        "reference_document": {"document_number": "FT 01P2026/7", "document_row": 1},
        "reference": "CAFE",
        "qty": "1",
    }
    ft_detail["items"][0]["reference"] = ""
    with pytest.raises(FiscalRejection, match="row 1 of FT 01P2026/7 names no product"):
        build_credit_note_payload(ft_detail, refund(RefundLine(qty=Decimal(1), row=1)))

"""Notification texts in Portuguese and English."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kapta_vendus.pipeline.templates import TEMPLATES, TemplateError, format_money, render


def test_document_issued_pt():
    title, body = render(
        "document_issued",
        "pt",
        document_type="FR",
        number="FR 01P2026/12",
        sale_id="T1-000123",
        amount=Decimal("2.90"),
    )
    assert title == "Fatura-recibo emitida"
    assert body == "Fatura-recibo FR 01P2026/12 emitida para a venda T1-000123 (2,90 €)"


def test_document_issued_en():
    title, body = render(
        "document_issued",
        "en",
        document_type="FR",
        number="FR 01P2026/12",
        sale_id="T1-000123",
        amount=Decimal("2.90"),
    )
    assert title == "Invoice-receipt issued"
    assert body == "Invoice-receipt FR 01P2026/12 issued for sale T1-000123 (€2.90)"


@pytest.mark.parametrize(
    ("document_type", "pt_title", "en_title"),
    [
        ("FT", "Fatura emitida", "Invoice issued"),
        ("FS", "Fatura simplificada emitida", "Simplified invoice issued"),
        ("RG", "Recibo emitido", "Receipt issued"),
        ("NC", "Nota de crédito emitida", "Credit note issued"),
        ("VD", "VD emitida", "VD issued"),  # unknown codes are shown as they are
    ],
)
def test_document_names_and_agreement(document_type, pt_title, en_title):
    fields = {"document_type": document_type, "number": "X 1", "sale_id": "S", "amount": Decimal(1)}
    assert render("document_issued", "pt", **fields)[0] == pt_title
    assert render("document_issued", "en", **fields)[0] == en_title


def test_cancelled_agreement():
    assert (
        render("document_cancelled", "pt", document_type="RG", number="RG 01P2026/3")[1]
        == "Recibo RG 01P2026/3 anulado no Vendus"
    )
    assert (
        render("document_cancelled", "pt", document_type="FT", number="FT 01P2026/3")[1]
        == "Fatura FT 01P2026/3 anulada no Vendus"
    )
    assert (
        render("document_cancelled", "en", document_type="FT", number="FT 01P2026/3")[1]
        == "Invoice FT 01P2026/3 was cancelled in Vendus"
    )


def test_receipt_and_credit_note():
    assert render(
        "receipt_issued",
        "pt",
        number="RG 01P2026/4",
        invoices=["FT 01P2026/7", "FT 01P2026/8"],
        amount=Decimal("1234.5"),
    )[1] == ("Recibo RG 01P2026/4 emitido para FT 01P2026/7; FT 01P2026/8 (1.234,50 €)")
    assert render(
        "credit_note_issued", "en", number="NC 01P2026/1", original="FT 01P2026/7", reason="Defeito"
    )[1] == ("Credit note NC 01P2026/1 issued against FT 01P2026/7: Defeito")


def test_rejected_and_dead():
    title, body = render(
        "event_rejected", "pt", event_type="sale.completed", event_id="evt_1", reasons=["a: x", "b: y"]
    )
    assert (title, body) == ("Evento rejeitado", "Evento sale.completed evt_1 rejeitado: a: x; b: y")
    title, body = render(
        "event_dead",
        "en",
        event_type="payment.confirmed",
        event_id="evt_2",
        attempts=8,
        error="Vendus unavailable",
    )
    assert body == "Event payment.confirmed evt_2 failed after 8 attempts: Vendus unavailable"


def test_document_seen_and_finalized():
    assert (
        render("document_seen", "pt", document_type="FT", number="FT 1", amount=Decimal("12.3"))[1]
        == "Fatura FT 1 registada no Vendus (12,30 €)"
    )
    assert (
        render("invoice_finalized", "en", document_type="PF", number="PF 1", invoice_number="FT 2")[1]
        == "Pro-forma invoice PF 1 invoiced as FT 2"
    )


def test_every_template_has_both_languages():
    for kind, langs in TEMPLATES.items():
        assert set(langs) == {"pt", "en"}, kind


@pytest.mark.parametrize(
    ("amount", "pt", "en"),
    [
        (Decimal("2.9"), "2,90 €", "€2.90"),
        (Decimal("1234567.891"), "1.234.567,89 €", "€1,234,567.89"),
        (Decimal("0"), "0,00 €", "€0.00"),
        (Decimal("-5.5"), "-5,50 €", "-€5.50"),
        (3, "3,00 €", "€3.00"),
    ],
)
def test_money_format(amount, pt, en):
    assert format_money(amount, "pt") == pt
    assert format_money(amount, "en") == en


def test_locale_variants_are_accepted():
    assert render("fiscal_warning", "pt-PT", sale_id="S1", warnings=["w"]) == ("Aviso fiscal", "Venda S1: w")
    assert render("fiscal_warning", "en_GB", sale_id="S1", warnings="w")[0] == "Fiscal warning"


def test_errors():
    with pytest.raises(TemplateError, match="unknown notification template 'nope'"):
        render("nope", "pt")
    with pytest.raises(TemplateError, match="unknown language 'fr'"):
        render("document_issued", "fr")
    with pytest.raises(TemplateError, match="template 'document_issued' needs amount, number, sale_id"):
        render("document_issued", "pt", document_type="FT")

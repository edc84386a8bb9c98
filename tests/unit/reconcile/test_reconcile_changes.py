"""Which event a document seen in Vendus becomes (the issue's table), from list rows and the mirror."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kapta_vendus.events.catalogue import EventType
from kapta_vendus.pipeline.mirror import fingerprint
from kapta_vendus.reconcile.changes import Known, classify, document_envelope, sale_envelope

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


def row(doc_type: str, status: str = "N", **extra) -> dict:
    return {"id": 7, "type": doc_type, "number": f"{doc_type} 01P2026/1", "status": status, "date": "2026-11-25",
            "amount_gross": "2.90", "amount_net": "2.50", "total_unpaid": "0.00", "payment_status": "paid",
            "store_id": 1, "register_id": 2, "external_reference": "", "system_time": "2026-11-25 09:00:00",
            **extra}


def known(doc: dict, status: str | None = None, **changes) -> Known:
    before = {**doc, **changes}
    if status:
        before["status"] = status
    return Known(fingerprint(before), status or doc["status"], False)


@pytest.mark.parametrize(("doc_type", "event"), [
    ("FT", EventType.INVOICE_CREATED), ("FS", EventType.INVOICE_CREATED), ("FR", EventType.INVOICE_CREATED),
    ("RG", EventType.RECEIPT_ISSUED), ("NC", EventType.CREDIT_NOTE_ISSUED),
])
def test_new_fiscal_documents(doc_type, event):
    change = classify(row(doc_type), None, sale_sources=frozenset())
    assert (change.kind, change.event_type) == ("new", event)


def test_unchanged_documents_are_skipped():
    doc = row("FT")
    assert classify(doc, known(doc), sale_sources=frozenset()).kind == "unchanged"


def test_cancellation_of_any_known_document():
    doc = row("RG", "A")
    change = classify(doc, known(doc, "N"), sale_sources=frozenset())
    assert (change.kind, change.event_type) == ("changed", EventType.DOCUMENT_CANCELLED)
    # First seen already cancelled: the cancellation only.
    assert classify(doc, None, sale_sources=frozenset()).event_type is EventType.DOCUMENT_CANCELLED


@pytest.mark.parametrize("doc_type", ["PF", "OT", "EC", "DC"])
def test_non_fiscal_documents_turned_into_invoices(doc_type):
    doc = row(doc_type, "F")
    assert classify(doc, known(doc, "N"), sale_sources=frozenset()).event_type is EventType.INVOICE_FINALIZED


def test_payment_changes_update_the_mirror_without_an_event():
    doc = row("FT", total_unpaid="0.00", payment_status="paid")
    change = classify(doc, known(doc, total_unpaid="2.90", payment_status="pending"), sale_sources=frozenset())
    assert (change.kind, change.event_type) == ("changed", None)


def test_non_fiscal_sale_documents_only_where_the_mapping_says_so():
    assert classify(row("DC"), None, sale_sources=frozenset()).event_type is None
    assert classify(row("DC"), None, sale_sources=frozenset({"DC"})).event_type is EventType.SALE_COMPLETED
    assert classify(row("EC"), None, sale_sources=frozenset({"DC"})).event_type is None


def test_unknown_types_are_reported_as_unmapped():
    change = classify(row("FG"), None, sale_sources=frozenset())
    assert change.event_type is None and "FG" in change.unmapped


def test_a_waiting_change_is_looked_at_again():
    doc = row("PF", "F")
    waiting = Known(None, "F", False)  # mirrored as F, but its event could not be made yet
    assert classify(doc, waiting, sale_sources=frozenset()).event_type is EventType.INVOICE_FINALIZED


def test_document_envelope_keys_and_shapes():
    detail = {**row("FT"), "status": {"id": "N", "date": "2026-11-25 09:00:00"}}
    envelope, key = document_envelope(EventType.INVOICE_CREATED, detail, 1, now=NOW)
    assert key == "vendus:7:N"
    assert envelope["occurred_at"] == "2026-11-25T09:00:00+00:00"
    assert envelope["type"] == "invoice.created" and envelope["data"]["status"]["id"] == "N"
    invoice = row("FT") | {"id": 8}
    finalized, key = document_envelope(EventType.INVOICE_FINALIZED, row("PF", "F"), 1, now=NOW, invoice=invoice)
    assert key == "vendus:7:F" and finalized["data"]["invoice"]["id"] == 8
    assert finalized["occurred_at"] == NOW.isoformat()  # a status change: when we saw it


def test_sale_envelope_from_a_table_check():
    detail = row("DC", external_reference="MESA-4") | {
        "amount_gross": "3.00",
        "items": [{"reference": "CAFE", "title": "Café", "qty": "2.000",
                   "amounts": {"gross_unit": "0.80", "gross_total": "1.60"},
                   "discounts": {"amount": "0.00", "percentage": "0.00", "calculated_percentage": "0.00"},
                   "tax": {"id": "RED", "exemption": ""}},
                  {"reference": "LIVRO", "title": "Livro", "qty": "1.000",
                   "amounts": {"gross_unit": "2.00", "gross_total": "1.40"},
                   "discounts": {"amount": "0.00", "percentage": "30.00", "calculated_percentage": "30.00"},
                   "tax": {"id": "ISE", "exemption": "M07"}}],
        "payments": [{"id": 5, "title": "Dinheiro", "amount": "3.00"}]}
    envelope, key = sale_envelope(detail, 1, now=NOW, method_names={5: "cash"})
    sale = envelope["data"]
    assert key == "vendus:7:N" and envelope["type"] == "sale.completed"
    assert sale["sale_id"] == "MESA-4" and sale["payment_status"] == "paid"
    assert sale["payments"] == [{"method": "cash", "amount": "3.00", "status": "paid"}]
    assert sale["lines"][1] == {"reference": "LIVRO", "title": "Livro", "qty": "1.000", "unit_price": "2.00",
                                "tax": "ISE", "exemption": "M07", "discount_percentage": "30.00"}


def test_import_windows_cover_the_range_without_overlap():
    from datetime import date, timedelta
    from itertools import pairwise

    from kapta_vendus.reconcile.importer import date_windows

    windows = date_windows(date(2024, 1, 1), date(2024, 3, 5), 31)
    assert windows == [(date(2024, 1, 1), date(2024, 1, 31)), (date(2024, 2, 1), date(2024, 3, 2)),
                       (date(2024, 3, 3), date(2024, 3, 5))]
    assert all(b[0] - a[1] == timedelta(days=1) for a, b in pairwise(windows))
    assert date_windows(date(2024, 1, 1), date(2024, 1, 1), 7) == [(date(2024, 1, 1), date(2024, 1, 1))]

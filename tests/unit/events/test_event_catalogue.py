from __future__ import annotations

import pytest

from kapta_vendus.events import (
    CATALOGUE,
    DOCUMENT_EVENT_TYPES,
    EVENT_TYPES,
    EventType,
    carries_document,
    dedup_key,
    polled_dedup_key,
    push_dedup_key,
)


def test_catalogue_lists_the_types_with_their_seed_wording():
    assert set(EVENT_TYPES) == {
        "sale.completed",
        "invoice.created",
        "invoice.finalized",
        "receipt.issued",
        "credit_note.issued",
        "payment.confirmed",
        "sale.refunded",
        "document.cancelled",
        "sale.customer_changed",
        # master data (reference/events.md, customer.upserted and product.upserted) and its polled changes
        "customer.upserted",
        "product.upserted",
        "customer.changed",
        "product.changed",
    }
    assert CATALOGUE[EventType.SALE_COMPLETED].seed_wording == "Venda concluída"
    assert CATALOGUE[EventType.CREDIT_NOTE_ISSUED].seed_wording == "Nota de crédito emitida"
    assert all(info.label_en for info in CATALOGUE.values())


def test_document_carrying_types():
    assert {str(t) for t in DOCUMENT_EVENT_TYPES} == {
        "invoice.created",
        "invoice.finalized",
        "receipt.issued",
        "credit_note.issued",
        "document.cancelled",
    }
    assert carries_document("receipt.issued")
    assert not carries_document("sale.completed")
    assert not carries_document("nonsense")


def test_push_and_poll_keys():
    assert push_dedup_key("evt_01JD") == "evt_01JD"
    assert polled_dedup_key(5123, "N") == "vendus:5123:N"


def test_pushed_sale_is_keyed_by_envelope_id():
    assert dedup_key({"id": "evt_1", "type": "sale.completed", "data": {"id": 9, "status": "N"}}) == "evt_1"


@pytest.mark.parametrize("status", ["N", {"id": "N", "date": "2026-11-25"}, " n "])
def test_document_event_is_keyed_by_document_and_status_whatever_path(status):
    pushed = {
        "id": "evt_sender_chose_this",
        "type": "invoice.created",
        "data": {"id": 5123, "status": status},
    }
    assert dedup_key(pushed) == polled_dedup_key(5123, "N")


def test_cancellation_is_a_different_change_of_the_same_document():
    created = dedup_key({"id": "a", "type": "invoice.created", "data": {"id": 7, "status": "N"}})
    cancelled = dedup_key({"id": "b", "type": "document.cancelled", "data": {"id": 7, "status": "A"}})
    assert created != cancelled


@pytest.mark.parametrize(
    "data", [None, [], {"id": 7}, {"status": "N"}, {"id": True, "status": "N"}, {"id": " ", "status": "N"}]
)
def test_malformed_document_event_falls_back_to_envelope_id(data):
    assert dedup_key({"id": "evt_9", "type": "invoice.created", "data": data}) == "evt_9"

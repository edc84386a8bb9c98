"""The event catalogue: which events exist, what they are called, and how they are deduplicated.

The dedup key is what makes "pushed and polled" one event: a document event reaches us both from
a sender's push and from our own poller, so both paths must derive the same key from the
document itself rather than from the envelope id the sender happened to choose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    SALE_COMPLETED = "sale.completed"
    INVOICE_CREATED = "invoice.created"
    INVOICE_FINALIZED = "invoice.finalized"
    RECEIPT_ISSUED = "receipt.issued"
    CREDIT_NOTE_ISSUED = "credit_note.issued"
    PAYMENT_CONFIRMED = "payment.confirmed"
    SALE_REFUNDED = "sale.refunded"
    DOCUMENT_CANCELLED = "document.cancelled"
    SALE_CUSTOMER_CHANGED = "sale.customer_changed"
    # Master data (issue: keep other systems in sync): into Vendus, and changes polled back from it.
    CUSTOMER_UPSERTED = "customer.upserted"
    PRODUCT_UPSERTED = "product.upserted"
    CUSTOMER_CHANGED = "customer.changed"
    PRODUCT_CHANGED = "product.changed"


@dataclass(frozen=True)
class EventInfo:
    type: EventType
    seed_wording: str  # the Portuguese wording of the catalogue, shown to operations staff
    label_en: str
    carries_document: bool  # ``data`` is a Vendus document, so it is mirrored, never re-issued


CATALOGUE: Mapping[EventType, EventInfo] = {
    info.type: info
    for info in (
        EventInfo(EventType.SALE_COMPLETED, "Venda concluída", "Sale completed", False),
        EventInfo(EventType.INVOICE_CREATED, "Fatura criada", "Invoice created", True),
        EventInfo(EventType.INVOICE_FINALIZED, "Fatura finalizada", "Invoice finalized", True),
        EventInfo(EventType.RECEIPT_ISSUED, "Recibo emitido", "Receipt issued", True),
        EventInfo(EventType.CREDIT_NOTE_ISSUED, "Nota de crédito emitida", "Credit note issued", True),
        EventInfo(EventType.PAYMENT_CONFIRMED, "pagamentos confirmados", "Payment confirmed", False),
        EventInfo(EventType.SALE_REFUNDED, "devoluções, notas de crédito", "Sale refunded", False),
        EventInfo(EventType.DOCUMENT_CANCELLED, "cancelamentos", "Document cancelled", True),
        EventInfo(EventType.SALE_CUSTOMER_CHANGED, "correção do adquirente", "Sale customer changed", False),
        EventInfo(EventType.CUSTOMER_UPSERTED, "cliente criado ou alterado", "Customer upserted", False),
        EventInfo(EventType.PRODUCT_UPSERTED, "produto criado ou alterado", "Product upserted", False),
        EventInfo(EventType.CUSTOMER_CHANGED, "cliente alterado no Vendus", "Customer changed in Vendus", False),
        EventInfo(EventType.PRODUCT_CHANGED, "produto alterado no Vendus", "Product changed in Vendus", False),
    )
}

EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)
MASTERDATA_TYPES: frozenset[str] = frozenset(
    {"customer.upserted", "product.upserted", "customer.changed", "product.changed"})
# The business key of each master-data upsert: with occurred_at, the version of that record.
_MASTERDATA_KEYS = {"customer.upserted": "customer_id", "product.upserted": "reference"}
DOCUMENT_EVENT_TYPES: frozenset[EventType] = frozenset(t for t, i in CATALOGUE.items() if i.carries_document)


def is_known_type(value: object) -> bool:
    return isinstance(value, str) and value in EVENT_TYPES


def carries_document(event_type: str) -> bool:
    """True for the events whose ``data`` is a Vendus document (never turned into a new one)."""
    return is_known_type(event_type) and EventType(event_type) in DOCUMENT_EVENT_TYPES


def push_dedup_key(envelope_id: str) -> str:
    """A pushed event is identified by the id its sender chose (the ``webhook-id``)."""
    return envelope_id


def polled_dedup_key(document_id: int | str, status: str) -> str:
    """A change seen by polling Vendus: one event per (document, status) it reaches."""
    return f"vendus:{document_id}:{status}"


def document_status_code(status: Any) -> str | None:
    """The status letter, from a list row (``"N"``) or a detail document (``{"id": "N", …}``)."""
    if isinstance(status, Mapping):
        status = status.get("id")
    if isinstance(status, str) and status.strip():
        return status.strip().upper()
    return None


def dedup_key(envelope: Mapping[str, Any]) -> str:
    """The inbox dedup key of a raw (not yet validated) envelope.

    Document events use the document's id and status even when pushed, so the same change
    arriving by push and by poll collapses into one event. Anything else, or a document event
    too malformed to name its document, is keyed by the envelope id (and will be rejected later).
    """
    envelope_id = str(envelope.get("id", ""))
    key_field = _MASTERDATA_KEYS.get(str(envelope.get("type", "")))
    data = envelope.get("data")
    if key_field and isinstance(data, Mapping) and str(data.get(key_field) or "").strip():
        # The same version of the same record sent twice (under two ids) is one event.
        return f"{envelope['type']}:{str(data[key_field]).strip()}:{envelope.get('occurred_at', '')}"
    if carries_document(str(envelope.get("type", ""))):
        data = envelope.get("data")
        if isinstance(data, Mapping):
            doc_id, status = data.get("id"), document_status_code(data.get("status"))
            if (
                isinstance(doc_id, int | str)
                and not isinstance(doc_id, bool)
                and str(doc_id).strip()
                and status
            ):
                return polled_dedup_key(str(doc_id).strip(), status)
    return push_dedup_key(envelope_id)

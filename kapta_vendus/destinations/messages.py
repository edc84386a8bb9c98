"""What an event that just ended tells other systems: the outbound messages of the contract.

``reference/events.md`` ("Outbound events to destinations") is the contract. Each message has a
dedup key naming the fact it reports (a document, a rejected event), so the same fact reported by
a replayed event is delivered once per destination.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, Issuance
from kapta_vendus.events.catalogue import carries_document

DOCUMENT_ISSUED = "document.issued"
DOCUMENT_SEEN = "document.seen"
DOCUMENT_CANCELLED = "document.cancelled"
SALE_REJECTED = "sale.rejected"
EVENT_DEAD = "event.dead"
CUSTOMER_CHANGED = "customer.changed"
PRODUCT_CHANGED = "product.changed"
OUTBOUND_TYPES = (DOCUMENT_ISSUED, DOCUMENT_SEEN, DOCUMENT_CANCELLED, SALE_REJECTED, EVENT_DEAD,
                  CUSTOMER_CHANGED, PRODUCT_CHANGED)

# The fields of a sale-side event that name its business object, copied into document.issued.
_KEYS = ("sale_id", "payment_id", "refund_id", "change_id")


@dataclass(frozen=True)
class OutboundMessage:
    type: str
    dedup_key: str
    store_id: int | None
    data: dict[str, Any] = field(default_factory=dict)


def _raw(event: Event) -> dict[str, Any]:
    try:
        raw = json.loads(event.raw)
    except (TypeError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def document_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``document`` object of the contract, from a Vendus reply or a mirrored document."""
    client = doc.get("client") if isinstance(doc.get("client"), dict) else None
    status = doc.get("status")
    return {
        "id": doc.get("id"), "type": doc.get("type"), "number": doc.get("number"),
        "status": status.get("id") if isinstance(status, dict) else status,
        "date": doc.get("date"), "date_supply": doc.get("date_supply") or doc.get("date"),
        "amount_gross": _money_text(doc.get("amount_gross")), "amount_net": _money_text(doc.get("amount_net")),
        "atcud": doc.get("atcud") or None, "qrcode_data": doc.get("qrcode_data") or None,
        "client": {"name": client.get("name"), "fiscal_id": client.get("fiscal_id")} if client else None,
    }


def _money_text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def messages_for(session: Session, event: Event) -> list[OutboundMessage]:
    """The outbound messages of an event that has just reached ``event.status``."""
    raw = _raw(event)
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    if event.status == "rejected":
        reasons = [r for r in (event.last_error or "").split("; ") if r]
        return [OutboundMessage(SALE_REJECTED, f"{SALE_REJECTED}:{event.id}", event.store_id, {
            "source_event_id": event.external_id, "event_type": event.type,
            "sale_id": data.get("sale_id"), "reasons": reasons})]
    if event.status == "dead":
        return [OutboundMessage(EVENT_DEAD, f"{EVENT_DEAD}:{event.id}", event.store_id, {
            "source_event_id": event.external_id, "event_type": event.type, "last_error": event.last_error})]
    if event.status != "done":
        return []
    if event.type in (CUSTOMER_CHANGED, PRODUCT_CHANGED):
        key = data.get("id")
        return [OutboundMessage(event.type, f"{event.type}:{key}:{event.dedup_key}", event.store_id, dict(data))]
    if carries_document(event.type):
        return _seen(session, event, data)
    return _issued(session, event, data)


def _issued(session: Session, event: Event, data: dict[str, Any]) -> list[OutboundMessage]:
    # The documents this event issued: its issuances joined to their mirror rows, in one query.
    docs = session.scalars(select(Document).join(Issuance, (Issuance.vendus_id == Document.vendus_id)
                                                 & (Issuance.integration_id == Document.integration_id))
                           .where(Issuance.integration_id == event.integration_id, Issuance.event_id == event.id,
                                  Issuance.state == "issued").order_by(Issuance.id)).all()
    customer = data.get("customer") if isinstance(data.get("customer"), dict) else None
    out = []
    for doc in docs:
        view = document_view({**(doc.raw or {}), "id": doc.vendus_id, "type": doc.type, "number": doc.number,
                              "status": doc.status, "amount_gross": f"{doc.amount_gross:f}",
                              "amount_net": f"{doc.amount_net:f}"})
        if view["client"] is None and customer:
            view["client"] = {"name": customer.get("name"), "fiscal_id": customer.get("fiscal_id")}
        body = {k: data[k] for k in _KEYS if data.get(k) is not None}
        body.update(source_event_id=event.external_id, document=view)
        out.append(OutboundMessage(DOCUMENT_ISSUED, f"{DOCUMENT_ISSUED}:{doc.mode}:{doc.vendus_id}",
                                   event.store_id, body))
    return out


def _seen(session: Session, event: Event, data: dict[str, Any]) -> list[OutboundMessage]:
    doc_id = data.get("id")
    if doc_id is None:
        return []
    view = document_view(data)
    if view["status"] == "A" or event.type == DOCUMENT_CANCELLED:
        return [OutboundMessage(DOCUMENT_CANCELLED, f"{DOCUMENT_CANCELLED}:{doc_id}", event.store_id,
                                {"document": view})]
    mirrored = session.scalar(select(Document.issued_here).where(
        Document.integration_id == event.integration_id, Document.vendus_id == doc_id).limit(1))
    if mirrored:
        return []  # ours: its document.issued already told the destinations
    return [OutboundMessage(DOCUMENT_SEEN, f"{DOCUMENT_SEEN}:{doc_id}:{view['status']}", event.store_id,
                            {"document": view, "event_type": event.type})]

"""What a document seen in Vendus means: which event (if any) a new or changed document becomes.

Pure functions over the API shapes (list rows and details) and the mirror's last view of a
document, so the rules of the issue's table are testable without I/O:

| change seen                                        | event                |
|----------------------------------------------------|----------------------|
| new FT/FS/FR                                       | invoice.created      |
| new RG                                             | receipt.issued       |
| new NC                                             | credit_note.issued   |
| status → A                                         | document.cancelled   |
| PF/OT/EC/DC → status F (turned into an invoice)    | invoice.finalized    |
| a non-fiscal sale document (the mapping's sources) | sale.completed       |

A document first seen already cancelled becomes ``document.cancelled`` only: its "created" state
was never observed, and both would share nothing but the document id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kapta_vendus.events.catalogue import EventType, document_status_code, polled_dedup_key
from kapta_vendus.pipeline.mapping import NON_FISCAL_SALE_TYPES
from kapta_vendus.pipeline.mirror import fingerprint

INVOICE_TYPES = frozenset({"FT", "FS", "FR"})
NON_FISCAL = frozenset(NON_FISCAL_SALE_TYPES)
KNOWN_TYPES = INVOICE_TYPES | NON_FISCAL | {"RG", "NC", "GT", "GR", "GD", "GA"}
CREATED_EVENTS = {"FT": EventType.INVOICE_CREATED, "FS": EventType.INVOICE_CREATED,
                  "FR": EventType.INVOICE_CREATED, "RG": EventType.RECEIPT_ISSUED,
                  "NC": EventType.CREDIT_NOTE_ISSUED}
CREATION_EVENTS = frozenset(CREATED_EVENTS.values())


@dataclass(frozen=True)
class Known:
    """The mirror's last view of a document."""

    fingerprint: str | None
    status: str
    issued_here: bool


@dataclass(frozen=True)
class Change:
    kind: str  # unchanged | new | changed
    event_type: EventType | None = None
    unmapped: str | None = None  # why a document that changed leads to no event we know

    @property
    def needs_detail(self) -> bool:
        # Events carry the detail shape; a change without an event is mirrored from the row.
        return self.event_type is not None


def status_of(doc: Mapping[str, Any]) -> str:
    return document_status_code(doc.get("status")) or "N"


def type_of(doc: Mapping[str, Any]) -> str:
    return str(doc.get("type") or "").strip().upper()


def classify(row: Mapping[str, Any], known: Known | None, *, sale_sources: frozenset[str]) -> Change:
    """The change a list row shows against the mirror (``known`` is None for a new document)."""
    if known is not None and known.fingerprint == fingerprint(dict(row)):
        return Change("unchanged")
    kind = "new" if known is None else "changed"
    doc_type, status = type_of(row), status_of(row)
    # A None fingerprint marks a change that could not become its event yet: look at it afresh.
    if known is not None and known.status == status and known.fingerprint is not None:
        return Change(kind)  # amounts or payment state moved: the mirror follows, no event
    if doc_type not in KNOWN_TYPES:
        return Change(kind, unmapped=f"document type {doc_type or '?'} is not in the catalogue")
    if status == "A":
        return Change(kind, EventType.DOCUMENT_CANCELLED)
    if status == "F" and doc_type in NON_FISCAL:
        return Change(kind, EventType.INVOICE_FINALIZED)
    if known is None and status == "N":
        if doc_type in CREATED_EVENTS:
            return Change(kind, CREATED_EVENTS[doc_type])
        if doc_type in sale_sources:
            return Change(kind, EventType.SALE_COMPLETED)
    return Change(kind)  # quotes, orders and guides not used as sales: mirrored only


def occurred_at(doc: Mapping[str, Any], fallback: datetime) -> datetime:
    """``system_time`` is UTC in Vendus; without it, when we saw the change."""
    raw = str(doc.get("system_time") or "").strip()
    try:
        return datetime.fromisoformat(raw.replace(" ", "T")).replace(tzinfo=UTC) if raw else fallback
    except ValueError:
        return fallback


def jsonable(value: Any) -> Any:
    """API values (Decimal money, dates) as the JSON strings of the wire contract."""
    return json.loads(json.dumps(value, default=plain))


def plain(value: Any) -> str:
    """JSON default for API values: Decimal money as its digits, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def document_envelope(event_type: EventType, doc: Mapping[str, Any], store_id: int, *, now: datetime,
                      invoice: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The envelope of a polled document event and its dedup key (``vendus:<id>:<status>``)."""
    status = status_of(doc)
    data = jsonable(dict(doc))
    if invoice is not None:
        data["invoice"] = jsonable(dict(invoice))
    when = occurred_at(doc, now) if event_type in CREATION_EVENTS else now
    envelope = {"id": f"vendus-{doc['id']}-{status}", "type": str(event_type),
                "occurred_at": when.isoformat(), "store_id": store_id, "data": data}
    return envelope, polled_dedup_key(doc["id"], status)


def sale_envelope(doc: Mapping[str, Any], store_id: int, *, now: datetime,
                  method_names: Mapping[int, str]) -> tuple[dict[str, Any], str]:
    """A non-fiscal sale document (detail shape) as the ``sale.completed`` a POS would push.

    The sale id is the document's external reference when it has one (so a POS push of the same
    sale ends in the same issuance), else its number. Payments are named back through the
    mapping; a document without payments is a sale on credit (an FT by default).
    """
    data = jsonable(dict(doc))
    lines = [_sale_line(item) for item in data.get("items") or []]
    payments = []
    for payment in data.get("payments") or []:
        name = method_names.get(int(payment.get("id") or 0)) or str(payment.get("title") or "")
        payments.append({"method": name, "amount": str(payment.get("amount") or "0.00"), "status": "paid"})
    total = Decimal(str(data.get("amount_gross") or "0"))
    paid = sum((Decimal(p["amount"]) for p in payments), Decimal(0))
    payment_status = "paid" if paid >= total and paid > 0 else "partial" if paid > 0 else "pending"
    client = data.get("client") or None
    customer = None
    if isinstance(client, Mapping) and client.get("fiscal_id"):
        customer = {k: client.get(k) for k in ("name", "fiscal_id", "country", "email", "address",
                                               "postalcode", "city") if client.get(k)}
    sale = {"sale_id": str(data.get("external_reference") or data.get("number") or data["id"]),
            "register_id": data.get("register_id"), "closed_at": occurred_at(doc, now).isoformat(),
            "customer": customer, "lines": lines, "payments": payments, "payment_status": payment_status,
            "notes": data.get("observations") or None,
            "source_document": {"id": data["id"], "type": data.get("type"), "number": data.get("number")}}
    envelope = {"id": f"vendus-{doc['id']}-{status_of(doc)}", "type": str(EventType.SALE_COMPLETED),
                "occurred_at": occurred_at(doc, now).isoformat(), "store_id": store_id, "data": sale}
    return envelope, polled_dedup_key(doc["id"], status_of(doc))


def _sale_line(item: Mapping[str, Any]) -> dict[str, Any]:
    amounts = item.get("amounts") if isinstance(item.get("amounts"), Mapping) else {}
    tax = item.get("tax") if isinstance(item.get("tax"), Mapping) else {}
    discounts = item.get("discounts") if isinstance(item.get("discounts"), Mapping) else {}
    line = {"reference": item.get("reference") or None, "title": item.get("title") or "",
            "qty": str(item.get("qty") or "1"), "unit_price": str(amounts.get("gross_unit") or "0.00"),
            "tax": str(tax.get("id") or "NOR")}
    if tax.get("exemption"):
        line["exemption"] = tax["exemption"]
    # The effective discount of the line (amount and percentage together), as Vendus computed it.
    effective = discounts.get("calculated_percentage") or discounts.get("percentage")
    if effective and Decimal(str(effective)) > 0:
        line["discount_percentage"] = str(effective)
    return line

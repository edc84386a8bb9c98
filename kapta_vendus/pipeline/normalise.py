"""Validated payloads → normalised models, and models → the flat context the rules see.

The rule context has the same keys for every event type, with neutral values where a field does
not apply ("" for text, 0 for numbers, [] for lists). A rule that applies to all events ("*")
can then never fail on a missing name, and a typo in a rule is caught when it is compiled.
Money stays Decimal: rule-engine's FLOAT type is backed by ``decimal.Decimal``, so
``total > 1000`` and ``total == 0.1 + 0.2`` compare exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from kapta_vendus.events.catalogue import EventType, carries_document
from kapta_vendus.events.validation import ValidatedEvent
from kapta_vendus.pipeline.model import (
    Customer,
    CustomerChange,
    NormalisedEvent,
    Payment,
    PaymentConfirmation,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    VendusDocumentRef,
    compact_fiscal_id,
    region_timezone,
)

__all__ = ["CONTEXT_FIELDS", "NormalisedEvent", "context_as_json", "normalise", "to_context"]

# name → (kind, meaning). Kinds: string, number (Decimal/int), boolean, datetime, list (of strings).
CONTEXT_FIELDS: Mapping[str, tuple[str, str]] = {
    "type": ("string", "event type, e.g. sale.completed"),
    "event_id": ("string", "envelope id"),
    "store_id": ("number", "Vendus store id"),
    "register_id": ("number", "register of the sale or document; 0 when not given"),
    "sale_id": ("string", "the sale's business key ('' for documents without external_reference)"),
    "total": ("number", "sale total / payment amount / document amount_gross; 0 for refunds"),
    "paid": ("number", "amount paid now (sale: paid payments; payment.confirmed: its amount)"),
    "unpaid": ("number", "sale total minus paid; 0 otherwise"),
    "payment_status": ("string", "paid / partial / pending for sales, '' otherwise"),
    "customer_nif": ("string", "customer fiscal id as sent, compacted; '' when none"),
    "customer_country": ("string", "ISO-2, PT by default"),
    "customer_name": ("string", "customer name, '' when none"),
    "has_customer": ("boolean", "a customer object was given"),
    "has_nif": ("boolean", "a real NIF was given (not empty, not 999999990)"),
    "line_count": ("number", "number of sale or refund lines"),
    "products": ("list", "product references of the lines"),
    "categories": ("list", "line categories (optional line field)"),
    "taxes": ("list", "VAT codes used: NOR, INT, RED, ISE"),
    "exemptions": ("list", "exemption codes used (M07...)"),
    "methods": ("list", "POS payment method names"),
    "hour": ("number", "local hour (0-23) of the sale / payment / event"),
    "weekday": ("number", "local ISO weekday, 1 = Monday ... 7 = Sunday"),
    "date": ("string", "local date, YYYY-MM-DD"),
    "occurred_at": ("datetime", "envelope time (aware)"),
    "document_type": ("string", "Vendus document type for document events, '' otherwise"),
    "document_status": ("string", "Vendus status letter (N/A/F), '' otherwise"),
    "document_number": ("string", "Vendus document number, '' otherwise"),
    "reason": ("string", "refund or customer-change reason, '' otherwise"),
    "notes": ("string", "sale notes, '' when none"),
    # Filled from the integration's mapping (rules.event_context), not from the event alone:
    "kinds": ("list", "kinds of the sale's lines, goods and/or service (mapping.product_kinds, else the default)"),
    "taxable_buyer": ("boolean", "the buyer is presumed a taxable person (a company NIF, or an EU VAT number); "
                                 "true for an invalid NIF, which is rejected when the document is issued"),
}


def normalise(event: ValidatedEvent) -> NormalisedEvent:
    """Build the normalised event; ``event`` must come from ``validate_event``."""
    data, event_type = event.data, EventType(event.type)
    common: dict[str, Any] = {
        "type": event_type,
        "event_id": event.id,
        "store_id": event.store_id,
        "occurred_at": event.occurred_at,
    }
    if event_type is EventType.SALE_COMPLETED:
        return NormalisedEvent(**common, sale=_sale(data, event.store_id))
    if event_type is EventType.PAYMENT_CONFIRMED:
        payment = PaymentConfirmation(
            sale_id=data["sale_id"],
            payment_id=data["payment_id"],
            method=data["method"],
            amount=data["amount"],
            confirmed_at=data["confirmed_at"],
            store_id=event.store_id,
        )
        return NormalisedEvent(**common, payment=payment)
    if event_type is EventType.SALE_REFUNDED:
        lines = tuple(
            RefundLine(qty=line["qty"], reference=line.get("reference"), row=line.get("row"))
            for line in data.get("lines") or ()
        )
        refund = Refund(
            sale_id=data["sale_id"],
            refund_id=data["refund_id"],
            reason=data["reason"],
            store_id=event.store_id,
            lines=lines,
        )
        return NormalisedEvent(**common, refund=refund)
    if event_type is EventType.SALE_CUSTOMER_CHANGED:
        change = CustomerChange(
            sale_id=data["sale_id"],
            change_id=data["change_id"],
            customer=Customer(**data["customer"]),
            reason=data["reason"],
            store_id=event.store_id,
        )
        return NormalisedEvent(**common, customer_change=change)
    if carries_document(event_type):
        raw_data = event.raw.get("data") if isinstance(event.raw, Mapping) else None
        return NormalisedEvent(**common, document=document_ref(data, raw_data or data))
    raise ValueError(f"no normaliser for event type {event_type}")  # pragma: no cover - catalogue is closed


def _sale(data: Mapping[str, Any], store_id: int) -> Sale:
    customer = data.get("customer")
    return Sale(
        sale_id=data["sale_id"],
        store_id=store_id,
        register_id=data.get("register_id"),
        closed_at=data["closed_at"],
        customer=Customer(**customer) if customer else None,
        lines=tuple(
            SaleLine(
                title=line["title"],
                qty=line["qty"],
                unit_price=line["unit_price"],
                tax=line["tax"],
                reference=line.get("reference"),
                exemption=line.get("exemption"),
                discount_percentage=line.get("discount_percentage") or Decimal(0),
                category=line.get("category"),
                kind=line.get("kind"),
            )
            for line in data["lines"]
        ),
        payments=tuple(
            Payment(method=p["method"], amount=p["amount"], status=p["status"]) for p in data["payments"]
        ),
        payment_status=data["payment_status"],
        notes=data.get("notes"),
    )


def document_ref(data: Mapping[str, Any], raw: Mapping[str, Any]) -> VendusDocumentRef:
    """A Vendus document (loaded by VendusDocumentSchema) as a reference; ``raw`` keeps every field."""
    invoice = data.get("invoice")
    raw_invoice = raw.get("invoice") if isinstance(raw.get("invoice"), Mapping) else invoice
    return VendusDocumentRef(
        id=data["id"],
        type=data["type"].upper(),
        number=data["number"],
        status=data["status"],
        date=data["date"],
        amount_gross=data["amount_gross"],
        amount_net=data["amount_net"],
        store_id=data["store_id"],
        register_id=data.get("register_id"),
        external_reference=data.get("external_reference"),
        invoice=document_ref(invoice, raw_invoice) if invoice else None,
        raw=dict(raw),
    )


def to_context(event: NormalisedEvent, *, tz: tzinfo | None = None) -> dict[str, Any]:
    """The flat context a rule expression is evaluated against (see CONTEXT_FIELDS).

    ``tz`` is the store's legal time (``IntegrationMapping.timezone_for(store_id)``); mainland
    time by default. Hours and weekdays are local because that is how staff write rules.
    """
    local: datetime = event.business_time.astimezone(tz or region_timezone())
    context: dict[str, Any] = {
        "type": str(event.type),
        "event_id": event.event_id,
        "store_id": event.store_id,
        "register_id": 0,
        "sale_id": event.sale_id or "",
        "total": Decimal("0.00"),
        "paid": Decimal("0.00"),
        "unpaid": Decimal("0.00"),
        "payment_status": "",
        "customer_nif": "",
        "customer_country": "PT",
        "customer_name": "",
        "has_customer": False,
        "has_nif": False,
        "line_count": 0,
        "products": [],
        "categories": [],
        "taxes": [],
        "exemptions": [],
        "methods": [],
        "hour": local.hour,
        "weekday": local.isoweekday(),
        "date": local.date().isoformat(),
        "occurred_at": event.occurred_at,
        "document_type": "",
        "document_status": "",
        "document_number": "",
        "reason": "",
        "notes": "",
        "kinds": [],
        "taxable_buyer": False,
    }
    if event.sale is not None:
        context.update(_sale_context(event.sale))
    elif event.payment is not None:
        payment = event.payment
        context.update(total=payment.amount, paid=payment.amount, methods=[payment.method])
    elif event.refund is not None:
        refund = event.refund
        context.update(
            reason=refund.reason,
            line_count=len(refund.lines),
            products=_unique(line.reference for line in refund.lines),
        )
    elif event.customer_change is not None:
        customer = event.customer_change.customer
        context.update(
            reason=event.customer_change.reason,
            customer_nif=compact_fiscal_id(customer.fiscal_id) if customer.fiscal_id else "",
            customer_country=customer.country,
            customer_name=customer.name or "",
            has_customer=True,
            has_nif=customer.has_nif,
        )
    elif event.document is not None:
        doc = event.document
        client = doc.raw.get("client") if isinstance(doc.raw.get("client"), Mapping) else {}
        nif = compact_fiscal_id(str(client.get("fiscal_id") or ""))
        context.update(
            register_id=doc.register_id or 0,
            total=doc.amount_gross,
            document_type=doc.type,
            document_status=doc.status,
            document_number=doc.number,
            customer_nif=nif,
            customer_country=str(client.get("country") or "PT").upper(),
            customer_name=str(client.get("name") or ""),
            has_customer=bool(client),
            has_nif=bool(nif) and Customer(fiscal_id=nif).has_nif,
        )
    return context


def _sale_context(sale: Sale) -> dict[str, Any]:
    customer = sale.customer
    return {
        "register_id": sale.register_id or 0,
        "total": sale.total,
        "paid": sale.paid_amount,
        "unpaid": sale.unpaid_amount,
        "payment_status": sale.payment_status,
        "customer_nif": compact_fiscal_id(customer.fiscal_id) if customer and customer.fiscal_id else "",
        "customer_country": customer.country if customer else "PT",
        "customer_name": (customer.name or "") if customer else "",
        "has_customer": customer is not None,
        "has_nif": sale.has_nif,
        "line_count": len(sale.lines),
        "products": _unique(line.reference for line in sale.lines),
        "categories": _unique(line.category for line in sale.lines),
        "taxes": _unique(line.tax for line in sale.lines),
        "exemptions": _unique(line.exemption for line in sale.lines),
        "methods": _unique(p.method for p in sale.payments),
        "notes": sale.notes or "",
    }


def _unique(values: Any) -> list[str]:
    """Distinct non-empty values, in order of first appearance."""
    return list(dict.fromkeys(v for v in values if v))


def context_as_json(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context for a step record: money as decimal strings, times as ISO 8601 (never floats)."""
    out: dict[str, Any] = {}
    for name, value in context.items():
        if isinstance(value, Decimal):
            value = f"{value:f}"
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out

"""Envelopes as a POS (or bridge) sends them, following reference/events.md. Ids are unique per call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now() -> str:
    return datetime.now(UTC).isoformat()


def envelope(event_type: str, store_id: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": unique("evt"), "type": event_type, "occurred_at": now(), "store_id": store_id, "data": data}


CAFE_LINES = [
    {"reference": "CAFE", "title": "Café", "qty": "2", "unit_price": "0.80", "tax": "RED"},
    {"reference": "PASTEL", "title": "Pastel de nata", "qty": "1", "unit_price": "1.30", "tax": "INT"},
]  # 2.90 in all


def sale(store_id: int, *, payment_status: str = "paid", customer: dict[str, Any] | None = None,
         payments: list[dict[str, Any]] | None = None, lines: list[dict[str, Any]] | None = None,
         sale_id: str | None = None) -> dict[str, Any]:
    if payments is None:
        status = "paid" if payment_status == "paid" else "pending"
        payments = [{"method": "cash", "amount": "2.90", "status": status}]
    return envelope("sale.completed", store_id, {
        "sale_id": sale_id or unique("E2E"), "closed_at": now(), "customer": customer,
        "lines": lines or CAFE_LINES, "payments": payments, "payment_status": payment_status})


def payment_confirmed(store_id: int, sale_id: str, amount: str, method: str = "card") -> dict[str, Any]:
    return envelope("payment.confirmed", store_id, {
        "sale_id": sale_id, "payment_id": unique("PAY"), "method": method, "amount": amount,
        "confirmed_at": now()})


def sale_refunded(store_id: int, sale_id: str, lines: list[dict[str, Any]], reason: str) -> dict[str, Any]:
    return envelope("sale.refunded", store_id, {
        "sale_id": sale_id, "refund_id": unique("REF"), "reason": reason, "lines": lines})


def document_event(event_type: str, store_id: int, document: dict[str, Any]) -> dict[str, Any]:
    return envelope(event_type, store_id, document)

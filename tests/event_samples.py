"""Envelopes from the wire contract (reference/events.md), shared by the events and pipeline unit tests.

It lives next to the top-level conftest.py, whose folder pytest puts on ``sys.path`` for every run
(the whole suite or a single folder), so any test imports it as ``from event_samples import ...``.
"""

from __future__ import annotations

from typing import Any

# An anonymous café sale paid in cash, as a sender would post it.
CAFE = {
    "id": "evt_0001",
    "type": "sale.completed",
    "occurred_at": "2026-11-25T08:12:00+00:00",
    "store_id": 24994,
    "data": {
        "sale_id": "T1-000123",
        "closed_at": "2026-11-25T08:12:00+00:00",
        "customer": None,
        "lines": [
            {"reference": "CAFE", "title": "Café", "qty": "2", "unit_price": "0.80", "tax": "RED"},
            {
                "reference": "PASTEL",
                "title": "Pastel de nata",
                "qty": "1",
                "unit_price": "1.30",
                "tax": "INT",
            },
        ],
        "payments": [{"method": "cash", "amount": "2.90", "status": "paid"}],
        "payment_status": "paid",
    },
}


def envelope(event_type: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A well-formed envelope around ``data``; ``fields`` override or add envelope fields."""
    base = {"id": "evt_x", "type": event_type, "occurred_at": "2026-11-25T10:00:00Z", "store_id": 24994}
    return {**base, **fields, "data": data}

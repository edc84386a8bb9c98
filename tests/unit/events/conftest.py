"""Envelopes from the wire contract (reference/events.md), as senders would post them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

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

DOCUMENT = {
    "id": 5123,
    "type": "FT",
    "number": "FT 01P2026/7",
    "status": {"id": "N", "date": "2026-11-25", "user_id": 1},
    "date": "2026-11-25",
    "amount_gross": "12.30",
    "amount_net": "10.00",
    "external_reference": "T1-000200",
    "store_id": 24994,
    "register_id": 101,
    "items": [{"id": 9, "qty": "1.000", "reference": "X", "qty_nc": "1.000"}],
}


@pytest.fixture
def cafe() -> dict[str, Any]:
    return copy.deepcopy(CAFE)


@pytest.fixture
def envelope():
    """envelope(type, data, **envelope_fields): a well-formed envelope around ``data``."""

    def build(event_type: str, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
        base = {"id": "evt_x", "type": event_type, "occurred_at": "2026-11-25T10:00:00Z", "store_id": 24994}
        return {**base, **fields, "data": data}

    return build


@pytest.fixture
def document() -> dict[str, Any]:
    return copy.deepcopy(DOCUMENT)

"""Envelopes from the wire contract (reference/events.md), as senders would post them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from event_samples import CAFE
from event_samples import envelope as build_envelope

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
    return build_envelope


@pytest.fixture
def document() -> dict[str, Any]:
    return copy.deepcopy(DOCUMENT)

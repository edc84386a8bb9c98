"""Builders for the pipeline's unit tests: sales, events and a mapping, no I/O."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from event_samples import CAFE as CAFE_ENVELOPE

from kapta_vendus.events import EventType, validate_event
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.pipeline.model import Customer, NormalisedEvent, Payment, Sale, SaleLine
from kapta_vendus.pipeline.normalise import normalise

MAPPING = {
    "mode": "normal",
    "default_register_id": 101,
    "payment_methods": {"cash": 24934, "card": 24935, "mbway": 24936},
    "products": {"PASTEL": 5001},
    "stores": {24994: {"region": "mainland", "register_id": 77}},
}

FT_DETAIL = {
    "id": 5123,
    "type": "FT",
    "number": "FT 01P2026/7",
    "status": {"id": "N", "date": "2026-11-25", "user_id": 1},
    "date": "2026-11-25",
    "amount_gross": "13.40",
    "amount_net": "11.50",
    "store_id": 24994,
    "register_id": 77,
    "external_reference": "T1-000200",
    "items": [
        {"id": 9001, "reference": "CAFE", "title": "Café", "qty": "4.000", "qty_nc": "4.000"},
        {"id": 5001, "reference": "PASTEL", "title": "Pastel de nata", "qty": "2.000", "qty_nc": "1.000"},
        {"id": 9002, "reference": "AGUA", "title": "Água", "qty": "3.000", "qty_nc": "0.000"},
        {"id": 9001, "reference": "CAFE", "title": "Café", "qty": "1.000", "qty_nc": "1.000"},
    ],
}


@pytest.fixture
def cafe_envelope() -> dict[str, Any]:
    return copy.deepcopy(CAFE_ENVELOPE)


@pytest.fixture
def cafe_event(cafe_envelope) -> NormalisedEvent:
    return normalise(validate_event(cafe_envelope))


@pytest.fixture
def mapping() -> IntegrationMapping:
    return IntegrationMapping.from_dict(copy.deepcopy(MAPPING))


@pytest.fixture
def ft_detail() -> dict[str, Any]:
    return copy.deepcopy(FT_DETAIL)


def _line(**fields: Any) -> SaleLine:
    base: dict[str, Any] = {"title": "Thing", "qty": Decimal(1), "unit_price": Decimal("10.00"), "tax": "NOR"}
    return SaleLine(**{**base, **fields})


@pytest.fixture
def make_line():
    return _line


@pytest.fixture
def make_sale():
    """make_sale(total="10.00", status="paid", nif=None, ...): a sale paid consistently with its status."""

    def build(
        total: str = "10.00",
        status: str = "paid",
        nif: str | None = None,
        country: str = "PT",
        lines: tuple[SaleLine, ...] | None = None,
        payments: tuple[Payment, ...] | None = None,
        customer: Customer | None = None,
        **fields: Any,
    ) -> Sale:
        lines = lines or (_line(unit_price=Decimal(total)),)
        amount = sum((line.total for line in lines), Decimal("0.00"))
        if payments is None:
            paid = {"paid": amount, "partial": (amount / 2).quantize(Decimal("0.01")), "pending": Decimal(0)}[
                status
            ]
            payments = (Payment("cash", paid, "paid"),) if paid else ()
        if customer is None and nif is not None:
            customer = Customer(name="Cliente", fiscal_id=nif, country=country)
        base: dict[str, Any] = {
            "sale_id": "T1-000200",
            "store_id": 24994,
            "closed_at": datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
            "lines": lines,
            "payment_status": status,
            "payments": payments,
            "customer": customer,
        }
        return Sale(**{**base, **fields})

    return build


@pytest.fixture
def sale_event():
    def build(sale: Sale) -> NormalisedEvent:
        return NormalisedEvent(
            type=EventType.SALE_COMPLETED,
            event_id="evt_s",
            store_id=sale.store_id,
            occurred_at=sale.closed_at,
            sale=sale,
        )

    return build

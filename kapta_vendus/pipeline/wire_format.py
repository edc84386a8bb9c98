"""How money and quantities are written in Vendus request bodies (vendus-api §1: 2-decimal strings)."""

from __future__ import annotations

from decimal import Decimal


def money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):f}"


def quantity(qty: Decimal) -> str:
    return f"{qty.normalize():f}" if qty == qty.to_integral_value() else f"{qty:f}"

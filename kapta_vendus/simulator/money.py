"""Decimal helpers: every amount is a Decimal inside and a fixed-point string on the wire.

Vendus sends money as 2-decimal strings and quantities as decimal strings, so the simulator never
touches floats: JSON bodies are parsed with ``parse_float=Decimal`` and all rounding is ROUND_HALF_UP.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import invalid

CENT = Decimal("0.01")
MILLI = Decimal("0.001")
ZERO = Decimal("0")
HUNDRED = Decimal("100")


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | str) -> str:
    """Format as a 2-decimal string, never "-0.00"."""
    result = q2(Decimal(value))
    if result == 0:
        result = abs(result)
    return f"{result:.2f}"


def qty_str(value: Decimal | str) -> str:
    result = Decimal(value).quantize(MILLI, rounding=ROUND_HALF_UP)
    if result == 0:
        result = abs(result)
    return f"{result:.3f}"


def dec(value: str) -> Decimal:
    """Read back a string this module wrote (no validation needed)."""
    return Decimal(value)


def parse_decimal(value: object, field: str, *, positive: bool = False, allow_negative: bool = False) -> Decimal:
    """Validate a client-supplied number (string, int or Decimal) or raise a P001 for ``field``."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise invalid(field)
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise invalid(field) from None
    if not result.is_finite():
        raise invalid(field)
    if positive and result <= 0:
        raise invalid(field)
    if not allow_negative and result < 0:
        raise invalid(field)
    return result


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: object, field: str) -> str:
    """A ``YYYY-MM-DD`` date (the only form Vendus documents), validated, or a P001 for ``field``."""
    text = str(value).strip()
    if not _DATE.fullmatch(text):
        raise invalid(field)
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise invalid(field) from None

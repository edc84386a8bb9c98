"""Decimal in, Decimal out: money never passes through float on its way to or from Vendus.

Responses: Vendus sends money as 2-decimal strings ("123.00") and quantities as decimal strings
("3.530"). JSON numbers with a fraction are parsed as Decimal (``loads``), and the string values
of known numeric fields are converted by key name wherever they appear in the tree. Key names
are enough because Vendus reuses them consistently (``amount``, ``total``, ``qty``…); a value is
only converted when it actually looks like a number, so a key reused for text is left alone.

Requests: money fields are written as exactly-2-decimal strings and quantities as plain decimal
strings. A money value with more precision is refused rather than rounded: how to round a fiscal
amount is the mapper's decision, not the transport's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kapta_vendus.vendus.errors import VendusPayloadError

__all__ = [
    "MONEY_KEYS",
    "QTY_KEYS",
    "VendusJSONEncoder",
    "decimalize",
    "dumps",
    "format_money",
    "format_qty",
    "loads",
    "prepare_payload",
]

# Money and other fractional fields of responses (documents, rows, taxes, payments, items,
# debt, discounts, related_docs, clients' balance, products, account irs, register movements).
MONEY_KEYS = frozenset(
    {
        "amount",
        "amount_gross",
        "amount_net",
        "base",
        "change",
        "discount_amount",
        "gross_price",
        "gross_total",
        "gross_unit",
        "net_total",
        "net_unit",
        "on_time",
        "overdue",
        "paid",
        "price",
        "price_without_tax",
        "stamp_retention_amount",
        "supply_price",
        "total",
        "total_unpaid",
        "unpaid",
    }
)

# Quantities: may legitimately be integral strings ("2"), unlike money which always has decimals.
QTY_KEYS = frozenset({"qty", "qty_nc", "qty_left_to_invoice", "stock", "stock_alert"})

# Rates and percentages: numbers, not money; converted on the way in, written plainly on the way out.
RATE_KEYS = frozenset(
    {"calculated_percentage", "discount_percentage", "incidence_rate", "percentage", "rate", "retention_rate"}
)

# Money requires a fractional part so that flags sharing a key name ("change": "1" on a payment
# method) are not mistaken for amounts; quantities and rates may be integral.
_FRACTIONAL = re.compile(r"-?\d+\.\d+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")

_CENT = Decimal("0.01")


def loads(content: bytes | str) -> Any:
    """Parse a JSON response body; fractional numbers become Decimal, known fields are converted."""
    return decimalize(json.loads(content, parse_float=Decimal))


def decimalize(value: Any, key: str | None = None) -> Any:
    """Return ``value`` with the string values of known numeric fields turned into Decimal."""
    if isinstance(value, Mapping):
        return {k: decimalize(v, k) for k, v in value.items()}
    if isinstance(value, list):
        # Items of a list inherit the list's key so that e.g. a bare list of amounts is converted.
        return [decimalize(v, key) for v in value]
    if isinstance(value, str) and key is not None:
        text = value.strip()
        if key in MONEY_KEYS and _FRACTIONAL.fullmatch(text):
            return Decimal(text)
        if (key in QTY_KEYS or key in RATE_KEYS) and _NUMBER.fullmatch(text):
            return Decimal(text)
    return value


def format_money(value: Any, key: str = "amount") -> str:
    """Exactly two decimals, refusing floats and values that would need rounding."""
    dec = _to_decimal(value, key)
    quantized = dec.quantize(_CENT)
    if quantized != dec:
        raise VendusPayloadError(f"money field {key!r} has more than 2 decimals: {dec}")
    return f"{quantized:f}"


def format_qty(value: Any, key: str = "qty") -> str:
    """Plain positional notation (never an exponent such as '1E+1'), precision kept as given."""
    return f"{_to_decimal(value, key):f}"


def _to_decimal(value: Any, key: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise VendusPayloadError(f"field {key!r} must be Decimal, int or str, not {type(value).__name__}")
    try:
        dec = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise VendusPayloadError(f"field {key!r} is not a number: {value!r}") from None
    if not dec.is_finite():
        raise VendusPayloadError(f"field {key!r} is not a finite number: {value!r}")
    return dec


def prepare_payload(value: Any, key: str | None = None) -> Any:
    """Copy a request payload, formatting money and quantity fields as Vendus expects them.

    Only Decimal/int values of known keys are formatted (strings are assumed to be formatted by
    the caller already). Floats in those fields are refused: they are how cents go missing.
    """
    if isinstance(value, Mapping):
        return {k: prepare_payload(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [prepare_payload(v, key) for v in value]
    if key is not None and not isinstance(value, (str, bool)) and isinstance(value, (Decimal, int, float)):
        if key in MONEY_KEYS:
            return format_money(value, key)
        if key in QTY_KEYS:
            return format_qty(value, key)
        if isinstance(value, float) and key in RATE_KEYS:
            raise VendusPayloadError(f"field {key!r} must be Decimal, int or str, not float")
    return value


class VendusJSONEncoder(json.JSONEncoder):
    """Encodes Decimal as a plain decimal string and dates as ISO ``YYYY-MM-DD``."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise VendusPayloadError(f"not a finite number: {o}")
            return f"{o:f}"
        if isinstance(o, date) and not isinstance(o, datetime):
            return o.isoformat()
        if isinstance(o, datetime):
            # Vendus' own format; a naive/aware distinction is the caller's business (local time).
            return o.strftime("%Y-%m-%d %H:%M:%S")
        return super().default(o)


def dumps(payload: Any) -> bytes:
    """Serialise a request body to UTF-8 JSON bytes (Portuguese text stays readable)."""
    text = json.dumps(
        prepare_payload(payload), cls=VendusJSONEncoder, ensure_ascii=False, separators=(",", ":")
    )
    return text.encode("utf-8")

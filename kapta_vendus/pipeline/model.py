"""The pipeline's internal, normalised models: frozen, Decimal money, timezone-aware times.

These are what every later step (map, rules, fiscal checks, payloads) works on, whatever the
source of the event was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from kapta_vendus.events.catalogue import EventType

CENT = Decimal("0.01")
FINAL_CONSUMER_NIF = "999999990"  # SAF-T's anonymous consumer: means "no client", never sent


def to_cents(amount: Decimal) -> Decimal:
    """Round to cents, half up: the rounding of Portuguese invoices (and of Vendus' totals)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def compact_fiscal_id(value: str) -> str:
    """The fiscal id without spaces, dots, dashes or slashes, upper-cased."""
    return "".join(ch for ch in value if ch not in " .-/").upper()


@dataclass(frozen=True)
class Customer:
    name: str | None = None
    fiscal_id: str | None = None
    country: str = "PT"
    email: str | None = None
    address: str | None = None
    postalcode: str | None = None
    city: str | None = None

    @property
    def is_final_consumer(self) -> bool:
        """No NIF, or the generic consumer NIF (with or without a "PT" prefix)."""
        if not self.fiscal_id:
            return True
        compact = compact_fiscal_id(self.fiscal_id)
        return compact.removeprefix("PT") == FINAL_CONSUMER_NIF

    @property
    def has_nif(self) -> bool:
        return not self.is_final_consumer

    @property
    def identification(self) -> dict[str, str]:
        """Every identification field the customer gave (besides the NIF), as sent to Vendus."""
        names = ("name", "address", "postalcode", "city", "email")
        return {name: value for name in names if (value := getattr(self, name))}

    @property
    def is_named_with_address(self) -> bool:
        """Name and address: what CIVA 36 asks of a consumer invoice of 1,000 EUR or more."""
        return bool(self.name and self.address)


GOODS, SERVICE = "goods", "service"
LINE_KINDS = (GOODS, SERVICE)
VENDUS_TYPE_IDS = {GOODS: "P", SERVICE: "S"}  # Vendus item type_id (pt-invoicing-rules §2)


def derived_reference(title: str) -> str:
    """A stable product reference for a line sent without one, derived from its title.

    The same title always gives the same reference, so Vendus creates the product once and every
    later row (and every credit note, which names rows by reference) points at it.
    """
    digest = hashlib.sha1(" ".join(title.split()).casefold().encode()).hexdigest()  # noqa: S324
    return f"KV-{digest[:12].upper()}"


@dataclass(frozen=True)
class SaleLine:
    title: str
    qty: Decimal
    unit_price: Decimal  # gross: VAT included, as the POS charges it
    tax: str  # NOR / INT / RED / ISE
    reference: str | None = None
    exemption: str | None = None
    discount_percentage: Decimal = Decimal(0)
    category: str | None = None
    kind: str | None = None  # goods / service; None: the mapping decides (see mapping.map_sale)

    @property
    def stable_reference(self) -> str:
        return self.reference or derived_reference(self.title)

    @property
    def total(self) -> Decimal:
        """The line's gross total, rounded to cents per line (as printed on the document)."""
        gross = self.qty * self.unit_price * (Decimal(100) - self.discount_percentage) / Decimal(100)
        return to_cents(gross)


@dataclass(frozen=True)
class Payment:
    method: str  # the POS's own name ("cash", "card"...); the mapping turns it into a Vendus id
    amount: Decimal
    status: str = "paid"  # paid / pending

    @property
    def is_paid(self) -> bool:
        return self.status == "paid"


@dataclass(frozen=True)
class Sale:
    sale_id: str
    store_id: int
    closed_at: datetime
    lines: tuple[SaleLine, ...]
    payment_status: str  # paid / partial / pending
    payments: tuple[Payment, ...] = ()
    customer: Customer | None = None
    register_id: int | None = None
    notes: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0.00"))

    @property
    def paid_amount(self) -> Decimal:
        return sum((p.amount for p in self.payments if p.is_paid), Decimal("0.00"))

    @property
    def unpaid_amount(self) -> Decimal:
        return max(self.total - self.paid_amount, Decimal("0.00"))

    @property
    def has_nif(self) -> bool:
        return self.customer is not None and self.customer.has_nif


@dataclass(frozen=True)
class PaymentConfirmation:
    sale_id: str
    payment_id: str
    method: str
    amount: Decimal
    confirmed_at: datetime
    store_id: int


@dataclass(frozen=True)
class RefundLine:
    qty: Decimal
    reference: str | None = None
    row: int | None = None  # 1-based row on the issued document


@dataclass(frozen=True)
class Refund:
    sale_id: str
    refund_id: str
    reason: str
    store_id: int
    lines: tuple[RefundLine, ...] = ()  # empty: everything still creditable

    @property
    def is_full(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class CustomerChange:
    """sale.customer_changed: credit the live invoice in full and reissue it to ``customer``."""

    sale_id: str
    change_id: str
    customer: Customer
    reason: str
    store_id: int


@dataclass(frozen=True)
class VendusDocumentRef:
    id: int
    type: str  # FT, FS, FR, NC, RG, PF... (unknown codes are kept as they are)
    number: str
    status: str  # N / A / F
    date: date
    amount_gross: Decimal
    amount_net: Decimal
    store_id: int
    register_id: int | None = None
    external_reference: str | None = None
    invoice: VendusDocumentRef | None = None  # invoice.finalized: the fiscal document it became
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_cancelled(self) -> bool:
        return self.status == "A"


@dataclass(frozen=True)
class NormalisedEvent:
    type: EventType
    event_id: str
    store_id: int
    occurred_at: datetime
    sale: Sale | None = None
    payment: PaymentConfirmation | None = None
    refund: Refund | None = None
    document: VendusDocumentRef | None = None
    customer_change: CustomerChange | None = None

    @property
    def sale_id(self) -> str | None:
        """The business key shared by a sale, its payments and refunds (and the documents' link)."""
        for item in (self.sale, self.payment, self.refund, self.customer_change):
            if item is not None:
                return item.sale_id
        return self.document.external_reference if self.document else None

    @property
    def business_time(self) -> datetime:
        """When it happened at the till (rules' hour/weekday), falling back to the envelope time."""
        if self.sale is not None:
            return self.sale.closed_at
        if self.payment is not None:
            return self.payment.confirmed_at
        return self.occurred_at


REGIONS = ("mainland", "madeira", "azores")
_REGION_ZONES = {"mainland": "Europe/Lisbon", "madeira": "Atlantic/Madeira", "azores": "Atlantic/Azores"}


@cache
def region_timezone(region: str = "mainland") -> tzinfo:
    """The legal time of a Portuguese tax region (the Azores are an hour behind the mainland).

    Cached and resolved on first use, so importing this module reads no time zone file.
    """
    return ZoneInfo(_REGION_ZONES[region])

"""Vendus ``POST documents/`` bodies (reference/vendus-api.md §3.3, §3.4, §7), built from
mapped data. Only documented fields are sent: Vendus answers P001 to any other name.

FT and payments: an FT created *with* payments makes Vendus issue an automatic RG inside the same
call. That RG has no ``tx_id`` of its own, cannot be looked up or retried on its own, and a
retry of the FT could not tell whether it exists. So an FT is always sent without payments, and
the part already paid becomes a separate ``issue_receipt`` action: one document per call, one
idempotency key per document.

Dates: a document is dated the day it is issued (``date``), and a sale's invoice carries the
sale's own day as ``date_supply``. Vendus refuses a ``date`` before the series' latest document,
so a late sale (an offline POS, a queue that waited out an outage) is never dated in the past
(pt-invoicing-rules §3 "Dates"; reference/events.md "Late and rounded sales").

Money is written as 2-decimal strings and quantities as plain decimal strings, which the Vendus
client passes through unchanged. ``tx_id`` is optional here because the issuing step adds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kapta_vendus.events.exemptions import DEFAULT_EXEMPTION_LAWS
from kapta_vendus.pipeline import civa
from kapta_vendus.pipeline.account_exemptions import AccountExemption
from kapta_vendus.pipeline.credit_notes import build_credit_note_payload
from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.fiscal import (
    PAID_AT_ISSUE,
    ClientDecision,
    FiscalClearance,
    check_receipt,
    check_sale,
)
from kapta_vendus.pipeline.mapping import MappedLine, MappedSale
from kapta_vendus.pipeline.model import VENDUS_TYPE_IDS
from kapta_vendus.pipeline.references import SEPARATOR
from kapta_vendus.pipeline.wire_format import money, quantity

__all__ = [
    "CLIENT_FIELDS",
    "DOCUMENT_FIELDS",
    "ITEM_FIELDS",
    "PAYMENT_FIELDS",
    "DocumentBody",
    "build_credit_note_payload",
    "build_document",
    "build_document_payload",
    "build_receipt_payload",
    "build_sale_receipt_payload",
    "client_payload",
    "credit_note_reference",
    "money",
    "quantity",
    "receipt_reference",
    "sale_id_from_reference",
]

# What we may send (subsets of the documented fields that this service uses).
DOCUMENT_FIELDS = frozenset(
    {
        "type",
        "register_id",
        "mode",
        "date",
        "date_supply",
        "external_reference",
        "items",
        "client",
        "payments",
        "invoices",
        "notes",
        "tx_id",
    }
)
ITEM_FIELDS = frozenset(
    {
        "id",
        "reference",
        "title",
        "gross_price",
        "qty",
        "type_id",
        "tax_id",
        "tax_custom",
        "tax_exemption",
        "tax_exemption_law",
        "discount_percentage",
        "reference_document",
    }
)
CLIENT_FIELDS = frozenset({"fiscal_id", "name", "country", "address", "postalcode", "city", "email"})
PAYMENT_FIELDS = frozenset({"id", "amount"})
REFERENCE_SEPARATOR = SEPARATOR


# Legacy helpers: the bare-sale-id references written before references.py (kept for dry runs).
def receipt_reference(sale_id: str, key: str) -> str:
    return f"{sale_id}{REFERENCE_SEPARATOR}RG:{key}"


def credit_note_reference(sale_id: str, refund_id: str) -> str:
    return f"{sale_id}{REFERENCE_SEPARATOR}NC:{refund_id}"


def sale_id_from_reference(external_reference: str) -> str:
    from kapta_vendus.pipeline.references import parse_reference

    return parse_reference(external_reference).sale_id


@dataclass(frozen=True)
class DocumentBody:
    """A sale's FT/FR/FS body and what the checks found on the way."""

    body: dict[str, Any]
    clearance: FiscalClearance

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.clearance.warnings

    @property
    def rounding(self) -> dict[str, str] | None:
        """POS payments vs the total Vendus computes, when they differ (recorded on the event)."""
        settlement = self.clearance.settlement
        if settlement is None or not settlement.difference:
            return None
        return {"pos_paid": money(settlement.paid), "vendus_total": money(settlement.vendus_total),
                "difference": money(settlement.difference)}


def build_document(
    mapped: MappedSale,
    document_type: str,
    *,
    today: date | None = None,
    external_reference: str | None = None,
    exemptions: Mapping[str, AccountExemption] | None = None,
    tx_id: str | None = None,
    notes: str | None = None,
) -> DocumentBody:
    """The FT/FR/FS body for a sale. Runs the fiscal checks first: raises FiscalRejection.

    ``today`` is the issue date (the store's today by default); ``exemptions`` the account's
    accepted exemption reasons with their law texts (None only in a dry run).
    """
    document_type = document_type.upper()
    sale = mapped.sale
    clearance = check_sale(sale, document_type=document_type, fs_limit=mapped.fs_limit, kinds=mapped.kinds,
                           exemptions=exemptions, buyer_identification=mapped.buyer_identification)
    issued_on = today or datetime.now(mapped.timezone).date()
    body: dict[str, Any] = {
        "type": document_type,
        "register_id": mapped.register_id,
        "mode": mapped.mode,  # always explicit: left out, the register's mode (often tests) applies
        "date": issued_on.isoformat(),
        "date_supply": mapped.local_date.isoformat(),
        "external_reference": external_reference or sale.sale_id,
        "items": [_item(line, mapped.region, exemptions) for line in mapped.lines],
    }
    if not clearance.client.omit:
        body["client"] = client_payload(clearance.client)
    if document_type in PAID_AT_ISSUE:
        body["payments"] = _paid_at_issue(mapped, clearance.settlement)
    note = notes if notes is not None else sale.notes
    if note:
        body["notes"] = note
    if tx_id:
        body["tx_id"] = tx_id
    return DocumentBody(body, clearance)


def build_document_payload(mapped: MappedSale, document_type: str, **options: Any) -> dict[str, Any]:
    """``build_document(...).body``."""
    return build_document(mapped, document_type, **options).body


def _paid_at_issue(mapped: MappedSale, settlement: civa.PaymentSettlement | None) -> list[dict[str, Any]]:
    payments = _payments((p.method_id, p.payment.amount) for p in mapped.paid_payments)
    if settlement is None or not settlement.omit_amount:
        return payments
    if len(payments) == 1:
        # Within a cent per line of Vendus's own total: leave the amount out, Vendus charges its total.
        del payments[0]["amount"]
        return payments
    # Several methods: the last one absorbs the rounding difference, so they add up to Vendus's total.
    last = Decimal(payments[-1]["amount"]) - settlement.difference
    if last <= 0:
        raise FiscalRejection([f"payments: cannot absorb a rounding difference of {settlement.difference} €"])
    payments[-1]["amount"] = money(last)
    return payments


def _item(mapped_line: MappedLine, region: str,
          exemptions: Mapping[str, AccountExemption] | None) -> dict[str, Any]:
    line = mapped_line.line
    item: dict[str, Any] = {}
    if mapped_line.product_id is not None:
        item["id"] = mapped_line.product_id
    else:
        # Unknown product: Vendus creates it from reference + title + gross_price. The reference is
        # derived from the title when the POS sends none, so the row can be credited by reference.
        item["reference"] = mapped_line.reference
        item["title"] = line.title
    item["qty"] = quantity(line.qty)
    item["gross_price"] = money(line.unit_price)  # the POS price wins over the catalogue's
    item["type_id"] = VENDUS_TYPE_IDS[mapped_line.kind]
    item["tax_id"] = line.tax
    if line.tax == "ISE":
        item["tax_exemption"] = line.exemption
        item["tax_exemption_law"] = _exemption_law(mapped_line, exemptions)
    elif (custom := civa.tax_custom(region, line.tax)) is not None:
        item["tax_custom"] = custom
    if line.discount_percentage:
        item["discount_percentage"] = quantity(line.discount_percentage)
    return item


def _exemption_law(mapped_line: MappedLine, exemptions: Mapping[str, AccountExemption] | None) -> str:
    """The operator's text, else the account's legal article (never the label), else our table."""
    code = mapped_line.line.exemption or ""
    if mapped_line.exemption_law:
        return mapped_line.exemption_law
    if exemptions is not None and code in exemptions and exemptions[code].law:
        return exemptions[code].law
    return DEFAULT_EXEMPTION_LAWS.get(code, "")


def client_payload(client: ClientDecision) -> dict[str, Any]:
    """The client object: fiscal id (when there is one) and country, and every other field given."""
    customer = client.customer
    body: dict[str, Any] = {"fiscal_id": client.fiscal_id} if client.fiscal_id else {}
    body["country"] = client.country
    if customer is not None:
        for name in ("name", "address", "postalcode", "city", "email"):
            value = getattr(customer, name)
            if value:
                body[name] = value
    return body


def _payments(pairs: Any) -> list[dict[str, Any]]:
    payments: list[dict[str, Any]] = []
    for method_id, amount in pairs:
        if method_id is None:
            raise FiscalRejection(["payments: a paid payment has no Vendus payment method"])
        payments.append({"id": method_id, "amount": money(amount)})
    return payments


def build_receipt_payload(
    invoice_numbers: Sequence[str],
    amount: Decimal,
    method_id: int,
    *,
    register_id: int | None = None,
    mode: str | None = None,
    date: date | None = None,
    external_reference: str | None = None,
    tx_id: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """An RG settling ``invoice_numbers`` ("FT 01P2026/7") for ``amount`` paid with one method.

    ``date`` is the day the receipt is issued; the payment's own date belongs in ``notes``.
    """
    check_receipt(invoice_numbers, amount)
    body = _receipt(invoice_numbers, [(method_id, amount)], register_id, mode, date, external_reference, tx_id)
    if notes:
        body["notes"] = notes
    return body


def build_sale_receipt_payload(
    mapped: MappedSale, invoice_number: str, *, key: str = "sale", tx_id: str | None = None,
    today: date | None = None, external_reference: str | None = None,
) -> dict[str, Any]:
    """The RG for what was already paid when an FT sale closed (one payment line per method)."""
    paid = mapped.paid_payments
    check_receipt([invoice_number], sum((p.payment.amount for p in paid), Decimal(0)))
    by_method: dict[int | None, Decimal] = {}
    for p in paid:
        by_method[p.method_id] = by_method.get(p.method_id, Decimal(0)) + p.payment.amount
    reference = external_reference or receipt_reference(mapped.sale.sale_id, key)
    return _receipt(
        [invoice_number],
        list(by_method.items()),
        mapped.register_id,
        mapped.mode,
        today or datetime.now(mapped.timezone).date(),
        reference,
        tx_id,
    )


def _receipt(
    invoice_numbers: Sequence[str],
    pairs: list[tuple[int | None, Decimal]],
    register_id: int | None,
    mode: str | None,
    when: date | None,
    external_reference: str | None,
    tx_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "RG"}
    if register_id is not None:
        body["register_id"] = register_id
    if mode is not None:
        body["mode"] = mode
    if when is not None:
        body["date"] = when.isoformat()
    body["payments"] = _payments(pairs)
    body["invoices"] = [{"document_number": number.strip()} for number in invoice_numbers]
    if external_reference:
        body["external_reference"] = external_reference
    if tx_id:
        body["tx_id"] = tx_id
    return body

"""Vendus ``POST documents/`` bodies (reference/vendus-api.md §3.3, §3.4, §7), built from
mapped data. Only documented fields are sent: Vendus answers P001 to any other name.

FT and payments: an FT created *with* payments makes Vendus issue an automatic RG inside the same
call. That RG has no ``tx_id`` of its own, cannot be looked up or retried on its own, and a
retry of the FT could not tell whether it exists. So an FT is always sent without payments, and
the part already paid becomes a separate ``issue_receipt`` action: one document per call, one
idempotency key per document.

Money is written as 2-decimal strings and quantities as plain decimal strings, which the Vendus
client passes through unchanged. ``tx_id`` is optional here because the issuing step adds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.fiscal import (
    PAID_AT_ISSUE,
    ClientDecision,
    check_receipt,
    check_sale,
    plan_credit_note,
)
from kapta_vendus.pipeline.mapping import MappedLine, MappedSale
from kapta_vendus.pipeline.model import Refund

# What we may send (subsets of the documented fields that this service uses).
DOCUMENT_FIELDS = frozenset(
    {
        "type",
        "register_id",
        "mode",
        "date",
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
        "tax_id",
        "tax_exemption",
        "tax_exemption_law",
        "discount_percentage",
        "reference_document",
    }
)
CLIENT_FIELDS = frozenset({"fiscal_id", "name", "country", "address", "postalcode", "city", "email"})
PAYMENT_FIELDS = frozenset({"id", "amount"})
REFERENCE_SEPARATOR = "#"


def money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01')):f}"


def quantity(qty: Decimal) -> str:
    return f"{qty.normalize():f}" if qty == qty.to_integral_value() else f"{qty:f}"


# external_reference: the sale id for its invoice; receipts and credit notes get a suffix so that
# each document of a sale can be found on its own after an unknown outcome.
def receipt_reference(sale_id: str, key: str) -> str:
    return f"{sale_id}{REFERENCE_SEPARATOR}RG:{key}"


def credit_note_reference(sale_id: str, refund_id: str) -> str:
    return f"{sale_id}{REFERENCE_SEPARATOR}NC:{refund_id}"


def sale_id_from_reference(external_reference: str) -> str:
    return external_reference.split(REFERENCE_SEPARATOR, 1)[0]


def build_document_payload(
    mapped: MappedSale, document_type: str, *, tx_id: str | None = None, notes: str | None = None
) -> dict[str, Any]:
    """The FT/FR/FS body for a sale. Runs the fiscal checks first: raises FiscalRejection."""
    document_type = document_type.upper()
    clearance = check_sale(mapped.sale, document_type=document_type, fs_limit=mapped.fs_limit)
    sale = mapped.sale
    body: dict[str, Any] = {
        "type": document_type,
        "register_id": mapped.register_id,
        "mode": mapped.mode,  # always explicit: left out, the register's mode (often tests) applies
        "date": mapped.local_date.isoformat(),
        "external_reference": sale.sale_id,
        "items": [_item(line) for line in mapped.lines],
    }
    if not clearance.client.omit:
        body["client"] = client_payload(clearance.client)
    if document_type in PAID_AT_ISSUE:
        body["payments"] = _payments((p.method_id, p.payment.amount) for p in mapped.paid_payments)
    note = notes if notes is not None else sale.notes
    if note:
        body["notes"] = note
    if tx_id:
        body["tx_id"] = tx_id
    return body


def _item(mapped_line: MappedLine) -> dict[str, Any]:
    line = mapped_line.line
    item: dict[str, Any] = {}
    if mapped_line.product_id is not None:
        item["id"] = mapped_line.product_id
    else:
        # Unknown product: Vendus creates it from title + gross_price. The reference, when there
        # is one, lets the next sale find that product instead of creating another one.
        if line.reference:
            item["reference"] = line.reference
        item["title"] = line.title
    item["qty"] = quantity(line.qty)
    item["gross_price"] = money(line.unit_price)  # the POS price wins over the catalogue's
    item["tax_id"] = line.tax
    if line.tax == "ISE":
        item["tax_exemption"] = line.exemption
        item["tax_exemption_law"] = mapped_line.exemption_law or ""
    if line.discount_percentage:
        item["discount_percentage"] = quantity(line.discount_percentage)
    return item


def client_payload(client: ClientDecision) -> dict[str, Any]:
    """The client object: fiscal id and country always, the other fields when known."""
    customer = client.customer
    body: dict[str, Any] = {"fiscal_id": client.fiscal_id, "country": client.country}
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
) -> dict[str, Any]:
    """An RG settling ``invoice_numbers`` ("FT 01P2026/7") for ``amount`` paid with one method."""
    check_receipt(invoice_numbers, amount)
    return _receipt(
        invoice_numbers, [(method_id, amount)], register_id, mode, date, external_reference, tx_id
    )


def build_sale_receipt_payload(
    mapped: MappedSale, invoice_number: str, *, key: str = "sale", tx_id: str | None = None
) -> dict[str, Any]:
    """The RG for what was already paid when an FT sale closed (one payment line per method)."""
    paid = mapped.paid_payments
    check_receipt([invoice_number], sum((p.payment.amount for p in paid), Decimal(0)))
    by_method: dict[int | None, Decimal] = {}
    for p in paid:
        by_method[p.method_id] = by_method.get(p.method_id, Decimal(0)) + p.payment.amount
    reference = receipt_reference(mapped.sale.sale_id, key)
    return _receipt(
        [invoice_number],
        list(by_method.items()),
        mapped.register_id,
        mapped.mode,
        mapped.local_date,
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


def build_credit_note_payload(
    original_document_detail: Mapping[str, Any],
    refund: Refund,
    reason: str | None = None,
    *,
    register_id: int | None = None,
    mode: str | None = None,
    tx_id: str | None = None,
) -> dict[str, Any]:
    """An NC crediting rows of the original (detail) document; raises FiscalRejection.

    Each item names its original row (1-based) and product; Vendus takes prices from the
    original line. Without refund lines, everything still creditable (``qty_nc``) is credited.
    """
    plan = plan_credit_note(original_document_detail, refund, reason=reason, mode=mode)
    items, reasons = [], []
    for line in plan.lines:
        item: dict[str, Any] = {
            "reference_document": {"document_number": plan.document_number, "document_row": line.row}
        }
        if line.product_id is not None:
            item["id"] = line.product_id
        elif line.reference:
            item["reference"] = line.reference
        else:
            reasons.append(
                f"original: row {line.row} of {plan.document_number} names no product (id or reference)"
            )
        item["qty"] = quantity(line.qty)
        items.append(item)
    if reasons:
        raise FiscalRejection(reasons)
    register = register_id if register_id is not None else original_document_detail.get("register_id")
    body: dict[str, Any] = {"type": "NC"}
    if isinstance(register, int) and not isinstance(register, bool):
        body["register_id"] = register
    if mode is not None:
        body["mode"] = mode
    body["external_reference"] = credit_note_reference(refund.sale_id, refund.refund_id)
    body["notes"] = plan.reason  # required by Vendus for an NC: the reason
    body["items"] = items
    if tx_id:
        body["tx_id"] = tx_id
    return body

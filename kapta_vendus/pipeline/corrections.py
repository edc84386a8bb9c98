"""``sale.customer_changed``: the customer asks for their data on the invoice after the sale.

An issued document cannot be edited and a NIF cannot be added afterwards (pt-invoicing-rules §3),
so the live invoice is credited in full by one NC (with the reason) and the same rows are issued
again to the customer: an FR when the sale was paid, an FT otherwise (reference/events.md). Both
documents have their own issuance key derived from the ``change_id``, so each change produces at
most one NC and one new invoice, whatever is retried or repeated.

The new invoice is rebuilt from the original document's rows as Vendus holds them (product,
price, discount, VAT code, regional rate, exemption and law), for the quantities the NC credited.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kapta_vendus.events.catalogue import document_status_code
from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.fiscal import resolve_client
from kapta_vendus.pipeline.model import CustomerChange, Refund
from kapta_vendus.pipeline.payloads import client_payload, money, quantity

PAID_TYPES = ("FR", "FS")


def reissue_type(original: Mapping[str, Any]) -> str:
    """FR when the sale is paid (an FR/FS, or an FT whose debt is settled), FT otherwise."""
    if str(original.get("type") or "").upper() in PAID_TYPES:
        return "FR"
    debt = original.get("debt") if isinstance(original.get("debt"), Mapping) else {}
    unpaid = debt.get("unpaid", original.get("total_unpaid"))
    paid = original.get("payment_status") == "paid" or (unpaid is not None and Decimal(str(unpaid)) == 0)
    return "FR" if paid else "FT"


def full_credit(change: CustomerChange) -> Refund:
    """The NC's refund: everything still creditable on the live invoice, with the change's reason."""
    return Refund(sale_id=change.sale_id, refund_id=change.change_id, reason=change.reason,
                  store_id=change.store_id)


def check_new_client(change: CustomerChange) -> dict[str, Any]:
    """The new invoice's client; raises FiscalRejection (before the NC is issued) for a bad NIF."""
    decision = resolve_client(change.customer)
    if decision.omit:
        raise FiscalRejection(["customer: a correction needs the customer's NIF or identification"])
    return client_payload(decision)


def build_reissue_payload(original: Mapping[str, Any], credited: Mapping[int, Decimal], *,
                          client: dict[str, Any], document_type: str, mode: str, today: str,
                          external_reference: str) -> dict[str, Any]:
    """The new invoice: the original's rows, for the quantities ``credited`` (row → qty)."""
    items_in = original.get("items") if isinstance(original.get("items"), list) else []
    items = [_row(item, credited[row]) for row, item in enumerate(items_in, start=1) if credited.get(row)]
    if not items:
        raise FiscalRejection([f"original: nothing to reissue from {original.get('number')}"])
    body: dict[str, Any] = {"type": document_type, "mode": mode, "date": today,
                            "external_reference": external_reference, "items": items, "client": client}
    if isinstance(original.get("register_id"), int):
        body["register_id"] = original["register_id"]
    if original.get("date_supply") or original.get("date"):
        body["date_supply"] = str(original.get("date_supply") or original.get("date"))[:10]
    if document_type == "FR":
        methods = [p.get("id") for p in original.get("payments") or [] if isinstance(p, Mapping)]
        if not methods or not isinstance(methods[0], int):
            raise FiscalRejection([f"original: {original.get('number')} names no payment method to reuse"])
        body["payments"] = [{"id": methods[0]}]  # no amount: Vendus charges the new invoice's own total
    return body


def _row(item: Mapping[str, Any], qty: Decimal) -> dict[str, Any]:
    amounts = item.get("amounts") if isinstance(item.get("amounts"), Mapping) else {}
    discounts = item.get("discounts") if isinstance(item.get("discounts"), Mapping) else {}
    tax = item.get("tax") if isinstance(item.get("tax"), Mapping) else {}
    row: dict[str, Any] = {}
    if isinstance(item.get("id"), int):
        row["id"] = item["id"]
    else:
        row["reference"] = item.get("reference")
        row["title"] = item.get("title")
    row["qty"] = quantity(qty)
    row["gross_price"] = money(Decimal(str(amounts.get("gross_unit", "0"))))
    if item.get("type_id"):
        row["type_id"] = item["type_id"]
    row["tax_id"] = tax.get("id") or "NOR"
    if row["tax_id"] == "ISE":
        row["tax_exemption"] = tax.get("exemption")
        row["tax_exemption_law"] = tax.get("exemption_law")
    elif str(tax.get("country") or "PT") != "PT":
        row["tax_custom"] = {"country": tax["country"], "rate": f"{Decimal(str(tax.get('rate'))).normalize():f}",
                             "code": row["tax_id"], "type": "IVA"}
    percentage = Decimal(str(discounts.get("percentage") or 0))
    if percentage:
        row["discount_percentage"] = quantity(percentage)
    return row


def credited_rows(nc_request: Mapping[str, Any]) -> dict[int, Decimal]:
    """Row → qty credited, from the NC request we sent (its ``reference_document`` rows)."""
    rows: dict[int, Decimal] = {}
    for item in nc_request.get("items") or []:
        ref = item.get("reference_document") if isinstance(item, Mapping) else None
        if isinstance(ref, Mapping) and isinstance(ref.get("document_row"), int):
            rows[ref["document_row"]] = rows.get(ref["document_row"], Decimal(0)) + Decimal(str(item["qty"]))
    return rows


def is_live(document: Mapping[str, Any]) -> bool:
    return document_status_code(document.get("status")) != "A"

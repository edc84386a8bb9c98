"""Credit notes: which rows of an issued invoice an NC credits, and the NC body (vendus-api §7.4).

Each NC line names its original row (1-based) and product; Vendus takes prices from the original
line. Without refund lines, everything still creditable (``qty_nc``) is credited. A row can be
chosen by number or by product reference; every line we issue has a reference (payloads.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from kapta_vendus.events.catalogue import document_status_code
from kapta_vendus.pipeline.errors import FiscalRejection
from kapta_vendus.pipeline.model import Refund
from kapta_vendus.pipeline.wire_format import quantity

CREDITABLE_TYPES = ("FT", "FR", "FS")


@dataclass(frozen=True)
class CreditLine:
    row: int  # 1-based row on the original document
    qty: Decimal
    product_id: int | None
    reference: str | None
    title: str


@dataclass(frozen=True)
class CreditNotePlan:
    document_number: str
    reason: str
    lines: tuple[CreditLine, ...]


def plan_credit_note(
    original: Mapping[str, Any], refund: Refund, *, reason: str | None = None, mode: str | None = None
) -> CreditNotePlan:
    """Which rows of ``original`` (a Vendus detail document) an NC credits, and how much of each.

    Lines are chosen by 1-based row or by product reference (spread over rows with that
    reference); without lines, every row is credited for what is still creditable (``qty_nc``).
    """
    number = str(original.get("number") or "").strip()
    doc_type = str(original.get("type") or "").upper()
    reason = (reason if reason is not None else refund.reason or "").strip()
    reasons: list[str] = []
    if not reason:
        reasons.append("reason: required (it becomes the credit note's notes)")
    if not number:
        reasons.append("original: the invoice has no number")
    if document_status_code(original.get("status")) == "A":
        reasons.append(f"original: {number} is cancelled and cannot be credited")
    if doc_type not in CREDITABLE_TYPES:
        reasons.append(
            f"original: only FT, FR and FS are credited with an NC, not {doc_type or 'an unknown type'}"
        )
    is_test = bool(re.match(r"\S+\s+T", number))
    if mode == "normal" and is_test:
        reasons.append(f"original: {number} is a test document; a normal-mode NC cannot credit it")
    if mode == "tests" and number and not is_test:
        reasons.append(f"original: a test-mode NC would not credit the real document {number}")
    items = original.get("items") if isinstance(original.get("items"), list) else []
    if not items:
        reasons.append(f"original: {number} has no rows (the detail document is needed)")
    remaining = [_creditable(item) for item in items]
    lines: list[CreditLine] = []
    if refund.is_full and items:
        lines = [_credit(items, row, qty) for row, qty in enumerate(remaining, start=1) if qty > 0]
        if not lines:
            reasons.append(f"original: nothing left to credit on {number}: every row is already credited")
    for index, wanted in enumerate(refund.lines):
        if not items:
            break
        if wanted.row is not None:
            rows = [wanted.row] if 1 <= wanted.row <= len(items) else []
            if not rows:
                reasons.append(
                    f"lines[{index}]: row {wanted.row} does not exist on {number} ({len(items)} rows)"
                )
                continue
        else:
            rows = [i for i, item in enumerate(items, start=1) if item.get("reference") == wanted.reference]
            if not rows:
                reasons.append(f"lines[{index}]: no row with reference {wanted.reference!r} on {number}")
                continue
        available = sum((remaining[r - 1] for r in rows), Decimal(0))
        if wanted.qty > available:
            what = f"row {wanted.row}" if wanted.row is not None else repr(wanted.reference)
            reasons.append(
                f"lines[{index}]: qty {wanted.qty} exceeds what is still creditable ({available}) of {what}"
            )
            continue
        needed = wanted.qty
        for row in rows:
            take = min(needed, remaining[row - 1])
            if take > 0:
                remaining[row - 1] -= take
                needed -= take
                lines.append(_credit(items, row, take))
    if reasons:
        raise FiscalRejection(reasons)
    # Two refund lines may hit the same row (by row and by reference): one NC line per row.
    merged: dict[int, CreditLine] = {}
    for line in lines:
        before = merged.get(line.row)
        merged[line.row] = line if before is None else replace(before, qty=before.qty + line.qty)
    return CreditNotePlan(document_number=number, reason=reason, lines=tuple(merged.values()))


def _credit(items: list[Mapping[str, Any]], row: int, qty: Decimal) -> CreditLine:
    item = items[row - 1]
    product_id = item.get("id")
    return CreditLine(
        row=row,
        qty=qty,
        product_id=product_id if isinstance(product_id, int) and not isinstance(product_id, bool) else None,
        reference=item.get("reference") or None,
        title=str(item.get("title") or ""),
    )


def _creditable(item: Mapping[str, Any]) -> Decimal:
    """What is still creditable on a row: ``qty_nc`` when Vendus gives it, else the row's qty."""
    for key in ("qty_nc", "qty"):
        value = item.get(key)
        if value is not None and not isinstance(value, bool):
            try:
                return max(Decimal(str(value)), Decimal(0))
            except InvalidOperation:
                continue
    return Decimal(0)


def build_credit_note_payload(
    original_document_detail: Mapping[str, Any],
    refund: Refund,
    reason: str | None = None,
    *,
    register_id: int | None = None,
    mode: str | None = None,
    tx_id: str | None = None,
    external_reference: str | None = None,
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
    body["external_reference"] = external_reference or f"{refund.sale_id}#NC:{refund.refund_id}"
    body["notes"] = plan.reason  # required by Vendus for an NC: the reason
    body["items"] = items
    if tx_id:
        body["tx_id"] = tx_id
    return body

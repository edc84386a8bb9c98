"""Receipts (RG): the automatic one that payments on an invoice create, and explicit ones.

An explicit RG is ``type: "RG"`` with ``payments[]`` and ``invoices[{document_number}]`` and no
items. Its amount (the payments, minus change) may not exceed what the invoices owe; below that it
is a partial payment (unless ``rg_partial_payment`` is off). It is split over the invoices in the
listed order, each up to its unpaid amount (or proportionally, by assumption).
"""

from __future__ import annotations

from .accounts import Account
from .errors import invalid
from .issuing import issue
from .money import ZERO, money
from .payments import allocate, debt, invoices_to_pay, link_receipt, plan_payments


def receipt_draft(invoice_draft: dict, series: str, entries: list, amount) -> dict:
    receipt = dict(invoice_draft)
    receipt.update(
        type="RG",
        series=series,
        items=[],
        taxes=[],
        payments=entries,
        amount_gross=money(amount),
        amount_net=money(amount),
        notes="",
        related=[],
        allocations=[],
        tx_id=None,
        paid="0.00",
        external_reference="",
        discounts={"amount": "0.00", "percentage": "0.00", "total": "0.00"},
    )
    return receipt


def create_receipt(ctx, account: Account, body: dict, draft: dict) -> dict:
    if body.get("items"):
        raise invalid("items", "Um recibo não tem linhas.")
    invoices = invoices_to_pay(account, body.get("invoices"), draft["mode"])
    owed = sum((debt(doc)[2] for doc in invoices), ZERO)
    if not body.get("payments"):
        raise invalid("payments")
    entries, paid, _ = plan_payments(account, body["payments"], owed)
    if paid <= 0:
        raise invalid("payments", "Indique o valor a liquidar.")
    if paid < owed and not ctx.assumptions.rg_partial_payment:
        raise invalid("payments", "O valor pago é inferior ao valor em dívida.")
    allocations = allocate(paid, invoices, ctx.assumptions.rg_allocation)
    draft.update(amount_gross=money(paid), amount_net=money(paid), payments=entries, client=invoices[0]["client"])
    rg = issue(account, draft, ctx.next_id("document"))
    for invoice in link_receipt(rg, allocations):
        ctx.touch(account, "document", invoice)
    ctx.touch(account, "document", rg)
    return rg

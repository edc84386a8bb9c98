"""Receipts (RG): the automatic one that payments on an invoice create, and explicit ones.

An RG shows ``amount_gross`` = the amount paid and ``amount_net`` = the net part of it (the paid
invoices' nets in proportion), as Vendus shows receipts; see docs/simulator.md.

An explicit RG is ``type: "RG"`` with ``payments[]`` and ``invoices[{document_number}]`` and no
items. Its amount (the payments, minus change) may not exceed what the invoices owe; below that it
is a partial payment (unless ``rg_partial_payment`` is off). It is split over the invoices in the
listed order, each up to its unpaid amount (or proportionally, by assumption).
"""

from __future__ import annotations

from decimal import Decimal

from .accounts import Account
from .errors import invalid
from .issuing import issue
from .money import ZERO, money, q2
from .payments import allocate, debt, invoices_to_pay, link_receipt, plan_payments


def receipt_net(allocations: list[tuple[dict, Decimal]], how: str) -> Decimal:
    """An RG's net as Vendus shows it: the net of what it pays, i.e. each paid invoice's net in the
    proportion of its gross this RG covers (a full payment of one invoice shows that invoice's net).
    ``rg_net=gross`` shows the paid amount instead."""
    if how == "gross":
        return sum((share for _, share in allocations), ZERO)
    net = ZERO
    for invoice, share in allocations:
        gross = Decimal(invoice["amount_gross"])
        net += share if gross == 0 else Decimal(invoice["amount_net"]) * share / gross
    return q2(net)


def receipt_draft(invoice_draft: dict, series: str, entries: list, allocations: list, rg_net: str) -> dict:
    amount = sum((share for _, share in allocations), ZERO)
    receipt = dict(invoice_draft)
    receipt.update(
        type="RG",
        series=series,
        items=[],
        taxes=[],
        payments=entries,
        amount_gross=money(amount),
        amount_net=money(receipt_net(allocations, rg_net)),
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
    draft.update(
        amount_gross=money(paid),
        amount_net=money(receipt_net(allocations, ctx.assumptions.rg_net)),
        payments=entries,
        client=invoices[0]["client"],
    )
    rg = issue(account, draft, ctx.next_id("document"))
    for invoice in link_receipt(rg, allocations):
        ctx.touch(account, "document", invoice)
    ctx.touch(account, "document", rg)
    return rg

"""Payments, receipts (RG) and debt.

* ``payments[]`` on an invoice creates an automatic RG for the amount actually paid, linked both
  ways through ``related_docs``. Overpayment is only accepted as change from a method with
  ``change: 1`` (cash). Methods of type DNP ("pay later") record a due date and pay nothing.
* An explicit RG (``type: "RG"``, ``payments[]``, ``invoices[{document_number}]``, no items) pays the
  listed invoices. One RG amount is split **in the order the invoices are listed, each up to its
  unpaid amount** (or proportionally, by assumption); a partial RG leaves the rest pending.
* Cancelling an RG (PATCH status A) gives its allocations back to the invoices.
* Debt exists only for invoices (FT/FS/FR): ``debt = {total, paid, unpaid}`` with paid the sum of
  the allocations of their live RGs. Other documents owe nothing and report ``paid``.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from .accounts import Account
from .errors import invalid
from .money import CENT, ZERO, money, parse_decimal, q2

DEBT_TYPES = frozenset({"FT", "FS", "FR"})
DEFERRED_METHOD_TYPES = frozenset({"DNP"})
PAYMENT_FIELDS = frozenset({"id", "amount", "date_due", "venduspay_id"})


def plan_payments(account: Account, raw: object, total: Decimal, field: str = "payments") -> tuple[list, Decimal, str]:
    """Validate ``payments[]`` for a document of ``total``. Returns (entries, amount paid, due date or "")."""
    if raw is None:
        return [], ZERO, ""
    if not isinstance(raw, list):
        raise invalid(field)
    entries, kinds, remaining, date_due = [], [], total, ""
    for i, payment in enumerate(raw):
        if not isinstance(payment, dict) or any(k not in PAYMENT_FIELDS for k in payment):
            raise invalid(f"{field}[{i}]")
        raw_id = payment.get("id")
        method_id = int(raw_id) if isinstance(raw_id, int) or str(raw_id).isdigit() else None
        method = account.payment_methods.get(method_id) if method_id is not None else None
        if method is None or method.get("status", "on") != "on":
            raise invalid(f"{field}[{i}].id", "Método de pagamento inválido.")
        if payment.get("amount") is None:
            amount = max(remaining, ZERO)
        else:
            amount = q2(parse_decimal(payment["amount"], f"{field}[{i}].amount"))
        if payment.get("date_due"):
            date_due = str(payment["date_due"])
        remaining -= amount
        entries.append({"id": method["id"], "title": method["title"], "amount": money(amount), "change": "0.00"})
        kinds.append(method)
    over = -remaining if remaining < 0 else ZERO
    for entry, method in reversed(list(zip(entries, kinds, strict=True))):
        if over <= 0:
            break
        if int(method.get("change", 0)):
            change = min(over, Decimal(entry["amount"]))
            entry["change"] = money(change)
            over -= change
    if over > 0:
        raise invalid(field, "O valor dos pagamentos excede o total do documento.")
    paid = sum(
        (
            Decimal(e["amount"]) - Decimal(e["change"])
            for e, m in zip(entries, kinds, strict=True)
            if m.get("type") not in DEFERRED_METHOD_TYPES
        ),
        ZERO,
    )
    return entries, paid, date_due


def debt(doc: dict) -> tuple[Decimal, Decimal, Decimal]:
    if doc["type"] not in DEBT_TYPES:
        return ZERO, ZERO, ZERO
    total, paid = Decimal(doc["amount_gross"]), Decimal(doc["paid"])
    return total, paid, total - paid


def payment_status(doc: dict, today: str) -> str:
    unpaid = debt(doc)[2]
    if unpaid <= 0:
        return "paid"
    return "expired" if doc["date_due"] < today else "pending"


def invoices_to_pay(account: Account, raw: object, mode: str) -> list[dict]:
    """Resolve ``invoices[{document_number}]`` of an RG to open invoices of the same mode."""
    if not isinstance(raw, list) or not raw:
        raise invalid("invoices")
    invoices, seen = [], set()
    for i, ref in enumerate(raw):
        if not isinstance(ref, dict) or set(ref) - {"document_number"}:
            raise invalid(f"invoices[{i}]")
        number = ref.get("document_number")
        doc = account.find_number(number.strip(), mode) if isinstance(number, str) else None
        if doc is None:
            raise invalid(f"invoices[{i}].document_number", "Documento não encontrado.")
        if doc["type"] not in DEBT_TYPES or doc["status"] != "N" or doc["id"] in seen:
            raise invalid(f"invoices[{i}].document_number", "Documento não pode ser liquidado.")
        if debt(doc)[2] <= 0:
            raise invalid(f"invoices[{i}].document_number", "Documento já se encontra liquidado.")
        seen.add(doc["id"])
        invoices.append(doc)
    return invoices


def allocate(amount: Decimal, invoices: list[dict], how: str) -> list[tuple[dict, Decimal]]:
    """Split ``amount`` (<= total unpaid) over ``invoices``: in order, or proportionally to what each owes."""
    unpaid = [debt(doc)[2] for doc in invoices]
    shares = [ZERO] * len(invoices)
    if how == "proportional":
        owed = sum(unpaid, ZERO)
        shares = [(amount * u / owed).quantize(CENT, rounding=ROUND_DOWN) for u in unpaid]
    left = amount - sum(shares, ZERO)
    for index, owed_here in enumerate(unpaid):  # in order: each up to its unpaid (also mops up rounding)
        take = min(left, owed_here - shares[index])
        shares[index] += take
        left -= take
    return [(doc, share) for doc, share in zip(invoices, shares, strict=True) if share > 0]


def link_receipt(rg: dict, allocations: list[tuple[dict, Decimal]]) -> list[dict]:
    """Record the RG's payment on each invoice and link both ways. Returns the invoices touched."""
    rg["allocations"] = [[doc["id"], money(share)] for doc, share in allocations]
    rg["related"] = [*rg["related"], *(doc["id"] for doc, _ in allocations)]
    for doc, share in allocations:
        doc["paid"] = money(Decimal(doc["paid"]) + share)
        doc["related"] = [*doc["related"], rg["id"]]
    return [doc for doc, _ in allocations]


def reverse_receipt(account: Account, rg: dict) -> list[dict]:
    """Undo a cancelled RG's payments (links stay, showing the RG as status A)."""
    touched = []
    for doc_id, share in rg.get("allocations", []):
        doc = account.docs[doc_id]
        doc["paid"] = money(Decimal(doc["paid"]) - Decimal(share))
        touched.append(doc)
    return touched

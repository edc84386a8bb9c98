"""PATCH documents/{id}: status changes (cancel = A, invoiced = F).

Live Vendus cancels an RG but refuses FT ("emit a credit note instead"); FR, FS and NC are assumed
to behave like FT. Which other types may be cancelled or marked F is an assumption
(``cancellable_types``, ``allow_patch_to_f``/``invoiceable_types``). Cancelling an RG gives its
payment back to the invoices it paid (and cancelling an NC, if allowed, gives its quantities back to
the credited rows); a cancelled document never returns to N. Other documents with live RGs or NCs
attached cannot be cancelled.
"""

from __future__ import annotations

from .accounts import Account
from .credits import reverse_credit
from .errors import invalid, no_data
from .payments import reverse_receipt

PATCH_FIELDS = frozenset({"status", "mode", "stock"})


def patch_document(ctx, account: Account, doc_id: int, body: object, mode: str) -> dict:
    """PATCH documents/{id}: cancel (A) or mark invoiced (F); returns ``{id, status}``."""
    a = ctx.assumptions
    if not isinstance(body, dict) or any(name not in PATCH_FIELDS for name in body):
        raise invalid(next((n for n in body if n not in PATCH_FIELDS), "body") if isinstance(body, dict) else "body")
    status = body.get("status")
    if status not in ("N", "A", "F"):
        raise invalid("status")
    doc = account.document_in_mode(doc_id, str(body.get("mode") or mode))
    if doc is None:
        raise no_data(a.missing_id_message)
    if status == doc["status"]:
        return {"id": doc["id"], "status": doc["status"]}
    if doc["status"] == "A" or status == "N":
        raise invalid("status", "Não é possível alterar o estado deste documento.")
    if status == "A":
        if doc["type"] not in a.cancellable_types:
            raise invalid(
                "status",
                f"Este tipo de documento ({doc['type']}) não pode ser anulado. Emita uma nota de crédito.",
            )
        live = [account.docs[i] for i in doc["related"] if account.docs[i]["status"] != "A"]
        if doc["type"] not in ("RG", "NC") and live:
            raise invalid("status", "O documento tem documentos associados.")
        if doc["type"] == "RG":
            touched = reverse_receipt(account, doc)
        elif doc["type"] == "NC":
            touched = reverse_credit(account, doc)
        else:
            touched = []
        for other in touched:
            ctx.touch(account, "document", other)
    elif not a.allow_patch_to_f or doc["type"] not in a.invoiceable_types:
        raise invalid("status", f"Este tipo de documento ({doc['type']}) não pode ser marcado como faturado.")
    doc["status"] = status
    doc["status_date"] = ctx.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    ctx.touch(account, "document", doc)
    return {"id": doc["id"], "status": doc["status"]}

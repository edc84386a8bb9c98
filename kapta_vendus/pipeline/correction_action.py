"""The ``reissue_to_customer`` action of ``sale.customer_changed`` (see corrections.py).

Two documents, each exactly once: the NC (issuance key ``change:<store>:<change_id>:nc``) and the
new invoice (``change:<store>:<change_id>:invoice``). The NC is planned from what is still
creditable on the live invoice, so a retry asks for the NC already issued before planning again;
the new invoice is built from the quantities that NC credited. The old invoice is linked
``replaced_by`` the new one, which then is the sale's live invoice for later payments, refunds
and corrections.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from kapta_vendus.db.models import Document
from kapta_vendus.events.errors import Rejection
from kapta_vendus.pipeline import context as c
from kapta_vendus.pipeline.actions import InvoiceNotReady, _open_invoices, _record, _refresh, today
from kapta_vendus.pipeline.corrections import (
    build_reissue_payload,
    check_new_client,
    credited_rows,
    full_credit,
    reissue_type,
)
from kapta_vendus.pipeline.issuance import Expected, issue_once, previous_issuance
from kapta_vendus.pipeline.mirror import link
from kapta_vendus.pipeline.payloads import build_credit_note_payload
from kapta_vendus.pipeline.references import correction_reference
from kapta_vendus.pipeline.runner import StepContext


def reissue_to_customer(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    change = c.normalised(ctx).customer_change
    if change is None:
        raise Rejection(["reissue_to_customer applies to sale.customer_changed events only"])
    client_body = check_new_client(change)  # a bad NIF is refused before the NC is issued
    mode, client = c.mapping(ctx).mode, c.vendus(ctx)
    read_mode = mode if mode == "tests" else None
    reference = correction_reference(ctx.integration_id, change.store_id, change.sale_id, change.change_id)
    keys = {kind: f"change:{change.store_id}:{change.change_id}:{kind}" for kind in ("nc", "invoice")}
    if params.get("reason"):
        change = replace(change, reason=params["reason"])  # a rule may word the NC's reason
    invoices = _open_invoices(ctx, change.sale_id)
    earlier = previous_issuance(ctx.db, client, integration_id=ctx.integration_id, business_key=keys["nc"],
                                kind="reissue_to_customer:nc", document_type="NC", mode=mode,
                                external_reference=reference, expected=Expected(change.store_id))
    if earlier is not None:
        nc, nc_payload = earlier
        original_id = _credited_invoice(ctx, nc_payload)
    else:
        if not invoices:
            raise InvoiceNotReady(f"sale {change.sale_id} has no invoice yet")
        live = invoices[-1]
        original_id = live.vendus_id
        original = client.get_document(original_id, mode=read_mode)
        nc_payload = build_credit_note_payload(original, full_credit(change), change.reason,
                                               register_id=live.register_id, mode=mode,
                                               external_reference=reference)
        nc = issue_once(ctx.db, client, integration_id=ctx.integration_id, event_id=ctx.event_id,
                        business_key=keys["nc"], kind="reissue_to_customer:nc", payload=nc_payload, mode=mode,
                        expected=Expected(change.store_id, nc_payload.get("register_id")))
    if original_id is None:
        raise Rejection([f"sale {change.sale_id}: the credited invoice is no longer known"])
    original = client.get_document(original_id, mode=read_mode)
    number = str(original.get("number") or "")
    nc_result = _record(ctx, nc, nc_payload, sale_id=change.sale_id, relation="credited_by",
                        extra_links=(("change", f"{change.store_id}:{change.change_id}", "credited_by"),),
                        details={"original": number, "reason": nc_payload.get("notes", "")})
    document_type = reissue_type(original)
    payload = build_reissue_payload(original, credited_rows(nc_payload), client=client_body,
                                    document_type=document_type, mode=mode, today=today(ctx).isoformat(),
                                    external_reference=reference)
    issued = issue_once(ctx.db, client, integration_id=ctx.integration_id, event_id=ctx.event_id,
                        business_key=keys["invoice"], kind="reissue_to_customer:invoice", payload=payload,
                        mode=mode, expected=Expected(change.store_id, payload.get("register_id")))
    result = _record(ctx, issued, payload, sale_id=change.sale_id, relation="invoiced_by",
                     extra_links=(("change", f"{change.store_id}:{change.change_id}", "invoiced_by"),),
                     details={"replaces": number, "credit_note": nc_result["number"]})
    with ctx.db.unit_of_work() as session:
        old = next((d for d in invoices if d.vendus_id == original_id), None)
        if old is not None:
            link(session, ctx.integration_id, "document", str(old.id), "replaced_by", "document",
                 _document_row_id(session, ctx.integration_id, issued.vendus_id))
    _refresh(ctx, [original_id])
    return {**result, "kind": "reissued", "credit_note": nc_result["number"]}


def _credited_invoice(ctx: StepContext, nc_payload: dict[str, Any]) -> int | None:
    """The Vendus id of the invoice an NC we sent credits (from its rows' document number)."""
    numbers = [i["reference_document"]["document_number"] for i in nc_payload.get("items") or []
               if isinstance(i.get("reference_document"), dict)]
    if not numbers:
        return None
    with ctx.db.unit_of_work() as session:
        return session.scalar(select(Document.vendus_id).where(Document.integration_id == ctx.integration_id,
                                                               Document.number == numbers[0]))


def _document_row_id(session: Any, integration_id: str, vendus_id: int) -> str:
    row_id = session.scalar(select(Document.id).where(Document.integration_id == integration_id,
                                                      Document.vendus_id == vendus_id))
    return str(row_id)

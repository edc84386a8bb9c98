"""The billing actions of the ``actions`` step. Each is idempotent through ``issue_once``.

Business keys are the sale, the payment and the refund, never the event: two events that carry
the same sale (a POS re-sending under a new event id) end with one document.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kapta_vendus.db.models import Link
from kapta_vendus.events.errors import Rejection
from kapta_vendus.masterdata.sales import use_mapped_client
from kapta_vendus.pipeline import context as c
from kapta_vendus.pipeline.account_exemptions import CACHE as EXEMPTIONS
from kapta_vendus.pipeline.fiscal_alerts import alert_fiscal_warning
from kapta_vendus.pipeline.issuance import Expected, Issued, issue_once, previous_issuance, record_issued
from kapta_vendus.pipeline.mirror import link, linked_documents, upsert_document
from kapta_vendus.pipeline.payloads import (
    build_credit_note_payload,
    build_document,
    build_receipt_payload,
    build_sale_receipt_payload,
)
from kapta_vendus.pipeline.references import (
    credit_note_reference,
    receipt_reference,
    sale_key,
    sale_key_of_document,
    sale_reference,
)
from kapta_vendus.pipeline.runner import StepContext
from kapta_vendus.vendus import VendusError

INVOICE_TYPES = ("FT", "FR", "FS")


class InvoiceNotReady(VendusError):
    """A payment or refund arrived before its sale's invoice exists: retry later, in order."""

    retryable = True


def _mode(ctx: StepContext) -> str:
    return c.mapping(ctx).mode


def _store(ctx: StepContext) -> int:
    return c.facts(ctx).store_id


def today(ctx: StepContext) -> date:
    """The issue date: today in the store's legal time (never the sale's day, see payloads)."""
    return datetime.now(c.mapping(ctx).timezone_for(_store(ctx))).date()


def account_exemptions(ctx: StepContext) -> Any:
    client = c.vendus(ctx)
    return EXEMPTIONS.get(ctx.integration_id, client.list_tax_exemptions, ttl=ctx.settings.exemption_cache_seconds)


def _record(ctx: StepContext, issued: Issued, payload: dict[str, Any], *, sale_id: str,
            relation: str, extra_links: tuple[tuple[str, str, str], ...] = (),
            details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Mirror the issued document, link it to its sale (and any other object) and describe it.

    The description is what notifications are written from, so it carries the amount and the
    ``details`` their templates name (the invoices a receipt pays, the original and reason of a
    credit note).
    """
    reply = issued.reply
    if reply is None:
        # Known only from our issuance record (a replay): read the document itself, so that the
        # mirror is not overwritten with a guessed status and no amounts.
        mode = _mode(ctx)
        reply = c.vendus(ctx).get_document(issued.vendus_id, mode=mode if mode == "tests" else None)
    doc = {"id": issued.vendus_id, "type": issued.document_type, "number": issued.number, "status": "N",
           "date": payload.get("date"), "register_id": payload.get("register_id"),
           "external_reference": payload.get("external_reference"), **reply}
    with ctx.db.unit_of_work() as session:
        record_issued(session, issued)  # the key becomes ``issued`` with its mirror, in one commit
        row = upsert_document(session, ctx.integration_id, doc, mode=_mode(ctx), issued_here=True,
                              store_id=c.facts(ctx).store_id)
        link(session, ctx.integration_id, "sale", sale_key(_store(ctx), sale_id), relation, "document",
             str(row.id))
        for from_kind, from_key, rel in extra_links:
            link(session, ctx.integration_id, from_kind, from_key, rel, "document", str(row.id))
        amount = f"{row.amount_gross:f}"
    return {"kind": relation, "document_type": issued.document_type, "number": issued.number,
            "vendus_id": issued.vendus_id, "adopted": issued.adopted, "amount": amount, **(details or {})}


def _sale_key(ctx: StepContext, sale_id: str) -> str:
    return f"sale:{c.facts(ctx).store_id}:{sale_id}"


def issue_document(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    mapped = c.mapped_sale(ctx)
    sale = mapped.sale
    exempt = any(line.tax == "ISE" for line in sale.lines)
    built = build_document(mapped, params["document_type"], today=today(ctx), notes=params.get("notes"),
                           external_reference=sale_reference(ctx.integration_id, sale.store_id, sale.sale_id),
                           exemptions=account_exemptions(ctx) if exempt else None)
    body = use_mapped_client(ctx, built.body)  # a mapped customer is named by its Vendus client id
    issued = issue_once(ctx.db, c.vendus(ctx), integration_id=ctx.integration_id, event_id=ctx.event_id,
                        business_key=_sale_key(ctx, sale.sale_id), kind="issue_document",
                        payload=body, mode=mapped.mode,
                        expected=Expected(sale.store_id, mapped.register_id, sale.total))
    details: dict[str, Any] = {}
    if built.warnings:
        details["warnings"] = list(built.warnings)
        alert_fiscal_warning(ctx.db, ctx.integration_id, c.facts(ctx).config, number=issued.number,
                             key=f"sale:{sale.store_id}:{sale.sale_id}", warnings=built.warnings)
    if built.rounding:
        details["rounding"] = built.rounding
    return _record(ctx, issued, body, sale_id=sale.sale_id, relation="invoiced_by", details=details)


def _open_invoices(ctx: StepContext, sale_id: str) -> list[Any]:
    """The sale's invoices in status N, oldest first, without those a correction replaced."""
    with ctx.db.unit_of_work() as session:
        docs = [d for d in linked_documents(session, ctx.integration_id, "sale", sale_key(_store(ctx), sale_id),
                                            "invoiced_by", types=INVOICE_TYPES) if d.status == "N"]
        replaced = set(session.scalars(select(Link.from_key).where(
            Link.integration_id == ctx.integration_id, Link.from_kind == "document",
            Link.relation == "replaced_by", Link.from_key.in_([str(d.id) for d in docs]))))
        return [d for d in docs if str(d.id) not in replaced]


def issue_receipt(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    event = c.normalised(ctx)
    if event.sale is not None:  # the part already paid when an FT sale closed
        mapped = c.mapped_sale(ctx)
        invoices = [d for d in _open_invoices(ctx, mapped.sale.sale_id) if d.type == "FT"]
        if not invoices:
            raise InvoiceNotReady("the sale's FT is not issued yet")
        payload = build_sale_receipt_payload(
            mapped, invoices[0].number, today=today(ctx),
            external_reference=receipt_reference(ctx.integration_id, mapped.sale.store_id, mapped.sale.sale_id,
                                                 "sale"))
        paid_invoices = [invoices[0].number]
        business = _sale_key(ctx, mapped.sale.sale_id)
        sale_id, kind, extra = mapped.sale.sale_id, "issue_receipt:sale", ()
    else:
        payment = event.payment
        if payment is None:
            raise Rejection(["issue_receipt applies to sales and payment confirmations only"])
        open_invoices = _open_invoices(ctx, payment.sale_id)
        invoices = [d for d in open_invoices if d.type == "FT"]
        if not invoices and open_invoices:
            # Invoiced as an FR/FS, paid at issue: no receipt can ever follow, so retrying is futile.
            numbers = ", ".join(d.number for d in open_invoices)
            raise Rejection([f"sale {payment.sale_id} was invoiced as {numbers}, paid at issue: "
                             "there is no open invoice for this payment"])
        if not invoices:
            raise InvoiceNotReady(f"sale {payment.sale_id} has no open FT yet")
        mapping = c.mapping(ctx)
        amount = Decimal(str(params.get("amount") or payment.amount))
        # The receipt is dated the day it is issued; the payment's own day goes in its notes.
        paid_on = payment.confirmed_at.astimezone(mapping.timezone_for(event.store_id)).date()
        paid_invoices = [d.number for d in invoices]
        payload = build_receipt_payload(
            paid_invoices, amount, mapping.method_id(params.get("method") or payment.method),
            register_id=invoices[0].register_id or mapping.register_for(event.store_id), mode=mapping.mode,
            date=today(ctx), notes=f"Pagamento de {paid_on.isoformat()}",
            external_reference=receipt_reference(ctx.integration_id, event.store_id, payment.sale_id,
                                                 payment.payment_id))
        business = f"payment:{event.store_id}:{payment.payment_id}"
        sale_id, kind = payment.sale_id, "issue_receipt"
        extra = (("payment", f"{event.store_id}:{payment.payment_id}", "paid_by"),)
    amount_paid = sum((Decimal(p["amount"]) for p in payload["payments"]), Decimal(0))
    issued = issue_once(ctx.db, c.vendus(ctx), integration_id=ctx.integration_id, event_id=ctx.event_id,
                        business_key=business, kind=kind, payload=payload, mode=_mode(ctx),
                        expected=Expected(_store(ctx), payload.get("register_id"), amount_paid))
    result = _record(ctx, issued, payload, sale_id=sale_id, relation="paid_by", extra_links=extra,
                     details={"invoices": ", ".join(paid_invoices)})
    _refresh(ctx, [d.vendus_id for d in invoices])
    return result


def issue_credit_note(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    refund = c.normalised(ctx).refund
    if refund is None:
        raise Rejection(["issue_credit_note applies to sale.refunded events only"])
    mode = _mode(ctx)
    business = f"refund:{refund.store_id}:{refund.refund_id}"
    reference = credit_note_reference(ctx.integration_id, refund.store_id, refund.sale_id, refund.refund_id)
    invoices = _open_invoices(ctx, refund.sale_id)
    # The NC is planned from what is still creditable on the original, which the NC itself used
    # up: a retry or a repeated refund must find the NC already issued before planning again.
    earlier = previous_issuance(ctx.db, c.vendus(ctx), integration_id=ctx.integration_id, business_key=business,
                                kind="issue_credit_note", document_type="NC", mode=mode,
                                external_reference=reference, expected=Expected(refund.store_id))
    if earlier is not None:
        issued, payload = earlier
    else:
        if not invoices:
            raise InvoiceNotReady(f"sale {refund.sale_id} has no invoice yet")
        original = c.vendus(ctx).get_document(invoices[0].vendus_id, mode=mode if mode == "tests" else None)
        payload = build_credit_note_payload(original, refund, params.get("reason"),
                                            register_id=invoices[0].register_id, mode=mode,
                                            external_reference=reference)
        issued = issue_once(ctx.db, c.vendus(ctx), integration_id=ctx.integration_id, event_id=ctx.event_id,
                            business_key=business, kind="issue_credit_note", payload=payload, mode=mode,
                            expected=Expected(refund.store_id, payload.get("register_id")))
    originals = dict.fromkeys(item["reference_document"]["document_number"] for item in payload.get("items", [])
                              if isinstance(item.get("reference_document"), dict))
    result = _record(ctx, issued, payload, sale_id=refund.sale_id, relation="credited_by",
                     extra_links=(("refund", f"{refund.store_id}:{refund.refund_id}", "credited_by"),),
                     details={"original": ", ".join(originals), "reason": payload.get("notes", "")})
    _refresh(ctx, [invoices[0].vendus_id] if invoices else [])
    return result


def cancel_receipt(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    number = params.get("number")
    with ctx.db.unit_of_work() as session:
        sale_id = c.normalised(ctx).sale_id
        receipts = [d for d in linked_documents(session, ctx.integration_id, "sale",
                                                sale_key(_store(ctx), sale_id or ""), "paid_by",
                                                types=("RG",)) if not number or d.number == number]
    if not receipts:
        raise Rejection([f"no receipt {number or ''} to cancel for sale {sale_id}".replace("  ", " ")])
    client, mode = c.vendus(ctx), _mode(ctx)
    for receipt in receipts:
        if receipt.status != "A":  # cancelling twice is refused by Vendus; the mirror says if done
            client.cancel_document(receipt.vendus_id, mode=mode if mode == "tests" else None)
    _refresh(ctx, [r.vendus_id for r in receipts])
    return {"kind": "cancelled", "numbers": [r.number for r in receipts]}


def link_only(ctx: StepContext, params: dict[str, Any]) -> dict[str, Any]:
    """A document Vendus already has: mirror it and link it to its sale; never re-issue."""
    document = c.normalised(ctx).document
    with ctx.db.unit_of_work() as session:
        row = upsert_document(session, ctx.integration_id, dict(document.raw), mode=_mode(ctx),
                              store_id=document.store_id)
        if document.external_reference:
            key = sale_key_of_document(document.external_reference, document.store_id)
            relation = {"RG": "paid_by", "NC": "credited_by"}.get(document.type, "invoiced_by")
            link(session, ctx.integration_id, "sale", key, relation, "document", str(row.id))
        if document.invoice is not None:
            invoice = upsert_document(session, ctx.integration_id, dict(document.invoice.raw),
                                      mode=_mode(ctx), store_id=document.store_id)
            link(session, ctx.integration_id, "document", str(row.id), "finalized_as", "document",
                 str(invoice.id))
    return {"kind": "linked", "document_type": document.type, "number": document.number,
            "vendus_id": document.id}


def _refresh(ctx: StepContext, vendus_ids: list[int]) -> None:
    """Re-read documents whose debt or credit changed, so the mirror tells the truth."""
    mode = _mode(ctx)
    client = c.vendus(ctx)
    for vendus_id in vendus_ids:
        detail = client.get_document(vendus_id, mode=mode if mode == "tests" else None)
        with ctx.db.unit_of_work() as session:
            upsert_document(session, ctx.integration_id, detail, mode=mode)


EXECUTORS = {
    "issue_document": issue_document,
    "issue_receipt": issue_receipt,
    "issue_credit_note": issue_credit_note,
    "cancel_receipt": cancel_receipt,
    "link_only": link_only,
}


def _register_corrections() -> None:
    # Imported here: the correction action builds on this module's helpers.
    from kapta_vendus.masterdata.upsert import execute_upsert
    from kapta_vendus.pipeline.correction_action import reissue_to_customer

    EXECUTORS["reissue_to_customer"] = reissue_to_customer
    EXECUTORS["upsert_masterdata"] = execute_upsert


_register_corrections()

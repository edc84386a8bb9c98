"""``rules test``: what the pipeline would decide and send for an event, without calling Vendus.

It runs the same pure functions as the steps (validate, normalise, map, rules, payload builders)
on the integration's stored configuration. What only Vendus or earlier documents could tell is
read from this database (the mirror of the sale's invoices, read-only) or stated as a note; the
Vendus API is never called and nothing is written.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from kapta_vendus.db.models import Integration
from kapta_vendus.events.errors import Rejection
from kapta_vendus.events.validation import validate_event
from kapta_vendus.integrations.config import skip_reason
from kapta_vendus.pipeline.mapping import IntegrationMapping, map_sale
from kapta_vendus.pipeline.mirror import linked_documents
from kapta_vendus.pipeline.normalise import context_as_json, normalise
from kapta_vendus.pipeline.payloads import (
    build_credit_note_payload,
    build_document_payload,
    build_receipt_payload,
    build_sale_receipt_payload,
)
from kapta_vendus.pipeline.references import receipt_reference, sale_key, sale_reference
from kapta_vendus.pipeline.rules import compile_rules, event_context, plan_actions

PENDING_FT = "FT <to be issued>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return f"{value:f}" if isinstance(value, Decimal) else value


def dry_run(session: Session, integration: Integration, envelope: dict[str, Any]) -> dict[str, Any]:
    config = dict(integration.config or {})
    report: dict[str, Any] = {"event": {"id": envelope.get("id"), "type": envelope.get("type"),
                                        "store_id": envelope.get("store_id")},
                              "skipped": skip_reason(config, envelope), "rules": [], "actions": [], "rejected": []}
    if report["skipped"]:
        return report
    try:
        event = normalise(validate_event(envelope))
        mapping = IntegrationMapping.from_dict({"mode": integration.mode, **(config.get("mapping") or {})})
        rules = compile_rules(config.get("rules") or [])
        context = event_context(event, mapping)
        report["context"] = context_as_json(context)
        for rule in rules:
            applies = rule.applies_to(str(event.type))
            report["rules"].append({"name": rule.name, "applies": applies,
                                    "matches": applies and rule.matches(context), "stop": rule.stop})
        outcome = plan_actions(event, rules, mapping)
    except Rejection as exc:
        report["rejected"] = list(exc.reasons)
        return report
    report["matched"], report["used_defaults"] = outcome.matched, outcome.used_defaults
    for action in outcome.actions:
        report["actions"].append(_action(session, integration, event, mapping, str(action.kind), dict(action.params)))
    return report


def _action(session: Session, integration: Integration, event, mapping: IntegrationMapping, kind: str,
            params: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": kind, "params": _jsonable(params), "payload": None, "note": None,
                             "rejected": None}
    try:
        if kind == "issue_document":
            sale = event.sale
            entry["payload"] = build_document_payload(
                map_sale(sale, mapping), params["document_type"],
                external_reference=sale_reference(integration.id, sale.store_id, sale.sale_id))
            if any(line.tax == "ISE" for line in sale.lines):
                entry["note"] = "exemption codes and law texts are checked against the Vendus account when issued"
        elif kind == "issue_receipt":
            entry.update(_receipt(session, integration, event, mapping, params))
        elif kind == "issue_credit_note":
            entry.update(_credit_note(session, integration, event, mapping, params))
        elif kind == "link_only":
            entry["note"] = "the document already exists in Vendus: mirrored and linked, never re-issued"
        elif kind == "notify":
            entry["note"] = f"notification {params.get('template') or ''}".strip()
        else:
            entry["note"] = "acts on documents already issued; nothing is built in a dry run"
    except Rejection as exc:
        entry["rejected"] = list(exc.reasons)
    entry["payload"] = _jsonable(entry["payload"])
    return entry


def _open_invoices(session: Session, integration: Integration, store_id: int, sale_id: str) -> list[Any]:
    return [d for d in linked_documents(session, integration.id, "sale", sale_key(store_id, sale_id), "invoiced_by",
                                        types=("FT", "FR", "FS")) if d.status == "N"]


def _receipt(session, integration, event, mapping, params) -> dict[str, Any]:
    if event.sale is not None:
        mapped = map_sale(event.sale, mapping)
        return {"payload": build_sale_receipt_payload(mapped, PENDING_FT),
                "note": "settles the FT issued by the action before it"}
    payment = event.payment
    invoices = [d for d in _open_invoices(session, integration, event.store_id, payment.sale_id) if d.type == "FT"]
    numbers = [d.number for d in invoices] or [PENDING_FT]
    payload = build_receipt_payload(
        numbers, Decimal(str(params.get("amount") or payment.amount)),
        mapping.method_id(params.get("method") or payment.method),
        register_id=(invoices[0].register_id if invoices else None) or mapping.register_for(event.store_id),
        mode=mapping.mode, date=payment.confirmed_at.astimezone(mapping.timezone_for(event.store_id)).date(),
        external_reference=receipt_reference(integration.id, event.store_id, payment.sale_id, payment.payment_id))
    note = None if invoices else f"sale {payment.sale_id} has no open FT here yet: the step would wait and retry"
    return {"payload": payload, "note": note}


def _credit_note(session, integration, event, mapping, params) -> dict[str, Any]:
    refund = event.refund
    invoices = _open_invoices(session, integration, event.store_id, refund.sale_id)
    original = invoices[0].raw if invoices else None
    if not original or not original.get("items"):
        return {"note": f"needs the rows of sale {refund.sale_id}'s invoice, which only Vendus has "
                        "(not called in a dry run)"}
    return {"payload": build_credit_note_payload(original, refund, params.get("reason"),
                                                 register_id=invoices[0].register_id, mode=mapping.mode)}

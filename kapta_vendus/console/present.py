"""What the console's pages show, computed from the shared queries: the redacted payload and the sale's chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, Link
from kapta_vendus.logs import redact

# Personal data in an envelope: shown only in part, enough to recognise, not to copy.
PERSONAL = {"nif", "fiscal_id", "vat_number", "email", "phone", "mobile", "address", "postalcode", "postal_code",
            "city", "name"}


def _mask(value: Any) -> Any:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return value
    text = str(value)
    return text[:2] + "…" if len(text) > 2 else "…"


def _redacted(value: Any, inside_customer: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: (_mask(v) if inside_customer and k in PERSONAL else _redacted(v, inside_customer or k == "customer"))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, inside_customer) for v in value]
    return value


def redacted_payload(raw: str) -> str:
    """The envelope as received, pretty-printed, with the customer's personal data masked and anything
    that looks like a secret removed."""
    try:
        shown = json.dumps(_redacted(json.loads(raw)), indent=2, ensure_ascii=False)
    except ValueError:
        shown = raw[:4000]
    return redact(shown)


@dataclass(frozen=True)
class ChainLink:
    source: str  # "sale 2001 / T-1" (store / sale id), or a document number such as "FT 01P2024/3"
    relation: str
    document: Document


def sale_key_of(event: Event) -> str | None:
    """The ``from_key`` of the sale's links: ``<store>:<sale_id>`` (pipeline/references.py)."""
    kind, _, key = (event.business_key or "").partition(":")
    if kind == "sale" and key:
        return key
    try:
        data = json.loads(event.raw).get("data") or {}
    except (ValueError, AttributeError):
        return None
    sale_id = data.get("sale_id") if isinstance(data, dict) else None
    if not sale_id:
        return None
    return f"{event.store_id}:{sale_id}" if event.store_id is not None else str(sale_id)


def sale_chain(session: Session, event: Event) -> list[ChainLink]:
    """The sale's documents and what follows from them: sale → invoice → receipts, credit notes."""
    sale_key = sale_key_of(event)
    if sale_key is None:
        return []
    iid = event.integration_id
    edges = list(session.scalars(select(Link).where(
        Link.integration_id == iid, Link.from_kind == "sale", Link.from_key == sale_key,
        Link.to_kind == "document").order_by(Link.id)))
    doc_ids = {int(e.to_key) for e in edges if e.to_key.isdigit()}
    onward = list(session.scalars(select(Link).where(
        Link.integration_id == iid, Link.from_kind == "document", Link.to_kind == "document",
        or_(Link.from_key.in_([str(d) for d in doc_ids]), Link.to_key.in_([str(d) for d in doc_ids])))
        .order_by(Link.id))) if doc_ids else []
    ids = doc_ids | {int(k) for e in onward for k in (e.from_key, e.to_key) if k.isdigit()}
    docs = {d.id: d for d in session.scalars(select(Document).where(
        Document.integration_id == iid, Document.id.in_(ids)))} if ids else {}
    label = "sale " + sale_key.replace(":", " / ", 1) if ":" in sale_key else f"sale {sale_key}"
    chain = [ChainLink(label, e.relation, docs[int(e.to_key)]) for e in edges if int(e.to_key) in docs]
    for e in onward:
        source, target = docs.get(int(e.from_key)), docs.get(int(e.to_key))
        if source is not None and target is not None:
            chain.append(ChainLink(source.number, e.relation, target))
    return chain


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    from kapta_vendus.admin.overview import age_text

    return age_text(seconds)

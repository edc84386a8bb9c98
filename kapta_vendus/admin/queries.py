"""The admin API's reads. Every query filters by the integration first (guarantee 6).

Events are found by what operators have in hand: the envelope id or sale id a POS shows, a
document's external reference, or the number printed on a document. Documents reach their events
through the issuance that created them (``issuances.event_id``) and through the links from a sale
(or the document itself, for polled documents) to the document.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import (
    Document,
    Event,
    IntegrationStore,
    Issuance,
    Link,
    ReconciliationRun,
    StepRun,
)
from kapta_vendus.pipeline.references import sale_reference


def _page(session: Session, query: Select, page: int, page_size: int) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.offset((page - 1) * page_size).limit(page_size)))
    return {"items": items, "page": page, "page_size": page_size, "total": total}


def _document_event_keys(session: Session, integration_id: str, condition) -> tuple[set[str], set[int]]:
    """Business keys and event ids that lead to the documents matching ``condition``."""
    docs = session.execute(select(Document.id, Document.vendus_id, Document.number).where(
        Document.integration_id == integration_id, condition)).all()
    keys = {f"document:{vendus_id}" for _, vendus_id, _ in docs}
    if docs:
        keys |= {f"{kind}:{key}" for kind, key in session.execute(select(Link.from_kind, Link.from_key).where(
            Link.integration_id == integration_id, Link.to_kind == "document",
            Link.to_key.in_([str(doc_id) for doc_id, _, _ in docs])))}
    vendus_ids = [vendus_id for _, vendus_id, _ in docs]
    event_ids = set(session.scalars(select(Issuance.event_id).where(
        Issuance.integration_id == integration_id, Issuance.event_id.is_not(None),
        Issuance.vendus_id.in_(vendus_ids)))) if vendus_ids else set()
    return keys, event_ids


def search_events(session: Session, integration_id: str, args: dict[str, Any]) -> dict[str, Any]:
    query = select(Event).where(Event.integration_id == integration_id)
    for name, column in (("store_id", Event.store_id), ("type", Event.type), ("status", Event.status)):
        if args.get(name) is not None:
            query = query.where(column == args[name])
    if args.get("received_from"):
        query = query.where(Event.received_at >= args["received_from"])
    if args.get("received_to"):
        query = query.where(Event.received_at < args["received_to"])
    if args.get("external_reference"):
        ref = args["external_reference"]
        # A sale id is also found through our references and keys, which name the store.
        stores = list(session.scalars(select(IntegrationStore.store_id).where(
            IntegrationStore.integration_id == integration_id)))
        refs = [ref, *(sale_reference(integration_id, store, ref) for store in stores)]
        keys, ids = _document_event_keys(session, integration_id, Document.external_reference.in_(refs))
        keys |= {f"sale:{ref}", f"document:{ref}", *(f"sale:{store}:{ref}" for store in stores)}
        query = query.where(or_(Event.external_id == ref, Event.business_key.in_(keys), Event.id.in_(ids)))
    if args.get("document_number"):
        number = args["document_number"]
        keys, ids = _document_event_keys(session, integration_id, Document.number == number)
        ids |= set(session.scalars(select(Issuance.event_id).where(
            Issuance.integration_id == integration_id, Issuance.document_number == number,
            Issuance.event_id.is_not(None))))
        query = query.where(or_(Event.business_key.in_(keys), Event.id.in_(ids)))
    return _page(session, query.order_by(Event.id.desc()), args["page"], args["page_size"])


def get_event(session: Session, integration_id: str, event_id: int) -> Event | None:
    return session.scalar(select(Event).where(Event.integration_id == integration_id, Event.id == event_id))


def event_relations(session: Session, event: Event) -> tuple[list[Issuance], list[Link], list[Document]]:
    """The event's issuances, the links from its business key, and every document of either.

    Shared by the admin API and ``kapta-vendus events show``.
    """
    integration_id = event.integration_id
    issuances = list(session.scalars(select(Issuance).where(
        Issuance.integration_id == integration_id, Issuance.event_id == event.id).order_by(Issuance.id)))
    links: list[Link] = []
    own: set[int] = set()
    if event.business_key:
        kind, _, key = event.business_key.partition(":")
        from_keys = {key}
        if kind == "document" and key.isdigit():
            # A polled document's key is its Vendus id; links between documents start from the mirror row.
            own = set(session.scalars(select(Document.id).where(
                Document.integration_id == integration_id, Document.vendus_id == int(key))))
            from_keys = {str(i) for i in own}
        links = list(session.scalars(select(Link).where(
            Link.integration_id == integration_id, Link.from_kind == kind,
            Link.from_key.in_(from_keys)).order_by(Link.id)))
    linked_ids = own | {int(link.to_key) for link in links if link.to_kind == "document" and link.to_key.isdigit()}
    issued_ids = [i.vendus_id for i in issuances if i.vendus_id is not None]
    documents = list(session.scalars(select(Document).where(
        Document.integration_id == integration_id,
        or_(Document.id.in_(linked_ids), Document.vendus_id.in_(issued_ids))).order_by(Document.id)))
    return issuances, links, documents


def event_detail(session: Session, event: Event) -> dict[str, Any]:
    integration_id = event.integration_id
    issuances, links, documents = event_relations(session, event)
    steps = list(session.scalars(select(StepRun).where(
        StepRun.integration_id == integration_id, StepRun.event_id == event.id).order_by(StepRun.id)))
    try:
        envelope = json.loads(event.raw)
    except ValueError:
        envelope = None
    return {**{c.name: getattr(event, c.name) for c in Event.__table__.columns}, "envelope": envelope,
            "step_runs": steps, "documents": documents, "links": links, "issuances": issuances}


def reconciliation_runs(session: Session, integration_id: str, args: dict[str, Any]) -> dict[str, Any]:
    query = select(ReconciliationRun).where(ReconciliationRun.integration_id == integration_id)
    if args.get("kind"):
        query = query.where(ReconciliationRun.kind == args["kind"])
    if args.get("status"):
        query = query.where(ReconciliationRun.status == args["status"])
    return _page(session, query.order_by(ReconciliationRun.id.desc()), args["page"], args["page_size"])

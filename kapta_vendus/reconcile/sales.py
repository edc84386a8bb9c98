"""Sales accepted here that still have no fiscal document: what drift and the deadline watchdog watch.

A sale has its document when a live FT, FS or FR is linked to it (``invoiced_by``), whoever issued
it (us, or staff in Vendus with the sale id as external reference). Sales the integration does
not take (its event selection) and sales whose rules decided to issue nothing are left out: no
document is expected from us for them. Rejected and dead sales stay in: the law still wants
their invoice, and a person has to act.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, and_, cast, exists, func, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, Link, StepRun
from kapta_vendus.reconcile.changes import INVOICE_TYPES
from kapta_vendus.reconcile.tenant import Tenant

SALE_PREFIX = "sale:"


@dataclass(frozen=True)
class OpenSale:
    event_id: int
    sale_id: str
    store_id: int | None
    status: str
    received_at: datetime
    closed_at: datetime


def _has_invoice(integration_id: str):
    return exists().where(
        Link.integration_id == integration_id, Link.from_kind == "sale",
        Link.from_key == func.substr(Event.business_key, len(SALE_PREFIX) + 1), Link.relation == "invoiced_by",
        Link.to_kind == "document",
        exists().where(and_(Document.id == cast(Link.to_key, BigInteger), Document.type.in_(INVOICE_TYPES),
                            Document.status != "A")))


def sales_without_document(session: Session, tenant: Tenant, *, received_after: datetime,
                           received_before: datetime, limit: int = 1000) -> list[OpenSale]:
    rows = session.execute(
        select(Event.id, Event.business_key, Event.store_id, Event.status, Event.received_at, Event.raw)
        .where(Event.integration_id == tenant.id, Event.type == "sale.completed",
               Event.business_key.like(f"{SALE_PREFIX}%"),
               Event.received_at >= received_after, Event.received_at < received_before,
               ~_has_invoice(tenant.id))
        .order_by(Event.id).limit(limit)).all()
    no_document = _decided_no_document(session, [r.id for r in rows])
    sales: dict[str, OpenSale] = {}
    for row in rows:
        key = row.business_key[len(SALE_PREFIX):]  # "<store>:<sale_id>" (older rows: the sale id)
        store, _, bare = key.partition(":")
        sale_id = bare if store.isdigit() and bare else key
        if row.id in no_document or key in sales or not tenant.selects("sale.completed", row.store_id):
            continue
        sales[key] = OpenSale(row.id, sale_id, row.store_id, row.status, row.received_at,
                                  _closed_at(row.raw) or row.received_at)
    return list(sales.values())


def _decided_no_document(session: Session, event_ids: list[int]) -> set[int]:
    """Events whose rules step ran and planned no document for the sale."""
    if not event_ids:
        return set()
    outputs = session.execute(select(StepRun.event_id, StepRun.output).where(
        StepRun.event_id.in_(event_ids), StepRun.step == "rules", StepRun.status == "ok")
        .order_by(StepRun.id))
    latest = dict(outputs.all())  # ordered by id: the last run of the step wins
    return {event_id for event_id, output in latest.items()
            if not any(a.get("kind") == "issue_document" for a in (output or {}).get("actions", []))}


def _closed_at(raw: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(json.loads(raw)["data"]["closed_at"]))
    except (ValueError, KeyError, TypeError):
        return None
    return value if value.tzinfo is not None else None

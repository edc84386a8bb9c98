"""The event list an operator filters, shared by `kapta-vendus events list` and the console's Events page.

Integrations are named as operators know them (a name or an id); a sale id finds the sale's own
events (its business key) and those whose envelope carries that id. Imported history is hidden
unless asked for, since it is a record of what Vendus already had, not work done here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, Integration

STATUSES = ("received", "in_flight", "waiting", "done", "rejected", "dead", "imported")
SOURCES = ("push", "poll", "import")
CSV_COLUMNS = ("id", "integration", "type", "status", "source", "store_id", "business_key", "external_id",
               "current_step", "attempts", "received_at", "finished_at", "last_error")


@dataclass(frozen=True)
class EventFilter:
    integration_ids: tuple[str, ...] | None = None  # None: every integration the caller may see
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    stores: tuple[int, ...] = ()
    sources: tuple[str, ...] = ()
    received_from: datetime | None = None
    received_to: datetime | None = None
    sale_id: str | None = None
    include_imported: bool = False


def integration_ids_for(session: Session, refs: Iterable[str]) -> tuple[str, ...]:
    """Ids of integrations given by name or id; a LookupError names the first unknown one."""
    out = []
    for ref in refs:
        found = session.scalar(select(Integration.id).where(or_(Integration.id == ref[:36], Integration.name == ref)))
        if found is None:
            raise LookupError(f"no integration {ref!r}")
        out.append(found)
    return tuple(out)


def filtered(f: EventFilter) -> Select:
    query = select(Event, Integration.name).join(Integration, Integration.id == Event.integration_id)
    if f.integration_ids is not None:
        query = query.where(Event.integration_id.in_(f.integration_ids))
    if f.statuses:
        query = query.where(Event.status.in_(f.statuses))
    elif not f.include_imported:
        query = query.where(Event.status != "imported")
    for values, column in ((f.types, Event.type), (f.stores, Event.store_id), (f.sources, Event.source)):
        if values:
            query = query.where(column.in_(values))
    if f.received_from:
        query = query.where(Event.received_at >= f.received_from)
    if f.received_to:
        query = query.where(Event.received_at < f.received_to)
    if f.sale_id:
        # Sales, payments and refunds carry the sale as their business key (``sale:<store>:<id>``, or
        # ``sale:<id>`` before stores were part of it); a polled document names it at the end of its
        # external reference (``kv<tag>:<store>:<id>``), inside the raw body.
        sale = f.sale_id
        query = query.where(or_(
            Event.business_key == f"sale:{sale}",
            Event.business_key.startswith("sale:") & Event.business_key.endswith(f":{sale}", autoescape=True),
            Event.external_id == sale,
            Event.raw.contains(f'"{sale}"', autoescape=True), Event.raw.contains(f':{sale}"', autoescape=True)))
    return query.order_by(Event.id.desc())


def page(session: Session, f: EventFilter, page_number: int = 1, page_size: int = 50) -> dict[str, Any]:
    query = filtered(f)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.execute(query.offset((page_number - 1) * page_size).limit(page_size)).all()
    return {"items": [summary(event, name) for event, name in rows], "page": page_number,
            "page_size": page_size, "total": total}


def summary(e: Event, integration_name: str) -> dict[str, Any]:
    return {"id": e.id, "integration_id": e.integration_id, "integration": integration_name, "type": e.type,
            "status": e.status, "source": e.source, "external_id": e.external_id, "business_key": e.business_key,
            "store_id": e.store_id, "current_step": e.current_step, "attempts": e.attempts,
            "received_at": e.received_at.isoformat(),
            "finished_at": e.finished_at.isoformat() if e.finished_at else None, "last_error": e.last_error}


def as_csv(rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it out (CSV injection).
        writer.writerow({k: ("'" + v if isinstance(v, str) and v[:1] in "=+-@" else v) for k, v in row.items()})
    return out.getvalue()

"""Poll one store of one integration: Vendus changes → inbox events, exactly once.

Vendus has no document webhooks, so this is the backbone (beat runs it per store; the
``reconcile`` command runs the same function). One poll:

1. lists ``documents/?store_id=&since=<cursor day - overlap>`` lazily, page by page;
2. skips every row whose fingerprint (computed from the list row) matches the mirror, so an idle
   store costs one request per poll whatever its history;
3. for a new or changed document that becomes an event, fetches its detail (events carry the
   detail shape), stores the event under ``vendus:<id>:<status>`` (the key a push of the same change
   gets) and mirrors the document, all in the page's transaction;
4. advances the cursor in that same transaction, so it never runs ahead of committed events,
   and enqueues the new events only after the commit.

An idle poll (nothing new or changed) writes nothing at all: no run row, no cursor update; it
bumps the idle-poll counter instead (``reconcile.idle``). Its reads are the cursor and the page's
fingerprints, and the integration comes from the worker's cache (``integrations.cache``).

Documents this integration issued itself are mirrored and linked, never turned into
"created" events; the chain would only link them anyway (``link_only``), never re-issue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Document, Issuance, SyncCursor, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.events.catalogue import EventType
from kapta_vendus.integrations.cache import integration_view
from kapta_vendus.integrations.clients import client_for_view
from kapta_vendus.integrations.service import IntegrationNotFound, get_integration
from kapta_vendus.logs import bind
from kapta_vendus.pipeline.inbox import store_event
from kapta_vendus.pipeline.mirror import fingerprint, link, upsert_document
from kapta_vendus.pipeline.references import sale_key_of_document
from kapta_vendus.reconcile.catalog_changes import poll_catalog
from kapta_vendus.reconcile.changes import (
    CREATION_EVENTS,
    INVOICE_TYPES,
    Change,
    Known,
    classify,
    document_envelope,
    jsonable,
    sale_envelope,
    status_of,
    type_of,
)
from kapta_vendus.reconcile.dbutil import dialect_insert
from kapta_vendus.reconcile.idle import count_idle
from kapta_vendus.reconcile.locks import lock_name, store_lock
from kapta_vendus.reconcile.policy import DEFAULT_POLICY, ReconcilePolicy
from kapta_vendus.reconcile.runs import RunLog, run_if_anything
from kapta_vendus.reconcile.tenant import Tenant, tenant_from
from kapta_vendus.vendus import VendusClient, VendusNotFound

log = logging.getLogger(__name__)

RESOURCE = "documents"
Enqueue = Callable[[int], None]


@dataclass
class PollResult:
    integration_id: str
    store_id: int
    skipped: bool = False  # another poll of this store held the lock
    run_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"integration_id": self.integration_id, "store_id": self.store_id, "skipped": self.skipped,
                "run_id": self.run_id, "counts": dict(self.counts)}


@dataclass
class _Pending:
    row: Mapping[str, Any]
    change: Change
    known: Known | None
    detail: Mapping[str, Any] | None = None
    invoice: Mapping[str, Any] | None = None


def poll_store(db: Database, settings: Settings, integration_id: str, store_id: int, *, enqueue: Enqueue,
               policy: ReconcilePolicy = DEFAULT_POLICY, client: VendusClient | None = None,
               now: datetime | None = None) -> PollResult:
    """Poll one store now. Returns skipped=True (and does nothing) if a poll of it is running."""
    bind(integration=integration_id, store=store_id)  # on every log line and Vendus metric of the poll
    tenant, cached_client = _tenant(db, settings, integration_id)
    if store_id not in tenant.store_ids:
        raise ValueError(f"store {store_id} is not a store of integration {tenant.name}")
    client = client or cached_client
    result = PollResult(integration_id, store_id)
    with store_lock(settings, db, lock_name(integration_id, store_id)) as held:
        if not held:
            log.info("poll of %s/%s skipped: another poll of the store is running", integration_id, store_id)
            result.skipped = True
            return result
        try:
            with run_if_anything(db, integration_id, "poll", store_id, idle=_idle,
                                 on_idle=lambda: count_idle(settings, integration_id)) as run:
                try:
                    _poll(db, tenant, store_id, client, run, policy, enqueue, now or utcnow())
                    run.counts.update(poll_catalog(db, tenant, store_id, client, enqueue, now))  # clients, products
                finally:
                    result.counts = dict(run.counts)
        finally:
            result.run_id = run.run_id or None
    return result


_TENANTS: dict[tuple[str, object], Tenant] = {}


def _tenant(db: Database, settings: Settings, integration_id: str) -> tuple[Tenant, VendusClient]:
    """The integration as the poller needs it, rebuilt only when the row changed (integrations.cache)."""
    with db.unit_of_work() as session:
        view = integration_view(session, integration_id)
        if view is None:
            raise IntegrationNotFound(integration_id)
        key = (integration_id, view.updated_at)
        tenant = _TENANTS.get(key)
        if tenant is None:
            tenant = tenant_from(get_integration(session, integration_id))
            for stale in [k for k in _TENANTS if k[0] == integration_id]:
                _TENANTS.pop(stale, None)
            _TENANTS[key] = tenant
    return tenant, client_for_view(settings, view)


def _idle(run: RunLog) -> bool:
    """Nothing new, changed, waiting or unmapped, and no page past the first: nothing to record."""
    return not any(run.counts.get(k) for k in ("new", "changed", "events", "duplicates", "waiting", "unmapped",
                                               "own_documents", "cursor_moved", "clients", "products"))


def _poll(db: Database, tenant: Tenant, store_id: int, client: VendusClient, run: RunLog,
          policy: ReconcilePolicy, enqueue: Enqueue, now: datetime) -> None:
    cursor = _cursor_date(db, tenant.id, store_id)
    since = (cursor - timedelta(days=policy.overlap_days) if cursor is not None
             else tenant.local_date(store_id, now) - timedelta(days=policy.first_poll_days))
    run.note({"since": since.isoformat()})
    for key in ("listed", "unchanged", "new", "changed", "events", "duplicates", "details"):
        run.counts.setdefault(key, 0)
    pages = client.iter_document_pages(store_id=store_id, since=since, per_page=policy.per_page,
                                       mode=tenant.api_mode)
    for page in pages:
        run.add("pages")
        run.add("listed", len(page.items))
        _apply_page(db, tenant, store_id, client, page.items, run, enqueue, now, page.page, cursor)


def _apply_page(db: Database, tenant: Tenant, store_id: int, client: VendusClient, rows: list[dict[str, Any]],
                run: RunLog, enqueue: Enqueue, now: datetime, page_number: int, cursor: date | None) -> None:
    with db.unit_of_work() as session:
        known = _known(session, tenant, [int(r["id"]) for r in rows])
    pending = []
    for row in rows:  # most rows of most polls: unchanged, decided on the list row alone
        seen = known.get(int(row["id"]))
        change = classify(row, seen, sale_sources=tenant.sale_sources)
        if change.kind == "unchanged":
            run.add("unchanged")
            continue
        run.add(change.kind)
        pending.append(_Pending(row, change, seen))
    for item in pending:  # HTTP before the write transaction: no transaction waits on Vendus
        if item.change.needs_detail:
            item.detail = _detail(client, tenant, item.row, run)
            if item.change.event_type is EventType.INVOICE_FINALIZED:
                item.invoice = _finalized_as(db, client, tenant, item.detail or item.row, run)
    if not pending and not _moves_cursor(rows, cursor):
        return  # an idle page: nothing to write
    with db.unit_of_work() as session:
        ours = _issued_here(session, tenant.id, store_id, [p.row for p in pending])
        for item in pending:
            _record_change(session, tenant, store_id, item, ours, run, enqueue, now)
        _advance_cursor(session, tenant.id, store_id, rows, page_number, now)
        run.add("cursor_moved")


def _moves_cursor(rows: list[dict[str, Any]], cursor: date | None) -> bool:
    latest = max((str(r["date"])[:10] for r in rows if r.get("date")), default=None)
    return latest is not None and (cursor is None or latest > cursor.isoformat())


def _known(session, tenant: Tenant, ids: list[int]) -> dict[int, Known]:
    if not ids:
        return {}
    rows = session.execute(select(Document.vendus_id, Document.fingerprint, Document.status, Document.issued_here)
                           .where(Document.integration_id == tenant.id, Document.mode == tenant.mode,
                                  Document.vendus_id.in_(ids)))
    return {int(v): Known(fp, status, bool(own)) for v, fp, status, own in rows}


def _detail(client: VendusClient, tenant: Tenant, row: Mapping[str, Any], run: RunLog) -> Mapping[str, Any] | None:
    run.add("details")
    try:
        return client.get_document(row["id"], mode=tenant.api_mode)
    except VendusNotFound:  # listed a moment ago: the row itself is the best shape we have
        return None


def _finalized_as(db: Database, client: VendusClient, tenant: Tenant, doc: Mapping[str, Any],
                  run: RunLog) -> Mapping[str, Any] | None:
    """The invoice a PF/OT/EC/DC became: its related documents, else the invoice sharing its reference."""
    for related in doc.get("related_docs") or []:
        if type_of(related) in INVOICE_TYPES and status_of(related) != "A":
            run.add("details")
            try:
                return client.get_document(related["id"], mode=tenant.api_mode)
            except VendusNotFound:
                continue
    reference = str(doc.get("external_reference") or "").strip()
    if not reference:
        return None
    with db.unit_of_work() as session:
        raw = session.scalar(select(Document.raw).where(
            Document.integration_id == tenant.id, Document.mode == tenant.mode,
            Document.external_reference == reference, Document.type.in_(INVOICE_TYPES), Document.status != "A")
            .order_by(Document.vendus_id).limit(1))
    if raw:
        return raw
    run.add("lookups")
    found = [d for d in client.find_documents_by_external_reference(reference, mode=tenant.api_mode)
             if type_of(d) in INVOICE_TYPES and status_of(d) != "A"]
    return found[0] if found else None


def _issued_here(session, integration_id: str, store_id: int, rows: Iterable[Mapping[str, Any]]) -> set[int]:
    """Vendus ids of listed documents this integration issued (or is issuing right now)."""
    rows = list(rows)
    ids = [int(r["id"]) for r in rows]
    if not ids:
        return set()
    ours = {int(v) for v in session.scalars(select(Issuance.vendus_id).where(
        Issuance.integration_id == integration_id, Issuance.vendus_id.in_(ids)))}
    # An invoice whose issuance is still waiting for its answer: the sale's business key tells.
    by_key = {f"sale:{sale_key_of_document(str(r['external_reference']), store_id)}": int(r["id"])
              for r in rows if type_of(r) in INVOICE_TYPES and r.get("external_reference")}
    if by_key:
        waiting = session.scalars(select(Issuance.business_key).where(
            Issuance.integration_id == integration_id, Issuance.kind == "issue_document",
            Issuance.vendus_id.is_(None), Issuance.business_key.in_(list(by_key))))
        ours.update(by_key[key] for key in waiting)
    return ours


def _record_change(session, tenant: Tenant, store_id: int, item: _Pending, ours: set[int], run: RunLog,
                   enqueue: Enqueue, now: datetime) -> None:
    row, change = item.row, item.change
    own = (item.known is not None and item.known.issued_here) or int(row["id"]) in ours
    doc = jsonable({**row, **(item.detail or {})})
    mirrored = upsert_document(session, tenant.id, doc, mode=tenant.mode, issued_here=own, store_id=store_id)
    mirrored.fingerprint = fingerprint(dict(row))  # what the next poll compares: the list row's view
    if change.unmapped:
        run.add("unmapped")
        run.note({"unmapped": change.unmapped, "id": row["id"], "number": row.get("number")})
    event_type = change.event_type
    if event_type is None:
        return
    if own and event_type in CREATION_EVENTS:
        run.add("own_documents")
        _link_own(session, tenant.id, doc, mirrored.id)
        return
    source = item.detail or row
    if event_type is EventType.SALE_COMPLETED:
        envelope, key = sale_envelope(source, store_id, now=now, method_names=tenant.method_names())
    elif event_type is EventType.INVOICE_FINALIZED and item.invoice is None:
        # Not emitted yet: retried by the next polls while the document is in their window.
        mirrored.fingerprint = None
        run.add("waiting")
        run.note({"waiting": "finalized, but the invoice it became is not found yet", "id": row["id"],
                  "number": row.get("number")})
        return
    else:
        envelope, key = document_envelope(event_type, source, store_id, now=now, invoice=item.invoice)
    stored = store_event(session, tenant.id, source="poll", envelope=envelope, dedup_key=key)
    if stored.created:
        run.add("events")
        on_commit(session, lambda event_id=stored.event_id: enqueue(event_id))
    else:
        run.add("duplicates")  # pushed (or polled) before: the same change is one event


def _link_own(session, integration_id: str, doc: Mapping[str, Any], row_id: int) -> None:
    reference = str(doc.get("external_reference") or "").strip()
    if reference:
        relation = {"RG": "paid_by", "NC": "credited_by"}.get(type_of(doc), "invoiced_by")
        key = sale_key_of_document(reference, _int_or_none(doc.get("store_id")))
        link(session, integration_id, "sale", key, relation, "document", str(row_id))


def _cursor_date(db: Database, integration_id: str, store_id: int) -> date | None:
    """Read only: the cursor row is created by the first poll that has something to write."""
    with db.unit_of_work() as session:
        return session.scalar(select(SyncCursor.cursor_date).where(
            SyncCursor.integration_id == integration_id, SyncCursor.store_id == store_id,
            SyncCursor.resource == RESOURCE))


def _advance_cursor(session, integration_id: str, store_id: int, rows: list[dict[str, Any]], page: int,
                    now: datetime) -> None:
    session.execute(dialect_insert(session, SyncCursor).values(
        integration_id=integration_id, store_id=store_id, resource=RESOURCE, position={},
        updated_at=utcnow()).on_conflict_do_nothing())
    cursor = session.scalar(select(SyncCursor).where(
        SyncCursor.integration_id == integration_id, SyncCursor.store_id == store_id,
        SyncCursor.resource == RESOURCE))
    dates = [date.fromisoformat(str(r["date"])[:10]) for r in rows if r.get("date")]
    if dates and (cursor.cursor_date is None or max(dates) > cursor.cursor_date):
        cursor.cursor_date = max(dates)
    cursor.position = {"page": page, "last_id": max((int(r["id"]) for r in rows), default=None),
                       "polled_at": now.isoformat()}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None

"""Historical import: stream an account's documents into the mirror, links and inbox, never billing.

Per store, pages of ``documents/?store_id=&since=&until=`` are read ahead (``PageReader``) and
each is written in one transaction: the mirror rows (upserted in bulk), the links to their sales
(by external reference, as ``link_only`` makes them) and one inbox event per document, recorded
``imported`` so no chain ever runs for it (rules run only on an explicit replay). The same
transaction stores the checkpoint (``SyncCursor`` ``import:documents``): a re-run with the same
window continues after the last committed page, and rows at or below the checkpoint's last id
are skipped, so an interrupted import ends with no duplicates and no gaps.

Memory stays flat: nothing is kept across pages but counters. The events carry the list-row
shape (a detail per document would multiply the requests by the page size).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from kapta_vendus.config import Settings
from kapta_vendus.db.models import SyncCursor, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.events.catalogue import EventType, polled_dedup_key
from kapta_vendus.integrations.service import get_integration
from kapta_vendus.pipeline.mirror import fingerprint
from kapta_vendus.pipeline.references import sale_key_of_document
from kapta_vendus.reconcile.bulk import PagePlan, write_page
from kapta_vendus.reconcile.changes import classify, occurred_at, plain, status_of, type_of
from kapta_vendus.reconcile.dbutil import dialect_insert
from kapta_vendus.reconcile.pages import PageReader
from kapta_vendus.reconcile.runs import recorded_run
from kapta_vendus.reconcile.tenant import Tenant, tenant_from, vendus_client
from kapta_vendus.vendus import VendusClient

RESOURCE = "import:documents"
Progress = Callable[[int, int | None], None]  # (documents imported so far, across runs; total announced)


@dataclass
class ImportReport:
    store_id: int
    since: date
    until: date | None
    complete: bool = False
    resumed_from_page: int = 0
    pages: int = 0  # this run
    documents: int = 0  # this run
    events_created: int = 0  # this run
    total: int | None = None  # announced by Vendus
    by_type_status: Counter[str] = field(default_factory=Counter)  # the whole import, across runs
    unmapped: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    rate_limited: int = 0

    @property
    def per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"store_id": self.store_id, "since": self.since.isoformat(),
                "until": self.until.isoformat() if self.until else None, "complete": self.complete,
                "resumed_from_page": self.resumed_from_page, "pages": self.pages, "documents": self.documents,
                "events_created": self.events_created, "total": self.total,
                "by_type_status": dict(self.by_type_status), "unmapped": dict(self.unmapped),
                "seconds": round(self.seconds, 3), "documents_per_second": round(self.per_second, 1),
                "rate_limited": self.rate_limited}


def window_resource(since: date) -> str:
    """The checkpoint of one date window of a windowed (Celery) import."""
    return f"{RESOURCE}:{since.isoformat()}"


def date_windows(first: date, last: date, days: int) -> list[tuple[date, date]]:
    """[first, last] cut into consecutive inclusive windows of at most ``days`` days."""
    windows, start = [], first
    while start <= last:
        stop = min(start + timedelta(days=days - 1), last)
        windows.append((start, stop))
        start = stop + timedelta(days=1)
    return windows


def import_documents(db: Database, settings: Settings, integration_id: str, store_id: int, *, since: date,
                     until: date | None = None, client: VendusClient | None = None, per_page: int = 1000,
                     resource: str = RESOURCE, progress: Progress | None = None, restart: bool = False,
                     time_budget: float | None = None, max_pages: int | None = None) -> ImportReport:
    """Import one store's documents dated ``since``..``until`` (inclusive); resumable.

    ``time_budget`` (seconds) and ``max_pages`` end the run early after a committed page, with
    ``complete=False``: the next run continues from there (a Celery window re-enqueues itself).
    """
    with db.unit_of_work() as session:
        tenant = tenant_from(get_integration(session, integration_id))
        if store_id not in tenant.store_ids:
            raise ValueError(f"store {store_id} is not a store of integration {tenant.name}")
        client = client or vendus_client(session, settings, integration_id)
    window = {"since": since.isoformat(), "until": until.isoformat() if until else None, "per_page": per_page}
    checkpoint = _checkpoint(db, tenant.id, store_id, resource, window, restart)
    report = ImportReport(store_id, since, until, resumed_from_page=checkpoint.get("page", 0),
                          total=checkpoint.get("total"), by_type_status=Counter(checkpoint.get("counts", {})),
                          unmapped=Counter(checkpoint.get("unmapped", {})))
    if progress and report.resumed_from_page:
        progress(sum(report.by_type_status.values()), report.total)
    if checkpoint.get("done"):
        report.complete = True
        return report
    started = time.monotonic()
    first_id = int(checkpoint.get("last_id") or 0)
    last_id = first_id
    filters = {"store_id": store_id, "since": since, "until": until, "mode": tenant.api_mode}

    def plan(page):  # in the reader thread: rows at or below the checkpoint were written already
        rows = [r for r in page.items if int(r["id"]) > first_id]
        return page, plan_page(tenant, store_id, rows)

    reader = PageReader(client, filters, start_page=report.resumed_from_page + 1, per_page=per_page, transform=plan)
    with recorded_run(db, tenant.id, "import", store_id) as run:
        run.note({"window": window, "resumed_from_page": report.resumed_from_page})
        try:
            for page, page_plan in reader:
                report.total = page.total if page.total is not None else report.total
                last_id = max(last_id, page_plan.last_id)
                with db.unit_of_work() as session:
                    created = write_page(session, page_plan)
                    counts, unmapped = report.by_type_status + page_plan.counts, report.unmapped + page_plan.unmapped
                    _save(session, tenant.id, store_id, resource, {
                        **window, "page": page.page, "last_id": last_id, "total": report.total,
                        "counts": dict(counts), "unmapped": dict(unmapped), "done": False})
                report.by_type_status, report.unmapped = counts, unmapped
                report.events_created += created
                report.pages += 1
                report.documents += page_plan.size
                if progress:
                    progress(sum(report.by_type_status.values()), report.total)
                if (max_pages and report.pages >= max_pages) or (
                        time_budget is not None and time.monotonic() - started > time_budget):
                    break
            else:
                report.complete = True
                with db.unit_of_work() as session:
                    _save(session, tenant.id, store_id, resource, {
                        **window, "page": report.resumed_from_page + report.pages, "last_id": last_id,
                        "total": report.total, "counts": dict(report.by_type_status),
                        "unmapped": dict(report.unmapped), "done": True}, cursor_date=until)
        finally:
            reader.close()
            report.seconds = time.monotonic() - started
            report.rate_limited = reader.rate_limited
            run.counts.update({"pages": report.pages, "documents": report.documents,
                               "events_created": report.events_created, "complete": report.complete,
                               "by_type_status": dict(report.by_type_status), "unmapped": dict(report.unmapped)})
    return report


def _checkpoint(db: Database, integration_id: str, store_id: int, resource: str, window: dict[str, Any],
                restart: bool) -> dict[str, Any]:
    with db.unit_of_work() as session:
        row = session.scalar(select(SyncCursor).where(
            SyncCursor.integration_id == integration_id, SyncCursor.store_id == store_id,
            SyncCursor.resource == resource))
        position = dict(row.position or {}) if row is not None else {}
    same = all(position.get(k) == v for k, v in window.items())
    return position if position and same and not restart else {}


def _save(session, integration_id: str, store_id: int, resource: str, position: dict[str, Any],
          cursor_date: date | None = None) -> None:
    stmt = dialect_insert(session, SyncCursor).values(
        integration_id=integration_id, store_id=store_id, resource=resource, position=position,
        cursor_date=cursor_date, updated_at=utcnow())
    session.execute(stmt.on_conflict_do_update(
        index_elements=["integration_id", "store_id", "resource"],
        set_={"position": stmt.excluded.position, "cursor_date": stmt.excluded.cursor_date,
              "updated_at": stmt.excluded.updated_at}))


def plan_page(tenant: Tenant, store_id: int, rows: list[dict[str, Any]]) -> PagePlan:
    """The mirror rows, links and imported events of one page, as column arrays (no I/O)."""
    plan = PagePlan(tenant.id, tenant.mode, store_id, utcnow())
    docs, events = plan.documents, plan.events
    for row in rows:
        doc_type, status = type_of(row), status_of(row)
        plan.counts[f"{doc_type} {status}"] += 1
        plan.last_id = max(plan.last_id, int(row["id"]))
        data_json = json.dumps(row, separators=(",", ":"), default=plain)
        reference = str(row.get("external_reference") or "").strip()
        for name, value in (("vendus_id", int(row["id"])), ("type", doc_type), ("status", status),
                            ("number", str(row.get("number") or "")), ("date", _text(row.get("date"))),
                            ("store_id", int(row.get("store_id") or store_id)),
                            ("register_id", row.get("register_id") or None),
                            ("amount_gross", _text(row.get("amount_gross")) or "0.00"),
                            ("amount_net", _text(row.get("amount_net")) or "0.00"),
                            ("total_unpaid", _text(row.get("total_unpaid"))),
                            ("payment_status", row.get("payment_status") or None),
                            ("external_reference", reference or None), ("fingerprint", fingerprint(row)),
                            ("raw", data_json)):
            docs[name].append(value)
        store = int(row.get("store_id") or store_id)
        plan.sale_keys.append(sale_key_of_document(reference, store) if reference else None)
        plan.relations.append({"RG": "paid_by", "NC": "credited_by"}.get(doc_type, "invoiced_by"))
        change = classify(row, None, sale_sources=frozenset())
        if change.unmapped:
            plan.unmapped[change.unmapped] += 1
        if change.event_type is EventType.INVOICE_FINALIZED:
            # List rows do not say which invoice it became: mirrored, but no event is made for it.
            plan.unmapped[f"{doc_type} turned into an invoice (which one is not in list rows)"] += 1
        elif change.event_type is not None:
            envelope_id = f"vendus-{row['id']}-{status}"
            when = occurred_at(row, plan.now).isoformat()
            # The envelope around the row's JSON, without serialising the row a second time.
            head = json.dumps({"id": envelope_id, "type": str(change.event_type), "occurred_at": when,
                               "store_id": store_id}, separators=(",", ":"))
            for name, value in (("type", str(change.event_type)), ("dedup_key", polled_dedup_key(row["id"], status)),
                                ("external_id", envelope_id), ("business_key", f"document:{row['id']}"),
                                ("occurred_at", when), ("raw", f'{head[:-1]},"data":{data_json}}}')):
                events[name].append(value)
    return plan


def _text(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return plain(value) if isinstance(value, Decimal | date) else str(value)

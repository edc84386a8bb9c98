"""Drift: where what we hold and what Vendus holds disagree. Recorded as a ``drift`` run and notified.

Four checks, all per integration (the Vendus ones per store, over ``drift_days``, wider than
the poll's overlap so changes to older documents are seen too):

* ``no_document``: a sale accepted here with no fiscal document after the SLA;
* ``missing``: a document we issued that Vendus does not return (confirmed by a 404 on its id);
* ``status``: a document whose status here differs from Vendus's;
* ``receipt_mismatch``: for a sale's FT invoices, the receipts known here do not add up to what
  Vendus says was paid (a receipt made by hand in Vendus, a cancelled one, a lost one...).

Each finding is notified once (an ``Alert`` per finding key); every run records all it found.
Drift only reports: fixing is a person's decision (a credit note, a new invoice, a replay).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, cast, select

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Document, Link, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.service import get_integration
from kapta_vendus.reconcile import alerts
from kapta_vendus.reconcile.alerts import Finding, Sender
from kapta_vendus.reconcile.changes import status_of, type_of
from kapta_vendus.reconcile.policy import DEFAULT_POLICY, ReconcilePolicy
from kapta_vendus.reconcile.runs import RunLog, recorded_run
from kapta_vendus.reconcile.sales import sales_without_document
from kapta_vendus.reconcile.tenant import Tenant, tenant_from, vendus_client
from kapta_vendus.vendus import VendusClient, VendusNotFound

KINDS = ("no_document", "missing", "status", "receipt_mismatch")


@dataclass(frozen=True)
class Seen:
    """A document as the list shows it (kept compact: a drift window can hold many)."""

    type: str
    status: str
    gross: Decimal
    unpaid: Decimal | None


@dataclass
class DriftResult:
    run_id: int | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(self.counts.get(kind, 0) for kind in KINDS)


def detect_drift(db: Database, settings: Settings, integration_id: str, *, store_id: int | None = None,
                 policy: ReconcilePolicy = DEFAULT_POLICY, client: VendusClient | None = None,
                 now: datetime | None = None, sender: Sender | None = None) -> DriftResult:
    now = now or utcnow()
    with db.unit_of_work() as session:
        tenant = tenant_from(get_integration(session, integration_id))
        client = client or vendus_client(session, settings, integration_id)
    stores = [store_id] if store_id is not None else list(tenant.store_ids)
    result = DriftResult()
    with recorded_run(db, integration_id, "drift", store_id) as run:
        result.run_id = run.run_id
        for kind in (*KINDS, "checked", "alerted"):
            run.counts[kind] = 0
        findings = _sales_past_sla(db, tenant, policy, now, stores)
        for sid in stores:
            since = tenant.local_date(sid, now) - timedelta(days=policy.drift_days)
            listing = _listing(client, tenant, sid, since, run)
            findings += _mirror_against(db, client, tenant, sid, since, listing, run)
            findings += _receipts_against(db, tenant, listing)
        for finding in findings:
            run.add(finding.kind)
            run.note(finding.as_dict())
        result.findings = findings
        run.counts["alerted"] = _notify(db, settings, tenant, findings, sender)
        result.counts = run.counts
    return result


def _sales_past_sla(db: Database, tenant: Tenant, policy: ReconcilePolicy, now: datetime,
                    stores: list[int]) -> list[Finding]:
    with db.unit_of_work() as session:
        sales = sales_without_document(session, tenant, received_after=now - timedelta(days=policy.lookback_days),
                                       received_before=now - policy.sale_sla)
    return [Finding("no_document", f"no_document:{s.sale_id}", {
        "sale_id": s.sale_id, "store_id": s.store_id, "event_id": s.event_id, "event_status": s.status,
        "age_minutes": int((now - s.received_at).total_seconds() // 60)})
        for s in sales if s.store_id is None or s.store_id in stores]


def _listing(client: VendusClient, tenant: Tenant, store_id: int, since, run: RunLog) -> dict[int, Seen]:
    listing: dict[int, Seen] = {}
    for page in client.iter_document_pages(store_id=store_id, since=since, per_page=1000, mode=tenant.api_mode):
        run.add("requests")
        for row in page.items:
            listing[int(row["id"])] = Seen(type_of(row), status_of(row), money(row.get("amount_gross")) or Decimal(0),
                                           money(row.get("total_unpaid")))
    return listing


def money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _mirror_against(db: Database, client: VendusClient, tenant: Tenant, store_id: int, since,
                    listing: dict[int, Seen], run: RunLog) -> list[Finding]:
    with db.unit_of_work() as session:
        rows = session.execute(select(Document.vendus_id, Document.number, Document.status, Document.issued_here)
                               .where(Document.integration_id == tenant.id, Document.mode == tenant.mode,
                                      Document.store_id == store_id, Document.date >= since)).all()
    findings, mirrored = [], set()
    for vendus_id, number, ours, issued_here in rows:
        run.add("checked")
        mirrored.add(vendus_id)
        seen = listing.get(vendus_id)
        if seen is None:
            if issued_here and _gone(client, tenant, vendus_id, run):
                findings.append(Finding("missing", f"missing:{vendus_id}",
                                        {"vendus_id": vendus_id, "number": number, "store_id": store_id}))
        elif seen.status != ours:
            findings.append(Finding("status", f"status:{vendus_id}:{ours}:{seen.status}", {
                "vendus_id": vendus_id, "number": number, "ours": ours, "theirs": seen.status}))
    run.add("not_mirrored", len(listing.keys() - mirrored))
    return findings


def _gone(client: VendusClient, tenant: Tenant, vendus_id: int, run: RunLog) -> bool:
    run.add("requests")
    try:
        client.get_document(vendus_id, mode=tenant.api_mode)
    except VendusNotFound:
        return True
    return False  # it exists (dated outside the window, or moved): not drift


def _receipts_against(db: Database, tenant: Tenant, listing: dict[int, Seen]) -> list[Finding]:
    invoices = {vid: seen for vid, seen in listing.items()
                if seen.type == "FT" and seen.status != "A" and seen.unpaid is not None}
    if not invoices:
        return []
    with db.unit_of_work() as session:
        linked = session.execute(
            select(Link.from_key, Link.relation, Document.type, Document.vendus_id, Document.status,
                   Document.amount_gross)
            .join(Document, Document.id == cast(Link.to_key, BigInteger))
            .where(Link.integration_id == tenant.id, Link.from_kind == "sale", Link.to_kind == "document",
                   Link.from_key.in_(select(Link.from_key).join(Document, Document.id == cast(Link.to_key, BigInteger))
                                     .where(Link.integration_id == tenant.id, Link.from_kind == "sale",
                                            Link.relation == "invoiced_by", Document.type == "FT",
                                            Document.mode == tenant.mode,
                                            Document.vendus_id.in_(list(invoices)))))).all()
    paid: dict[str, Decimal] = defaultdict(Decimal)
    receipts: dict[str, Decimal] = defaultdict(Decimal)
    for sale_id, relation, doc_type, vendus_id, status, gross in linked:
        if relation == "invoiced_by" and doc_type == "FT" and vendus_id in invoices:
            seen = invoices[vendus_id]
            paid[sale_id] += seen.gross - seen.unpaid
        elif relation == "paid_by" and doc_type == "RG" and status != "A":
            receipts[sale_id] += Decimal(gross)
    return [Finding("receipt_mismatch", f"receipt:{sale_id}:{receipts[sale_id]}:{paid[sale_id]}", {
        "sale_id": sale_id, "receipts": f"{receipts[sale_id]:.2f}", "paid": f"{paid[sale_id]:.2f}"})
        for sale_id in sorted(paid) if paid[sale_id] != receipts[sale_id]]


def _notify(db: Database, settings: Settings, tenant: Tenant, findings: list[Finding],
            sender: Sender | None) -> int:
    fresh = alerts.claim(db, tenant.id, "drift", findings)
    if not fresh:
        return 0
    lang = alerts.language(tenant, settings.language)
    lines = "\n".join(f"- {alerts.finding_line(f, lang)}" for f in fresh[:50])
    title, body = alerts.render("drift", lang, count=len(fresh), lines=lines)
    return len(fresh) if alerts.notify(db, tenant, "drift", fresh, title, body, urgent=False, sender=sender) else 0

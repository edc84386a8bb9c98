"""Clients and products edited in the Vendus back office become ``customer.changed`` /
``product.changed`` events, so destinations can follow them.

Vendus offers no "changed since" filter for clients or products (reference/vendus-api.md §6: clients
filter by creation ``date`` and id range, products by reference, title, status…), so a change can only
be seen by comparing. Each resource has its cursor (``sync_cursors`` rows ``clients`` and
``products``) holding a short fingerprint per record id; a poll lists the resource with the largest
page (1000), so an idle poll of an account with up to 1000 clients is one call per resource. The
first poll only records the baseline: what existed before is not "a change". Account-wide
resources are polled with the integration's first store only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kapta_vendus.db.models import SyncCursor, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.pipeline.inbox import store_event
from kapta_vendus.reconcile.tenant import Tenant
from kapta_vendus.vendus import VendusClient

PER_PAGE = 1000
RESOURCES = {"clients": "customer.changed", "products": "product.changed"}
# The fields whose change is worth telling (not balances, which move with every document).
FIELDS = {"clients": ("fiscal_id", "name", "address", "postalcode", "city", "country", "email", "phone", "status",
                      "external_reference"),
          "products": ("reference", "barcode", "title", "gross_price", "tax_id", "tax_exemption", "type_id",
                       "unit_id", "status")}


def _fingerprint(resource: str, row: Mapping[str, Any]) -> str:
    values = [str(row.get(name, "")) for name in FIELDS[resource]]
    return hashlib.sha256("|".join(values).encode()).hexdigest()[:12]


def wanted(tenant: Tenant, store_id: int) -> list[str]:
    """The resources this poll watches: with the first store, and only the selected event types."""
    if not tenant.store_ids or store_id != min(tenant.store_ids):
        return []
    selected = (tenant.config.get("events") or {}).get("types")
    return [r for r, t in RESOURCES.items() if not selected or t in selected]


def poll_catalog(db: Database, tenant: Tenant, store_id: int, client: VendusClient,
                 enqueue: Callable[[int], None], now: datetime | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for resource in wanted(tenant, store_id):
        rows = _list(client, resource)
        counts[resource] = _apply(db, tenant, store_id, resource, rows, enqueue, now or utcnow())
    return counts


def _list(client: VendusClient, resource: str) -> Iterable[dict[str, Any]]:
    if resource == "clients":
        return client.list_clients(per_page=PER_PAGE)
    return client.list_products(per_page=PER_PAGE, status="all")


def _apply(db: Database, tenant: Tenant, store_id: int, resource: str, rows: Iterable[dict[str, Any]],
           enqueue: Callable[[int], None], now: datetime) -> int:
    current = {str(row["id"]): (row, _fingerprint(resource, row)) for row in rows}
    with db.unit_of_work() as session:
        cursor = session.scalar(select(SyncCursor).where(
            SyncCursor.integration_id == tenant.id, SyncCursor.store_id == store_id,
            SyncCursor.resource == resource).with_for_update())
        baseline = cursor is None
        if cursor is None:
            cursor = SyncCursor(integration_id=tenant.id, store_id=store_id, resource=resource, position={})
            session.add(cursor)
        seen = dict((cursor.position or {}).get("seen") or {})
        changed = 0
        for record_id, (row, digest) in current.items():
            if baseline or seen.get(record_id) == digest:
                continue
            event_type = RESOURCES[resource]
            envelope = {"id": f"vendus-{resource}-{record_id}-{digest}", "type": event_type,
                        "occurred_at": now.isoformat(), "store_id": store_id,
                        "data": json.loads(json.dumps(row, default=str))}
            stored = store_event(session, tenant.id, source="poll", envelope=envelope,
                                 dedup_key=f"vendus:{resource}:{record_id}:{digest}")
            if stored.created:
                changed += 1
                on_commit(session, lambda event_id=stored.event_id: enqueue(event_id))
        cursor.position = {"seen": {record_id: digest for record_id, (_, digest) in current.items()}}
    return changed

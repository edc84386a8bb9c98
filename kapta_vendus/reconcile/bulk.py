"""Writing one import page (mirror rows, sale links, imported events) in as few round trips as possible.

On PostgreSQL a page is two statements whatever its size: the columns travel as arrays and are
expanded by ``unnest`` server-side (the mirror upsert and its links in one statement, through a
CTE, then the events). Row-by-row ``executemany`` costs a server round of parse/bind/execute per
row, and a multi-row VALUES statement costs more to build in Python than to run; arrays avoid both.
Elsewhere (SQLite, the embedded default) a plain ``executemany`` is already fast: no network.

The page's transaction commits without waiting for the WAL flush (``synchronous_commit = off``):
the checkpoint is in the same transaction, so a crash can only lose whole pages together with
their checkpoint, and the next run simply imports them again.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, Link
from kapta_vendus.reconcile.dbutil import dialect_insert, is_postgresql

MIRROR_COLUMNS = ("vendus_id", "type", "number", "status", "date", "store_id", "register_id", "amount_gross",
                  "amount_net", "total_unpaid", "payment_status", "external_reference", "fingerprint", "raw")
EVENT_COLUMNS = ("type", "dedup_key", "external_id", "business_key", "occurred_at", "raw")
REFRESHED = MIRROR_COLUMNS[1:-1]  # on conflict: everything the list row says, and raw merged


@dataclass
class PagePlan:
    integration_id: str
    mode: str
    store_id: int
    now: datetime
    documents: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in MIRROR_COLUMNS})
    sale_keys: list[str | None] = field(default_factory=list)  # per document: the sale it belongs to
    relations: list[str | None] = field(default_factory=list)
    events: dict[str, list[Any]] = field(default_factory=lambda: {c: [] for c in EVENT_COLUMNS})
    counts: Counter[str] = field(default_factory=Counter)  # documents per "TYPE STATUS"
    unmapped: Counter[str] = field(default_factory=Counter)  # what could not become an event, and why
    last_id: int = 0

    @property
    def size(self) -> int:
        return len(self.documents["vendus_id"])

    @property
    def event_count(self) -> int:
        return len(self.events["dedup_key"])


def write_page(session: Session, plan: PagePlan) -> int:
    """Write the page; returns how many of its events were new."""
    if not plan.documents["vendus_id"]:
        return 0
    if is_postgresql(session):
        return _write_postgresql(session, plan)
    return _write_generic(session, plan)


# Only the constant column names above are interpolated into these two statements.
_PG_MIRROR = f"""
WITH page AS (
    SELECT * FROM unnest(%(vendus_id)b::bigint[], %(type)b::text[], %(number)b::text[], %(status)b::text[],
                         %(date)b::date[], %(store_id)b::bigint[], %(register_id)b::bigint[],
                         %(amount_gross)b::numeric[], %(amount_net)b::numeric[], %(total_unpaid)b::numeric[],
                         %(payment_status)b::text[], %(external_reference)b::text[], %(fingerprint)b::text[],
                         %(raw)b::jsonb[], %(sale_key)b::text[], %(relation)b::text[])
           AS t({", ".join(MIRROR_COLUMNS)}, sale_key, relation)
), upserted AS (
    INSERT INTO documents (integration_id, mode, issued_here, first_seen_at, updated_at, {", ".join(MIRROR_COLUMNS)})
    SELECT %(integration_id)s, %(mode)s, false, %(now)s, %(now)s, {", ".join(MIRROR_COLUMNS)} FROM page
    ON CONFLICT (integration_id, mode, vendus_id) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in REFRESHED)}, raw = documents.raw || excluded.raw,
        updated_at = excluded.updated_at
    RETURNING id, vendus_id
)
INSERT INTO links (integration_id, from_kind, from_key, relation, to_kind, to_key, created_at)
SELECT %(integration_id)s, 'sale', page.sale_key, page.relation, 'document', upserted.id::text, %(now)s
FROM upserted JOIN page ON page.vendus_id = upserted.vendus_id
WHERE page.sale_key IS NOT NULL
ON CONFLICT DO NOTHING
"""  # noqa: S608

_PG_EVENTS = f"""
INSERT INTO events (integration_id, source, status, attempts, store_id, received_at, updated_at, finished_at,
                    {", ".join(EVENT_COLUMNS)})
SELECT %(integration_id)s, 'import', 'imported', 0, %(store_id)s, %(now)s, %(now)s, %(now)s, {", ".join(EVENT_COLUMNS)}
FROM unnest(%(type)b::text[], %(dedup_key)b::text[], %(external_id)b::text[], %(business_key)b::text[],
            %(occurred_at)b::timestamptz[], %(raw)b::text[]) AS t({", ".join(EVENT_COLUMNS)})
ON CONFLICT (integration_id, dedup_key) DO NOTHING
"""  # noqa: S608


def _write_postgresql(session: Session, plan: PagePlan) -> int:
    # The driver's own cursor, on the session's connection and transaction: the arrays go in binary
    # (``%(name)b``), so JSON text is sent as it is instead of being escaped element by element.
    driver = session.connection().connection.dbapi_connection
    common = {"integration_id": plan.integration_id, "mode": plan.mode, "store_id": plan.store_id, "now": plan.now}
    with driver.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(_PG_MIRROR, {**common, **plan.documents, "sale_key": plan.sale_keys,
                                    "relation": plan.relations})
        if not plan.event_count:
            return 0
        cursor.execute(_PG_EVENTS, {**common, **plan.events})
        return max(cursor.rowcount, 0)


def _write_generic(session: Session, plan: PagePlan) -> int:
    # The plan holds what PostgreSQL casts from text; SQLAlchemy's types want Python values here.
    docs = [dict(zip(MIRROR_COLUMNS, values, strict=True)) for values in zip(*plan.documents.values(), strict=True)]
    table = Document.__table__
    for doc in docs:
        doc.update(integration_id=plan.integration_id, mode=plan.mode, issued_here=False,
                   first_seen_at=plan.now, updated_at=plan.now, raw=json.loads(doc["raw"]),
                   date=date.fromisoformat(doc["date"]) if doc["date"] else None,
                   **{m: Decimal(doc[m]) if doc[m] is not None else None
                      for m in ("amount_gross", "amount_net", "total_unpaid")})
    stmt = dialect_insert(session, table)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["integration_id", "mode", "vendus_id"],
        set_={**{c: getattr(stmt.excluded, c) for c in (*REFRESHED, "updated_at")},
              "raw": func.json_patch(table.c.raw, stmt.excluded.raw)}), docs)
    ids = dict(session.execute(select(table.c.vendus_id, table.c.id).where(
        table.c.integration_id == plan.integration_id, table.c.mode == plan.mode,
        table.c.vendus_id.in_(plan.documents["vendus_id"]))).all())
    links = [{"integration_id": plan.integration_id, "from_kind": "sale", "from_key": key, "relation": relation,
              "to_kind": "document", "to_key": str(ids[vendus_id]), "created_at": plan.now}
             for vendus_id, key, relation in zip(plan.documents["vendus_id"], plan.sale_keys, plan.relations,
                                                 strict=True) if key]
    if links:
        session.execute(dialect_insert(session, Link.__table__).on_conflict_do_nothing(), links)
    if not plan.event_count:
        return 0
    events_table = Event.__table__
    existing = session.scalar(select(func.count()).select_from(events_table).where(
        events_table.c.integration_id == plan.integration_id, events_table.c.dedup_key.in_(plan.events["dedup_key"])))
    rows = [dict(zip(EVENT_COLUMNS, values, strict=True)) for values in zip(*plan.events.values(), strict=True)]
    for row in rows:
        row.update(integration_id=plan.integration_id, source="import", status="imported", attempts=0,
                   store_id=plan.store_id, received_at=plan.now, updated_at=plan.now, finished_at=plan.now,
                   occurred_at=datetime.fromisoformat(row["occurred_at"]))
    session.execute(dialect_insert(session, events_table).on_conflict_do_nothing(
        index_elements=["integration_id", "dedup_key"]), rows)
    return len(rows) - existing

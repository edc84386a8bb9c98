"""The inbox: every event, pushed or polled, lands here once per (integration, dedup key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from kapta_vendus import metrics
from kapta_vendus.db.models import Event, UTCDateTime, utcnow
from kapta_vendus.events.catalogue import dedup_key as envelope_dedup_key


@dataclass(frozen=True)
class Stored:
    event_id: int
    created: bool


def business_key_of(envelope: dict[str, Any]) -> str | None:
    # Sales, payments, refunds and corrections all name their sale: that is what ties them together.
    # Sale ids are unique per store only, so the key is ``sale:<store>:<sale_id>`` (the part after
    # ``sale:`` is the ``from_key`` of the sale's links, see pipeline/references.py).
    data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
    if data.get("sale_id"):
        store = envelope.get("store_id")
        return f"sale:{store}:{data['sale_id']}" if store is not None else f"sale:{data['sale_id']}"
    if data.get("id") is not None:
        return f"document:{data['id']}"
    return None


def _occurred_at(envelope: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(envelope.get("occurred_at")))
    except ValueError:
        return None


def store_event(session: Session, integration_id: str, *, source: str, envelope: dict[str, Any],
                raw: str | None = None, dedup_key: str | None = None,
                status: str = "received") -> Stored:
    """Insert the event unless its dedup key is already there. Never updates an existing row.

    Without an explicit ``dedup_key`` the catalogue's applies: the envelope id, except for document
    events, which are keyed by the document and its status so that push and poll collapse.
    """
    row = {
        "integration_id": integration_id,
        "source": source,
        "type": str(envelope.get("type", "")),
        "dedup_key": dedup_key or envelope_dedup_key(envelope),
        "external_id": str(envelope.get("id", "")),
        "store_id": envelope.get("store_id"),
        "business_key": business_key_of(envelope),
        "occurred_at": _occurred_at(envelope),
        "raw": raw if raw is not None else json.dumps(envelope, separators=(",", ":"), default=str),
        "status": status,
        "attempts": 0,
        "received_at": utcnow(),
        "updated_at": utcnow(),
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (dialect.insert(Event).values(**row)
            .on_conflict_do_nothing(index_elements=["integration_id", "dedup_key"])
            .returning(Event.id))
    new_id = session.execute(stmt).scalar()
    if new_id is not None:
        metrics.event_accepted(integration_id, row["type"], source)
        return Stored(new_id, True)
    existing = session.scalar(select(Event.id).where(Event.integration_id == integration_id,
                                                     Event.dedup_key == row["dedup_key"]))
    return Stored(existing, False)


# The receiver's insert, as plain SQL: one statement, no ORM unit of work and no statement compiled
# per request. PostgreSQL and SQLite (3.35+) both speak ON CONFLICT … RETURNING.
_PUSHED = text(
    "INSERT INTO events (integration_id, source, type, dedup_key, external_id, store_id, business_key, "
    "occurred_at, raw, status, attempts, received_at, updated_at) "
    "VALUES (:integration_id, 'push', :type, :dedup_key, :external_id, :store_id, :business_key, "
    ":occurred_at, :raw, 'received', 0, :now, :now) "
    "ON CONFLICT (integration_id, dedup_key) DO NOTHING RETURNING id"
).bindparams(bindparam("occurred_at", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
_EXISTING = text("SELECT id FROM events WHERE integration_id = :integration_id AND dedup_key = :dedup_key")


def store_pushed(session: Session | Connection, integration_id: str, envelope: dict[str, Any],
                 raw: str) -> Stored:
    """``store_event`` for a verified push (the receiver's hot path, on a Core connection)."""
    key = envelope_dedup_key(envelope)
    occurred = _occurred_at(envelope)
    new_id = session.execute(_PUSHED, {
        "integration_id": integration_id, "type": str(envelope.get("type", "")), "dedup_key": key,
        "external_id": str(envelope.get("id", "")), "store_id": envelope.get("store_id"),
        "business_key": business_key_of(envelope), "raw": raw, "now": utcnow(),
        "occurred_at": occurred if occurred is not None and occurred.tzinfo else None}).scalar()
    if new_id is not None:
        metrics.event_accepted(integration_id, str(envelope.get("type", "")), "push")
        return Stored(new_id, True)
    return Stored(session.execute(_EXISTING, {"integration_id": integration_id, "dedup_key": key}).scalar(), False)

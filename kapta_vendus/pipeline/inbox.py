"""The inbox: every event, pushed or polled, lands here once per (integration, dedup key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, utcnow
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
        return Stored(new_id, True)
    existing = session.scalar(select(Event.id).where(Event.integration_id == integration_id,
                                                     Event.dedup_key == row["dedup_key"]))
    return Stored(existing, False)

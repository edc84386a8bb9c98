"""Which destinations an integration's finished events go to, cached per worker process.

Every finished event asks; almost none of the answers change. So the answer is kept with the
integration's ``updated_at`` that the stage read along with its event (``integrations.cache``),
and any change of whom a destination is told (created, deleted, enabled, disabled, its event
types or stores) bumps that ``updated_at`` in the transaction that makes it (``db.sync_models``):
the next stage of any worker then reads the destinations again. Without a stamp in the transaction, it just reads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.sync_models import Destination
from kapta_vendus.integrations.cache import noted_stamp


@dataclass(frozen=True)
class ActiveDestination:
    id: int
    event_types: tuple[str, ...]
    store_ids: tuple[int, ...]


_cached: dict[str, tuple[datetime, tuple[ActiveDestination, ...]]] = {}
_lock = threading.Lock()


def active_destinations(session: Session, integration_id: str) -> tuple[ActiveDestination, ...]:
    stamp = noted_stamp(session, integration_id)
    hit = _cached.get(integration_id)
    if stamp is not None and hit is not None and hit[0] == stamp:
        return hit[1]
    found = tuple(ActiveDestination(d.id, tuple(d.event_types or ()), tuple(d.store_ids or ()))
                  for d in session.scalars(select(Destination).where(
                      Destination.integration_id == integration_id, Destination.status == "active")
                      .order_by(Destination.id)))
    if stamp is not None:
        with _lock:
            _cached[integration_id] = (stamp, found)
    return found


def forget() -> None:
    """Drop every cached answer (tests that rewrite destinations behind the ORM's back)."""
    with _lock:
        _cached.clear()

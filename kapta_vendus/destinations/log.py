"""Deliveries as operators see and handle them: the due sweep, the log, and replay of dead ones.

The sweep is a bounded beat job, safe to run concurrently: it enqueues deliveries that are due
and were not enqueued within a lease (so a backed-up queue is not flooded with duplicates).
Replaying a dead delivery keeps its ``webhook-id`` and body, so the receiver can still deduplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from kapta_vendus.config import Settings
from kapta_vendus.db.models import utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.db.sync_models import Delivery, Destination
from kapta_vendus.destinations.sender import lease_seconds

STATUSES = ("pending", "delivered", "dead")


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    webhook_id: str
    destination: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_response_excerpt: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def sweep_due(db: Database, settings: Settings, *, enqueue: Callable[[int], None], limit: int = 500,
              now: datetime | None = None) -> list[int]:
    now = now or utcnow()
    stale = now - timedelta(seconds=lease_seconds(settings))
    with db.unit_of_work() as session:
        query = (select(Delivery.id).where(Delivery.status == "pending", Delivery.next_attempt_at <= now,
                                           or_(Delivery.queued_at.is_(None), Delivery.queued_at < stale))
                 .order_by(Delivery.next_attempt_at).limit(limit))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(queued_at=now))
            on_commit(session, lambda: [enqueue(i) for i in ids])
    return ids


def list_deliveries(db: Database, integration_id: str, *, destination_id: int | None = None,
                    status: str | None = None, limit: int = 50) -> list[DeliveryRow]:
    with db.unit_of_work() as session:
        query = (select(Delivery, Destination.name).join(Destination, Destination.id == Delivery.destination_id)
                 .where(Delivery.integration_id == integration_id))
        if destination_id is not None:
            query = query.where(Delivery.destination_id == destination_id)
        if status:
            query = query.where(Delivery.status == status)
        rows = session.execute(query.order_by(Delivery.id.desc()).limit(limit)).all()
        return [DeliveryRow(d.id, d.webhook_id, name, d.event_type, d.status, d.attempts, d.last_status_code,
                            d.last_response_excerpt, d.last_error,
                            d.next_attempt_at if d.status == "pending" else None, d.created_at, d.delivered_at)
                for d, name in rows]


def replay_dead(db: Database, integration_id: str, *, delivery_ids: list[int] | None = None,
                destination_id: int | None = None, enqueue: Callable[[int], None]) -> list[int]:
    """Put dead deliveries back to pending (one by one by id, or all of a destination / integration).

    Their horizon starts again, so a replayed delivery gets the full retry period once more.
    """
    now = utcnow()
    with db.unit_of_work() as session:
        query = select(Delivery).where(Delivery.integration_id == integration_id, Delivery.status == "dead")
        if delivery_ids:
            query = query.where(Delivery.id.in_(delivery_ids))
        if destination_id is not None:
            query = query.where(Delivery.destination_id == destination_id)
        rows = list(session.scalars(query.with_for_update()))
        for row in rows:
            row.status, row.next_attempt_at, row.created_at, row.queued_at = "pending", now, now, now
        ids = [r.id for r in rows]
        if ids:
            on_commit(session, lambda: [enqueue(i) for i in ids])
    return ids

"""The inbox sweeper: nothing accepted is ever lost, even if Redis loses every message.

Bounded batches, safe to run concurrently (``FOR UPDATE SKIP LOCKED`` on PostgreSQL). An event
is picked when it is unfinished, untouched for ``KAPTA_SWEEP_GRACE`` seconds and not waiting for
a scheduled retry. Re-running a chain is harmless: every step is idempotent.

After Redis lost its data (``rebuild``), the grace is skipped: every unfinished event is enqueued
again at once, oldest first, which rebuilds the fair-scheduling waiting lines in inbox order (the
gate ranks its lines by inbox id). Parked events (``waiting``) are ``pipeline.waiting``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Event, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.pipeline.runner import task_of_step

UNFINISHED = ("received", "in_flight")


def sweep_inbox(db: Database, settings: Settings, *, enqueue, limit: int = 500,
                now: datetime | None = None, rebuild: bool = False) -> list[int]:
    now = now or utcnow()
    cutoff = now if rebuild else now - timedelta(seconds=settings.sweep_grace)
    with db.unit_of_work() as session:
        query = (select(Event.id, Event.current_step)
                 .where(Event.status.in_(UNFINISHED), Event.updated_at <= cutoff,
                        or_(Event.retry_at.is_(None), Event.retry_at < now))
                 .order_by(Event.id).limit(limit))
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        ids = [event_id for event_id, _ in rows]
        if ids:
            # Touching the rows keeps the next sweep from picking them again before the grace ends.
            session.execute(update(Event).where(Event.id.in_(ids)).values(updated_at=now))
            # Each from the stage it stopped in: a lost bill resumes at bill, not at prepare.
            starts = [(event_id, task_of_step(step)) for event_id, step in rows]
            on_commit(session, lambda: [enqueue(event_id, start_at=task) for event_id, task in starts])
    return ids

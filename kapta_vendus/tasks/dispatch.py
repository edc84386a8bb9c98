"""Enqueue work by task name, so that callers (receiver, sweeper, replay) need no task imports."""

from __future__ import annotations

from celery import chain

from kapta_vendus.tasks.app import app

# The per-event chain. Each step carries the event id only, never the payload.
PIPELINE = (
    "kapta.pipeline.validate",
    "kapta.pipeline.normalise",
    "kapta.pipeline.map",
    "kapta.pipeline.rules",
    "kapta.billing.actions",
    "kapta.pipeline.sync",
)


def pipeline_chain(event_id: int, *, start_at: str | None = None):
    steps = PIPELINE[PIPELINE.index(start_at):] if start_at else PIPELINE
    return chain(*(app.signature(name, args=(event_id,), immutable=True) for name in steps))


def enqueue_event(event_id: int, *, start_at: str | None = None) -> None:
    from kapta_vendus.integrations.fairness import admitted_for_enqueue

    # Fair scheduling: an event whose integration already has its cap of events in flight waits
    # in Redis, not in the queue, so a flood in one integration never sits in front of another's.
    if admitted_for_enqueue(event_id, start_at or PIPELINE[0], enqueue_event):
        pipeline_chain(event_id, start_at=start_at).apply_async()


def enqueue_notification(event_id: int) -> None:
    app.signature("kapta.notify.event", args=(event_id,), immutable=True).apply_async()


def enqueue_delivery(delivery_id: int) -> None:
    app.signature("kapta.outbound.deliver", args=(delivery_id,), immutable=True).apply_async()


def enqueue_email(email_id: int) -> None:
    app.signature("kapta.outbound.email", args=(email_id,), immutable=True).apply_async()

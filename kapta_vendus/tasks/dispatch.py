"""Enqueue work by task name, so that callers (receiver, sweeper, replay) need no task imports."""

from __future__ import annotations

from celery import chain

from kapta_vendus.pipeline.runner import TASKS
from kapta_vendus.tasks.app import app

# The per-event chain: three tasks (pipeline.runner's stages). Each carries the event id only.
PIPELINE = (TASKS["prepare"], TASKS["bill"], TASKS["sync"])


def pipeline_chain(event_id: int, *, start_at: str | None = None):
    steps = PIPELINE[PIPELINE.index(start_at):] if start_at else PIPELINE
    return chain(*(app.signature(name, args=(event_id,), immutable=True) for name in steps))


def enqueue_event(event_id: int, *, start_at: str | None = None, integration_id: str | None = None,
                  cap: int | None = None) -> None:
    """Admit the event once (fair scheduling) and publish its chain, or leave it in its waiting line.

    Callers that already hold the integration and its cap (the receiver) pass them, which saves
    the gate a database read. The slot is freed when the event ends (done, rejected, dead or
    parked to wait out an outage), never per step.
    """
    from kapta_vendus.integrations.fairness import admitted_for_enqueue

    if admitted_for_enqueue(event_id, start_at or PIPELINE[0], enqueue_event,
                            integration_id=integration_id, cap=cap):
        pipeline_chain(event_id, start_at=start_at).apply_async()


def enqueue_notification(event_id: int) -> None:
    app.signature("kapta.notify.event", args=(event_id,), immutable=True).apply_async()


def enqueue_resume(integration_id: str | None = None) -> None:
    app.signature("kapta.ingest.resume_waiting", args=(integration_id,), immutable=True).apply_async()


def enqueue_delivery(delivery_id: int) -> None:
    app.signature("kapta.outbound.deliver", args=(delivery_id,), immutable=True).apply_async()


def enqueue_email(email_id: int) -> None:
    app.signature("kapta.outbound.email", args=(email_id,), immutable=True).apply_async()

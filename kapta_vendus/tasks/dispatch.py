"""Enqueue work by task name, so that callers (receiver, sweeper, replay) need no task imports."""

from __future__ import annotations

from celery import chain

from kapta_vendus.pipeline.runner import TASKS
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.lanes import Lane, queue_options
from kapta_vendus.tasks.prepared import Lanes, PreparedMessage, Templates, prepare

# The per-event chain: three tasks (pipeline.runner's stages). Each carries the event id only.
PIPELINE = (TASKS["prepare"], TASKS["bill"], TASKS["sync"])


def _steps(start_at: str | None) -> tuple[str, ...]:
    return PIPELINE[PIPELINE.index(start_at):] if start_at else PIPELINE


def _signatures(event_id: int, start_at: str | None, lane: Lane) -> list:
    # Every task of the chain names its lane's queue, so the chain stays in the lane it started in
    # (and a retry too: Celery retries a task on the queue it was delivered from).
    return [app.signature(name, args=(event_id,), immutable=True, **queue_options(name, lane))
            for name in _steps(start_at)]


def pipeline_chain(event_id: int, *, start_at: str | None = None):
    """The chain as Celery publishes it, in the fast lane (when the gate did not push it itself)."""
    return chain(*_signatures(event_id, start_at, Lane.FAST))


_templates = Templates()


def first_messages(event_id: int, *, start_at: str | None = None) -> Lanes | None:
    """The chain's first message in both lanes (the gate pushes the one its integration's share calls for)."""
    fast, slow = (first_message(event_id, start_at=start_at, lane=lane) for lane in (Lane.FAST, Lane.SLOW))
    return Lanes(fast, slow) if fast is not None and slow is not None else None


def first_message(event_id: int, *, start_at: str | None = None, lane: Lane = Lane.FAST) -> PreparedMessage | None:
    """The chain's first message, ready for the gate to push with the admission (one round trip).

    The rest of the chain travels in the message as Celery's chain does it (protocol 2: the
    remaining signatures, last first), so the worker continues it exactly as a published chain.
    Celery builds it once per kind of chain; each event's is that one with its ids filled in
    (``tasks.prepared.MessageTemplate``).
    """
    return _templates.message((start_at, lane), event_id,
                              lambda sample: _celery_first_message(sample, start_at, lane), _lineage())


def _lineage() -> tuple[str | None, str | None]:
    """(parent id, root id) when sent from a running task, as Celery's ``send_task`` records them."""
    parent = app.current_worker_task
    if parent:
        return parent.request.id, parent.request.root_id or parent.request.id
    return None, None


def _celery_first_message(event_id: int, start_at: str | None, lane: Lane = Lane.FAST) -> PreparedMessage | None:
    first, *rest = _signatures(event_id, start_at, lane)
    return prepare(app, first, chain=list(reversed(rest)) or None)


def enqueue_event(event_id: int, *, start_at: str | None = None, integration_id: str | None = None,
                  cap: int | None = None) -> None:
    """Admit the event once (fair scheduling) and publish its chain, or leave it in its waiting line.

    Callers that already hold the integration and its cap (the receiver) pass them, which saves
    the gate a database read. On Redis the gate pushes the chain's first message in the script
    that admits it; otherwise (or if the message could not be prepared) it is published here. The
    slot is freed when the event ends (done, rejected, dead or parked to wait out an outage),
    never per step.
    """
    from kapta_vendus.integrations.fairness import admitted_for_enqueue

    if admitted_for_enqueue(event_id, start_at or PIPELINE[0], enqueue_event, integration_id=integration_id,
                            cap=cap, messages=lambda: first_messages(event_id, start_at=start_at)):
        pipeline_chain(event_id, start_at=start_at).apply_async()


def enqueue_notification(event_id: int) -> None:
    app.signature("kapta.notify.event", args=(event_id,), immutable=True).apply_async()


def enqueue_resume(integration_id: str | None = None) -> None:
    app.signature("kapta.ingest.resume_waiting", args=(integration_id,), immutable=True).apply_async()


def enqueue_delivery(delivery_id: int) -> None:
    app.signature("kapta.outbound.deliver", args=(delivery_id,), immutable=True).apply_async()


def enqueue_email(email_id: int) -> None:
    app.signature("kapta.outbound.email", args=(email_id,), immutable=True).apply_async()

"""Replay of dead or rejected events: from the step that failed, never issuing a document twice.

A replay puts the event back to ``received`` and enqueues its chain from the step it stopped at
(``events.current_step``), so steps that succeeded are not run again: a replay from ``sync`` never
reaches Vendus, one from ``actions`` (the ``bill`` task) executes the decision the rules step
recorded, and one from ``map`` runs ``prepare`` from ``map`` on.

Documents are protected by the issuance table (guarantee 2), not by the replay: an issuance that
is ``issued`` returns its document without a call, and one left ``sent`` looks the document up
before sending again with the same ``tx_id``. Only issuances that Vendus *refused* (``rejected``:
nothing was created) are reopened, so that fixing the cause (a mapping, a product) and replaying
can succeed; they are resent with the same ``tx_id``, which Vendus honours as at most one document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, Issuance, StepRun
from kapta_vendus.db.session import on_commit
from kapta_vendus.pipeline.runner import task_of_step
from kapta_vendus.pipeline.steps import STEPS

REPLAYABLE = ("dead", "rejected")

Enqueue = Callable[..., None]  # tasks.dispatch.enqueue_event(event_id, start_at=task)


class NotReplayable(ValueError):
    pass


@dataclass(frozen=True)
class Replay:
    event_id: int
    from_step: str


def restart_step(session: Session, event: Event) -> str:
    """The step to run again: where the event stopped, else its last failed step, else the start."""
    step = event.current_step
    if step not in STEPS:
        step = session.scalar(select(StepRun.step).where(
            StepRun.integration_id == event.integration_id, StepRun.event_id == event.id,
            StepRun.status == "failed").order_by(StepRun.id.desc()).limit(1))
    return step if step in STEPS else "validate"


def replay_event(session: Session, event: Event, enqueue: Enqueue) -> Replay:
    if event.status not in REPLAYABLE:
        raise NotReplayable(f"event {event.id} is {event.status}; only dead or rejected events are replayed")
    step = restart_step(session, event)
    session.execute(update(Issuance).where(
        Issuance.integration_id == event.integration_id, Issuance.event_id == event.id,
        Issuance.state == "rejected").values(state="pending", last_error=None))
    event.status, event.finished_at, event.retry_at, event.last_error = "received", None, None, None
    event.current_step = step  # prepare resumes at the step it names
    event_id, task = event.id, task_of_step(step)
    # Enqueued only once the reset is committed, so the first step sees the event as replayable.
    on_commit(session, lambda: enqueue(event_id, start_at=task))
    return Replay(event_id, step)


def replay_batch(session: Session, integration_id: str, filters: dict[str, Any], enqueue: Enqueue) -> list[Replay]:
    query = (select(Event).where(Event.integration_id == integration_id,
                                 Event.status.in_(filters.get("statuses") or REPLAYABLE))
             .order_by(Event.id).limit(filters.get("limit", 100)))
    if filters.get("type"):
        query = query.where(Event.type == filters["type"])
    if filters.get("store_id"):
        query = query.where(Event.store_id == filters["store_id"])
    if filters.get("received_from"):
        query = query.where(Event.received_at >= filters["received_from"])
    if filters.get("received_to"):
        query = query.where(Event.received_at < filters["received_to"])
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two operators replaying at once split the batch
    events = list(session.scalars(query))
    if filters.get("dry_run"):
        return [Replay(e.id, restart_step(session, e)) for e in events]
    return [replay_event(session, e, enqueue) for e in events]

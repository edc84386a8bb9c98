"""Runs one pipeline step for one event and accounts for it.

Every execution writes a step run (status, attempt, duration, summary, output, error). A step
re-reads its event and exits early when the event is already finished, so a redelivered or
swept task is harmless. Rejections end the event ``rejected`` and stop the chain; any other
error is recorded and re-raised for the task's retry policy, which ends the event ``dead``
when retries run out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Event, Integration, StepRun, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.destinations.outbox import record_outcome
from kapta_vendus.events.errors import Rejection
from kapta_vendus.logs import redact

log = logging.getLogger(__name__)

FINISHED = ("done", "rejected", "dead", "imported")


@dataclass
class StepResult:
    summary: str
    output: dict[str, Any] | None = None
    finish: str | None = None  # "done" to finish the event here and stop the chain


@dataclass
class StepContext:
    db: Database
    settings: Settings
    event_id: int
    integration_id: str
    attempt: int
    cache: dict[str, Any] = field(default_factory=dict)

    def step_output(self, step: str) -> dict[str, Any] | None:
        """The output of the latest successful run of an earlier step."""
        with self.db.unit_of_work() as session:
            return session.scalar(
                select(StepRun.output)
                .where(StepRun.event_id == self.event_id, StepRun.step == step, StepRun.status == "ok")
                .order_by(StepRun.id.desc()).limit(1))


@dataclass(frozen=True)
class Outcome:
    stop: bool
    summary: str


StepFn = Callable[[StepContext], StepResult]


def _error_text(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")[:2000]


def run_step(db: Database, settings: Settings, step: str, fn: StepFn, event_id: int,
             attempt: int = 1, guard: Callable[[str], AbstractContextManager] | None = None) -> Outcome:
    """Run ``fn`` for the event; ``guard(integration_id)`` wraps the call (the circuit breaker)."""
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is None:
            return Outcome(True, "event not found")
        if event.status in FINISHED:
            return Outcome(True, f"event already {event.status}")
        event.status, event.current_step, event.retry_at = "in_flight", step, None
        event.attempts += 1
        integration_id = event.integration_id
        # Every step reads these facts (context.facts): take them from the rows loaded here rather
        # than reading the event and its integration again in a transaction of their own.
        from kapta_vendus.pipeline.context import snapshot

        cache = {"facts": snapshot(event, session.get(Integration, integration_id))}

    ctx = StepContext(db, settings, event_id, integration_id, attempt, cache=cache)
    started, t0 = utcnow(), time.perf_counter()
    try:
        with guard(integration_id) if guard else nullcontext():
            result = fn(ctx)
    except Rejection as exc:
        reasons = "; ".join(exc.reasons)
        _record(db, ctx, step, started, t0, status="failed", summary="rejected", error=reasons,
                finish="rejected")
        return Outcome(True, f"rejected: {reasons}")
    except Exception as exc:
        _record(db, ctx, step, started, t0, status="failed", summary="error", error=_error_text(exc))
        raise
    _record(db, ctx, step, started, t0, status="ok", summary=result.summary, output=result.output,
            finish=result.finish)
    return Outcome(result.finish is not None, result.summary)


def _record(db: Database, ctx: StepContext, step: str, started, t0: float, *, status: str, summary: str,
            output: dict[str, Any] | None = None, error: str | None = None, finish: str | None = None) -> None:
    duration_ms = int((time.perf_counter() - t0) * 1000)
    with db.unit_of_work() as session:
        session.add(StepRun(integration_id=ctx.integration_id, event_id=ctx.event_id, step=step,
                            attempt=ctx.attempt, status=status, summary=summary[:500], output=output,
                            error=error, started_at=started, duration_ms=duration_ms))
        if error is None and finish is None:
            return  # nothing to change on the event: no need to read it
        event = session.get(Event, ctx.event_id)
        if error is not None:
            event.last_error = error
        if finish is not None and event.status not in FINISHED:
            event.status, event.finished_at = finish, utcnow()
            record_outcome(session, event)  # outbox: deliveries and emails commit with the final state
            if finish == "rejected":
                _announce(session, event)


def mark_retrying(db: Database, event_id: int, delay: float, error: BaseException) -> None:
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is not None and event.status not in FINISHED:
            event.retry_at = utcnow() + timedelta(seconds=delay)
            event.last_error = _error_text(error)


def mark_dead(db: Database, event_id: int, error: BaseException) -> None:
    """Retries exhausted (or an unexpected bug): the event stays replayable."""
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is not None and event.status not in FINISHED:
            event.status, event.finished_at = "dead", utcnow()
            event.last_error = _error_text(error)
            record_outcome(session, event)
            _announce(session, event)


def _announce(session: Session, event: Event) -> None:
    """Notify a rejected or dead event (the sync step notifies the done ones), after the commit.

    The chain stops at a rejection and a dead event never reaches sync, so without this no
    channel would ever hear of the events that need a person most.
    """
    from kapta_vendus.tasks.dispatch import enqueue_notification

    integration = session.get(Integration, event.integration_id)
    if ((integration.config or {}).get("notifications") or {}).get("channels"):
        event_id = event.id
        on_commit(session, lambda: enqueue_notification(event_id))

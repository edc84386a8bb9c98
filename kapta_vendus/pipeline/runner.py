"""Runs one stage of an event (``prepare``, ``bill`` or ``sync``) and accounts for it.

The event's logical steps are grouped in three stages, one Celery task each (ARCHITECTURE, "Why
three tasks and not six"): ``prepare`` runs validate → normalise → map → rules in one transaction,
``bill`` runs the decided billing actions through the exactly-once issuance, and ``sync`` finishes
the event. Every logical step still writes its own step run, in the transaction of the stage that
ran it, so the audit trail keeps its detail.

A stage re-reads its event and exits early when the event is already finished, so a redelivered or
swept task is harmless. A rejection ends the event ``rejected``; any other error is recorded (a
failed step run, ``last_error``) and re-raised for the task, which waits it out or retries it
(``tasks.pipeline``). A finished event clears ``last_error``: its history stays in the step runs.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from kapta_vendus import metrics
from kapta_vendus.config import Settings
from kapta_vendus.db.models import Event, Integration, StepRun, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.db.statements import insert_rows, row_parameters
from kapta_vendus.destinations.outbox import record_outcome
from kapta_vendus.events.errors import Rejection
from kapta_vendus.logs import bind, redact
from kapta_vendus.pipeline.stage import Outcome, Recorded, StepContext, StepResult

log = logging.getLogger(__name__)

FINISHED = ("done", "rejected", "dead", "imported")
# The logical steps of each stage, in order. A replay restarts at the stage of its failed step.
STAGES: dict[str, tuple[str, ...]] = {
    "prepare": ("validate", "normalise", "map", "rules"),
    "bill": ("actions",),
    "sync": ("sync",),
}
# The Celery task of each stage (tasks.pipeline); enqueue_event(start_at=...) names one of these.
TASKS = {"prepare": "kapta.pipeline.prepare", "bill": "kapta.billing.bill", "sync": "kapta.pipeline.sync"}


def stage_of(step: str) -> str:
    for stage, steps in STAGES.items():
        if step in steps:
            return stage
    raise KeyError(step)


StepFn = Callable[[StepContext], StepResult]
Guard = Callable[[str], AbstractContextManager]
__all__ = ["STAGES", "TASKS", "Outcome", "Recorded", "StepContext", "StepResult", "run_stage", "stage_of"]

# Called after the commit that finished an event (frees its fair-scheduling slot).
Finished = Callable[[str, int], None]


def error_text(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")[:2000]


def task_of_step(step: str | None) -> str:
    """The task to resume an event at, from its ``current_step`` (unknown: from the start)."""
    try:
        return TASKS[stage_of(step or "validate")]
    except KeyError:
        return TASKS["prepare"]


def _load(session: Session, event_id: int, outputs: tuple[str, ...] = ()) -> tuple[Event | None, list]:
    """The stage's event, its integration's ``updated_at`` for the cached view and, when asked, the
    successful runs of earlier steps as ``(step, output)``, oldest first: all in one query."""
    from kapta_vendus.integrations.cache import note_stamp

    rows = session.execute(_load_query(outputs), {"event_id": event_id}).all()
    if not rows:
        return None, []
    event, stamp = rows[0][0], rows[0][1]
    note_stamp(session, event.integration_id, stamp)
    return event, [(row[2], row[3]) for row in rows] if outputs else []


def load_queries() -> None:
    """Build each stage's load query now (``db.warm``: before a worker forks its pool)."""
    for wanted in ((), ("rules",), ("rules", "actions")):
        _load_query(wanted)


@functools.cache
def _load_query(outputs: tuple[str, ...]):
    """Built once per stage: constructing the statement cost as much CPU as running it."""
    query = (select(Event, Integration.updated_at).join(Integration, Integration.id == Event.integration_id)
             .where(Event.id == bindparam("event_id")))
    if outputs:  # one row per run (the event's columns repeat), or one row of NULLs when there is none
        query = (query.add_columns(StepRun.step, StepRun.output)
                 .outerjoin(StepRun, and_(StepRun.event_id == Event.id, StepRun.step.in_(outputs),
                                          StepRun.status == "ok"))
                 .order_by(StepRun.id))
    return query


def _begin(event: Event | None, event_id: int, step: str) -> tuple[Event | None, str | None]:
    """Mark the stage's event (loaded by ``_load``) in flight, unless it is gone or finished."""
    if event is None:
        return None, "event not found"
    if event.status in FINISHED:
        return event, f"event already {event.status}"
    event.status, event.current_step, event.retry_at = "in_flight", step, None
    bind(integration=event.integration_id, event_id=event_id)  # on every log line and Vendus metric of the stage
    return event, None


def run_stage(db: Database, settings: Settings, stage: str, steps: dict[str, StepFn], event_id: int, *,
              attempt: int = 1, guard: Guard | None = None, on_finished: Finished | None = None) -> Outcome:
    """Run the stage's steps; ``prepare`` resumes at the step it stopped at (a replay), see above."""
    if stage == "prepare":
        return _run_in_one_transaction(db, settings, STAGES[stage], steps, event_id, attempt, on_finished)
    return _run_around_calls(db, settings, STAGES[stage], steps, event_id, attempt, guard, on_finished)


def _run_in_one_transaction(db, settings, names, steps, event_id, attempt, on_finished) -> Outcome:
    """Pure steps: everything, step runs included, in the one transaction that loads the event.

    A replayed event resumes at the step that failed; the steps before it are pure and are simply
    recomputed (their results are cached on the context), without a second step run.
    """
    from kapta_vendus.pipeline.context import prime

    with db.unit_of_work() as session:
        event, _ = _load(session, event_id)
        stopped_at = event.current_step if event is not None else None
        names = names[names.index(stopped_at):] if stopped_at in names else names
        # The integration lookup cannot depend on the event's new status: without the autoflush it
        # would cause, the event is written once, at the commit, instead of twice.
        with session.no_autoflush:
            event, early = _begin(event, event_id, names[0])
            if early:
                return Outcome(True, early)
            ctx = StepContext(db, settings, event_id, event.integration_id, attempt, session=session)
            prime(ctx, session, event)
        summary, runs = "", []
        for name in names:
            event.current_step = name
            started, t0 = utcnow(), time.perf_counter()
            try:
                result = steps[name](ctx)
            except Rejection as exc:
                reasons = "; ".join(exc.reasons)
                runs.append(Recorded(name, "failed", "rejected", error=reasons, started_at=started,
                                     duration_ms=_ms(t0)))
                _write_runs(session, ctx, runs)
                _finish(session, event, "rejected", reasons, on_finished)
                return Outcome(True, f"rejected: {reasons}", "rejected")
            runs.append(Recorded(name, "ok", result.summary, result.output, started_at=started, duration_ms=_ms(t0)))
            summary = result.summary
            if result.finish:
                _write_runs(session, ctx, runs)
                _finish(session, event, result.finish, None, on_finished)
                return Outcome(True, result.summary, result.finish)
        _write_runs(session, ctx, runs)
        event.current_step = "actions"
        return Outcome(False, summary)


def _run_around_calls(db, settings, names, steps, event_id, attempt, guard, on_finished) -> Outcome:
    """Steps that call Vendus: no transaction is held open across a call; their runs are written after."""
    from kapta_vendus.pipeline.context import prime

    # What the stage reads of earlier steps, with its event: sync reports the decision and its
    # results; bill executes the decision.
    wanted = ("rules", "actions") if names[0] == "sync" else ("rules",)
    with db.unit_of_work() as session:
        with session.no_autoflush:  # see _run_in_one_transaction: the event is written once
            loaded, runs = _load(session, event_id, wanted)
            event, early = _begin(loaded, event_id, names[0])
            if early:
                return Outcome(True, early)
            ctx = StepContext(db, settings, event_id, event.integration_id, attempt, session=session)
            prime(ctx, session, event)
            ctx.note_outputs(wanted, runs)
        if names[0] == "sync":  # nothing in it calls Vendus: finish in this same transaction
            return _finish_steps(session, ctx, event, names, steps, on_finished)
    ctx.session = None
    started, t0 = utcnow(), time.perf_counter()
    try:
        with guard(ctx.integration_id) if guard else nullcontext():
            result = steps[names[0]](ctx)
    except Rejection as exc:
        reasons = "; ".join(exc.reasons)
        _close(db, ctx, Recorded(names[0], "failed", "rejected", error=reasons, started_at=started,
                                 duration_ms=_ms(t0)), finish="rejected", error=reasons, on_finished=on_finished)
        return Outcome(True, f"rejected: {reasons}", "rejected")
    except Exception as exc:
        _close(db, ctx, Recorded(names[0], "failed", "error", error=error_text(exc), started_at=started,
                                 duration_ms=_ms(t0)), error=error_text(exc))
        raise
    _close(db, ctx, None, next_step="sync" if result.finish is None else None, finish=result.finish,
           on_finished=on_finished)
    return Outcome(result.finish is not None, result.summary, result.finish)


def _finish_steps(session, ctx, event, names, steps, on_finished) -> Outcome:
    summary, runs = "", []
    for name in names:
        started, t0 = utcnow(), time.perf_counter()
        result = steps[name](ctx)
        runs.append(Recorded(name, "ok", result.summary, result.output, started_at=started, duration_ms=_ms(t0)))
        summary = result.summary
    _write_runs(session, ctx, runs)
    _finish(session, event, "done", None, on_finished)
    return Outcome(True, summary, "done")


def _close(db: Database, ctx: StepContext, failed: Recorded | None, *, next_step: str | None = None,
           finish: str | None = None, error: str | None = None, on_finished: Finished | None = None) -> None:
    """Write the stage's step runs and move the event on, in one transaction."""
    with db.unit_of_work() as session:
        _write_runs(session, ctx, [*ctx.recorded, *([failed] if failed else [])])
        if finish is None:  # the event goes on (or waits): one UPDATE, no read, never of a finished event
            changes = {key: value for key, value in (("current_step", next_step), ("last_error", error))
                       if value is not None}
            if changes:
                session.execute(update(Event.__table__).where(Event.id == ctx.event_id,
                                                              Event.status.not_in(FINISHED)).values(**changes))
            return
        event = session.get(Event, ctx.event_id)
        if event is not None and event.status not in FINISHED:
            _finish(session, event, finish, error, on_finished)


_RUN_COLUMNS = ("integration_id", "event_id", "step", "attempt", "status", "summary", "output", "error",
                "started_at", "duration_ms")


def _write_runs(session: Session, ctx: StepContext, runs: list[Recorded]) -> None:
    """The stage's step runs, in one multi-row INSERT built once per number of rows: no object
    needs to stay in step with these rows, and the ORM's unit of work cost more than the insert."""
    if not runs:
        return
    rows = [(ctx.integration_id, ctx.event_id, run.step, ctx.attempt, run.status, run.summary[:500], run.output,
             run.error, run.started_at or utcnow(), run.duration_ms) for run in runs]
    with session.no_autoflush:  # the event's pending change is written once, at the commit
        session.execute(insert_rows(StepRun.__table__, _RUN_COLUMNS, len(rows)), row_parameters(_RUN_COLUMNS, rows))
    for run in runs:
        metrics.step_finished(ctx.integration_id, run.step, run.status, run.duration_ms)
        if run.step == "actions" and run.status == "ok":  # accepted → document latency of what it issued
            metrics.documents_issued(ctx.integration_id, _received_at(session, ctx), run.output, utcnow())


def _received_at(session: Session, ctx: StepContext):
    facts = ctx.cache.get("facts")  # primed by the stage from the event it loaded: no read
    return facts.received_at if facts is not None else session.get(Event, ctx.event_id).received_at


def _ms(t0: float) -> int:
    return int((time.perf_counter() - t0) * 1000)


def _finish(session: Session, event: Event, status: str, error: str | None, on_finished: Finished | None) -> None:
    event.status, event.finished_at, event.retry_at = status, utcnow(), None
    metrics.event_finished(event.integration_id, event.type, status)
    event.last_error = error  # a finished event keeps no stale error: its history is in the step runs
    record_outcome(session, event)  # outbox: deliveries and customer emails commit with the final state
    if status in ("rejected", "dead"):
        _announce(session, event)
    if on_finished is not None:
        integration_id, event_id = event.integration_id, event.id
        on_commit(session, lambda: on_finished(integration_id, event_id))


def mark_retrying(db: Database, event_id: int, delay: float, error: BaseException) -> None:
    """A transient error retried in place: it counts as an attempt (outages do not: pipeline.waiting)."""
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is not None and event.status not in FINISHED:
            event.retry_at = utcnow() + timedelta(seconds=delay)
            event.last_error = error_text(error)
            event.attempts += 1


def mark_dead(db: Database, event_id: int, error: BaseException,
              on_finished: Finished | None = None) -> None:
    """An error retrying cannot fix, or the retry horizon passed: the event stays replayable."""
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is not None and event.status not in FINISHED:
            event.attempts += 1
            _finish(session, event, "dead", error_text(error), on_finished)


def _announce(session: Session, event: Event) -> None:
    """Notify a rejected or dead event (sync notifies the done ones), after the commit.

    A rejected or dead event never reaches sync, so without this no channel would ever hear of
    the events that need a person most.
    """
    from kapta_vendus.integrations.cache import integration_config
    from kapta_vendus.tasks.dispatch import enqueue_notification

    config = integration_config(session, event.integration_id)
    if (config.get("notifications") or {}).get("channels"):
        event_id = event.id
        on_commit(session, lambda: enqueue_notification(event_id))

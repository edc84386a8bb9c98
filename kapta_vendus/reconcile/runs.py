"""ReconciliationRun records: one per poll, drift check or import, with counts and details."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kapta_vendus.db.models import ReconciliationRun, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.logs import redact

MAX_DETAILS = 200  # a run's details are for a human to read, not a second mirror


@dataclass
class RunLog:
    run_id: int
    counts: dict[str, Any] = field(default_factory=dict)
    details: list[Any] = field(default_factory=list)
    status: str = "ok"

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def note(self, detail: Mapping[str, Any]) -> None:
        if len(self.details) < MAX_DETAILS:
            self.details.append(dict(detail))
        else:
            self.add("details_dropped")


def _failed(log: RunLog, exc: BaseException) -> None:
    log.status = "failed"
    log.note({"error": redact(f"{type(exc).__name__}: {exc}")[:500]})


@contextmanager
def recorded_run(db: Database, integration_id: str, kind: str, store_id: int | None = None) -> Iterator[RunLog]:
    """Record the run as running, then ok or failed with whatever was counted before the error."""
    with db.unit_of_work() as session:
        run = ReconciliationRun(integration_id=integration_id, store_id=store_id, kind=kind, status="running",
                                counts={}, details=[], started_at=utcnow())
        session.add(run)
        session.flush()
        log = RunLog(run.id)
    try:
        yield log
    except BaseException as exc:
        _failed(log, exc)
        raise
    finally:
        with db.unit_of_work() as session:
            run = session.get(ReconciliationRun, log.run_id)
            run.status, run.counts, run.details = log.status, dict(log.counts), list(log.details)
            run.finished_at = utcnow()


@contextmanager
def run_if_anything(db: Database, integration_id: str, kind: str, store_id: int | None = None, *,
                    idle: Callable[[RunLog], bool], on_idle: Callable[[], None]) -> Iterator[RunLog]:
    """Like ``recorded_run``, but the row is written once, at the end, and only when the run found
    something (``idle`` says it did not) or failed: an idle poll of an idle store writes nothing,
    and ``on_idle`` counts it instead. Thousands of stores polled every few minutes would otherwise
    write two rows each per poll to say that nothing happened.
    """
    log = RunLog(0)
    started = utcnow()
    try:
        yield log
    except BaseException as exc:
        _failed(log, exc)
        raise
    finally:
        if log.status == "ok" and idle(log):
            on_idle()
        else:
            with db.unit_of_work() as session:
                run = ReconciliationRun(integration_id=integration_id, store_id=store_id, kind=kind,
                                        status=log.status, counts=dict(log.counts), details=list(log.details),
                                        started_at=started, finished_at=utcnow())
                session.add(run)
                session.flush()
                log.run_id = run.id

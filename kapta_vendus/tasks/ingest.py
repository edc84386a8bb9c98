"""Beat jobs of the inbox: re-enqueue events whose processing was lost, resume the waiting ones."""

from __future__ import annotations

import logging

from kapta_vendus.config import get_settings
from kapta_vendus.integrations.breaker import breaker_for
from kapta_vendus.integrations.fairness import gate_for
from kapta_vendus.pipeline.sweeper import sweep_inbox as sweep
from kapta_vendus.pipeline.waiting import resume_waiting as resume
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask
from kapta_vendus.tasks.dispatch import enqueue_event

log = logging.getLogger(__name__)


def _redis_lost() -> bool:
    try:
        return gate_for(get_settings()).lost()
    except Exception as exc:  # noqa: BLE001 - Redis down now: the next sweep will know
        log.warning("cannot tell whether Redis lost its data (%s)", type(exc).__name__)
        return False


@app.task(bind=True, base=KaptaTask, name="kapta.ingest.sweep_inbox")
def sweep_inbox(self) -> int:
    lost = _redis_lost()
    if lost:
        log.warning("Redis lost its data: enqueueing every unfinished event again, oldest first")
    return len(sweep(self.database, get_settings(), enqueue=enqueue_event, rebuild=lost))


@app.task(bind=True, base=KaptaTask, name="kapta.ingest.resume_waiting")
def resume_waiting(self, integration_id: str | None = None) -> int:
    settings = get_settings()
    breaker = breaker_for(settings)
    return len(resume(self.database, settings, enqueue=enqueue_event, breaker_open=breaker.open_for,
                      integration_id=integration_id))

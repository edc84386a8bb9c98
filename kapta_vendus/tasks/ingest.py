"""Beat job: re-enqueue inbox rows whose processing was lost."""

from __future__ import annotations

from kapta_vendus.config import get_settings
from kapta_vendus.pipeline.sweeper import sweep_inbox as sweep
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask
from kapta_vendus.tasks.dispatch import enqueue_event


@app.task(bind=True, base=KaptaTask, name="kapta.ingest.sweep_inbox")
def sweep_inbox(self) -> int:
    return len(sweep(self.database, get_settings(), enqueue=enqueue_event))

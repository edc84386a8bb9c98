"""Notifications run on their own queue: a slow chat service never delays billing."""

from __future__ import annotations

from kapta_vendus.config import get_settings
from kapta_vendus.pipeline.notify import notify_event
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask


@app.task(bind=True, base=KaptaTask, name="kapta.notify.event")
def event(self, event_id: int) -> int:
    return notify_event(self.database, event_id, default_language=get_settings().language)

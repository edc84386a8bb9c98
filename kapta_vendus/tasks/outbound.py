"""Outbound work on its own queue: deliveries to destinations and documents emailed to customers.

A slow or failing destination (or mail server) only ever occupies this queue's workers, never
billing. Retries are scheduled in the database (``next_attempt_at``) and picked up by the sweep,
not held as Celery countdowns: a 72-hour horizon would outlive any broker visibility timeout.
"""

from __future__ import annotations

from kapta_vendus.config import get_settings
from kapta_vendus.destinations.log import sweep_due
from kapta_vendus.destinations.sender import deliver as deliver_once
from kapta_vendus.email.sender import send_due_emails, send_email
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask
from kapta_vendus.tasks.dispatch import enqueue_delivery, enqueue_email


@app.task(bind=True, base=KaptaTask, name="kapta.outbound.deliver")
def deliver(self, delivery_id: int) -> str:
    return deliver_once(self.database, get_settings(), delivery_id)


@app.task(bind=True, base=KaptaTask, name="kapta.outbound.sweep")
def sweep(self) -> int:
    settings = get_settings()
    emails = send_due_emails(self.database, settings, enqueue=enqueue_email)
    return len(sweep_due(self.database, settings, enqueue=enqueue_delivery)) + len(emails)


@app.task(bind=True, base=KaptaTask, name="kapta.outbound.email")
def email(self, email_id: int) -> str:
    return send_email(self.database, get_settings(), email_id)

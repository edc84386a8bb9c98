"""Reconciliation jobs: beat's fan-outs, one poll per store, drift and deadline checks, import windows.

Thin adapters over ``kapta_vendus.reconcile``. Every message a fan-out sends carries ``expires``:
a poll that could not start before the next one is due is dropped, not piled up behind a slow worker.
"""

from __future__ import annotations

from datetime import date

from kapta_vendus.config import get_settings
from kapta_vendus.integrations.service import IntegrationNotFound
from kapta_vendus.reconcile import deadline, drift, importer, poller, tenant
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask
from kapta_vendus.tasks.dispatch import enqueue_event

# An import window stops after this share of the task time limit and continues in a new job.
IMPORT_BUDGET = 0.6


def checks_interval(reconcile_interval: int) -> int:
    """Drift and deadline checks run less often than polls: they list a wider window."""
    return reconcile_interval * 3


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.schedule_polls")
def schedule_polls(self) -> int:
    with self.unit_of_work() as session:
        stores = tenant.active_stores(session)
    for integration_id, store_id in stores:
        app.signature("kapta.reconcile.poll_store", args=(integration_id, store_id)).apply_async(
            expires=get_settings().reconcile_interval)
    return len(stores)


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.poll_store")
def poll_store(self, integration_id: str, store_id: int) -> dict:
    try:
        result = poller.poll_store(self.database, get_settings(), integration_id, store_id, enqueue=enqueue_event)
    except IntegrationNotFound:  # deleted between the fan-out and now: nothing left to poll
        return {"integration_id": integration_id, "store_id": store_id, "skipped": True}
    return result.as_dict()


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.schedule_checks")
def schedule_checks(self) -> int:
    with self.unit_of_work() as session:
        integrations = tenant.active_integrations(session)
    for integration_id in integrations:
        app.signature("kapta.reconcile.check_integration", args=(integration_id,)).apply_async(
            expires=checks_interval(get_settings().reconcile_interval))
    return len(integrations)


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.check_integration")
def check_integration(self, integration_id: str) -> dict:
    settings = get_settings()
    found = drift.detect_drift(self.database, settings, integration_id)
    watched = deadline.watch_deadlines(self.database, integration_id, default_language=settings.language)
    return {"drift": found.found, "deadlines": watched.as_dict()}


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.import_window")
def import_window(self, integration_id: str, store_id: int, since: str, until: str, restart: bool = False) -> dict:
    first = date.fromisoformat(since)
    report = importer.import_documents(
        self.database, get_settings(), integration_id, store_id, since=first, until=date.fromisoformat(until),
        resource=importer.window_resource(first), restart=restart,
        time_budget=get_settings().task_time_limit * IMPORT_BUDGET)
    if not report.complete:  # continues from the checkpoint this run left
        self.apply_async(args=(integration_id, store_id, since, until, False))
    return report.as_dict()

"""Reconciliation jobs: beat's fan-outs, one poll per store, drift and deadline checks, import windows.

Thin adapters over ``kapta_vendus.reconcile``. Every message a fan-out sends carries ``expires``:
a poll that could not start before the next one is due is dropped, not piled up behind a slow worker.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from itertools import groupby

from kapta_vendus.config import get_settings
from kapta_vendus.integrations.service import IntegrationNotFound
from kapta_vendus.reconcile import deadline, drift, importer, poller, tenant
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask
from kapta_vendus.tasks.dispatch import enqueue_event

log = logging.getLogger(__name__)

# An import window stops after this share of the task time limit and continues in a new job.
IMPORT_BUDGET = 0.6
# Polls are batched: one task polls up to this many stores of one integration, its HTTP calls on
# this many threads (they mostly wait on Vendus; the integration's request budget still applies).
STORES_PER_TASK = 50
POLL_THREADS = 8


def checks_interval(reconcile_interval: int) -> int:
    """Drift and deadline checks run less often than polls: they list a wider window."""
    return reconcile_interval * 3


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.schedule_polls")
def schedule_polls(self) -> int:
    with self.unit_of_work() as session:
        stores = tenant.active_stores(session)
    for integration_id, rows in groupby(stores, key=lambda row: row[0]):
        store_ids = [store_id for _, store_id in rows]
        for start in range(0, len(store_ids), STORES_PER_TASK):
            app.signature("kapta.reconcile.poll_stores",
                          args=(integration_id, store_ids[start:start + STORES_PER_TASK])).apply_async(
                expires=get_settings().reconcile_interval)
    return len(stores)


@app.task(bind=True, base=KaptaTask, name="kapta.reconcile.poll_stores")
def poll_stores(self, integration_id: str, store_ids: list[int]) -> dict:
    """Many stores of one integration in one task: one message and one worker slot, threads for HTTP."""
    def one(store_id: int) -> dict:
        try:
            return poll_store.run(integration_id, store_id)
        except Exception as exc:  # noqa: BLE001 - one store's failure must not cost the others their poll
            return {"integration_id": integration_id, "store_id": store_id, "failed": type(exc).__name__}

    with ThreadPoolExecutor(max_workers=min(POLL_THREADS, len(store_ids) or 1)) as pool:
        results = list(pool.map(one, store_ids))
    failed = [r["store_id"] for r in results if r.get("failed")]
    if failed:  # each is polled again next interval; say which, and why, so a missed poll is visible
        log.warning("poll of integration %s: %d of %d stores failed (%s)", integration_id, len(failed),
                    len(results), ", ".join(sorted({r["failed"] for r in results if r.get("failed")})))
    return {"integration_id": integration_id, "polled": len(results) - len(failed), "failed": failed}


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

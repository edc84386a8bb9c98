"""Imports every task module so that a worker registers them all (``Celery(include=…)``)."""

from kapta_vendus.tasks import ingest, notify, outbound, pipeline, reconcile

__all__ = ["ingest", "notify", "outbound", "pipeline", "reconcile"]

"""Imports every task module so that a worker registers them all (``Celery(include=…)``)."""

from kapta_vendus.tasks import ingest, notify, pipeline, reconcile

__all__ = ["ingest", "notify", "pipeline", "reconcile"]

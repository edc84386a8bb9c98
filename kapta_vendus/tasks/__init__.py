"""Celery app and thin tasks. Import ``kapta_vendus.tasks.app:app`` to run a worker."""

from kapta_vendus.tasks.app import app, configure

__all__ = ["app", "configure"]

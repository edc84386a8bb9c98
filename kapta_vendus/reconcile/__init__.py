"""Reconciliation: the poller (cursor per store), drift detection, the legal-deadline watchdog and
the historical import. Service functions only; Celery tasks and CLI commands are thin adapters."""

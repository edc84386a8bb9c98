"""Prometheus metrics: counters and histograms written by every process, gauges read at scrape time.

Multiprocess mode: gunicorn workers and Celery's prefork children are separate processes, so each
writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` (served by the web
process) adds them up. The web process and the workers of one host must share that directory;
``kapta-vendus worker`` and ``deploy/gunicorn.conf.py`` default it to ``$KAPTA_DATA_DIR/prometheus``.
prometheus-client picks its storage when it is first imported, so it is imported lazily here, after
that variable is set; without it (tests, one process) the default in-memory registry is used.

Hooks in the pipeline are single calls to the functions below. The ``integration`` label is the
integration's id; ``kapta_integration_info`` maps it to the name. Gauges that describe state
(queue depth, oldest unfinished event, dead events, breaker, poll lag) are computed from the
database and Redis when Prometheus scrapes (``StateCollector``), so they are never stale.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DOCUMENT_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, 14400, 86400)
_lock = threading.Lock()
_instruments: SimpleNamespace | None = None


def default_multiproc_dir(data_dir: str) -> str:
    return str(Path(data_dir) / "prometheus")


def use_multiproc_dir(path: str) -> None:
    """Before the first metric: where this process (and its forked children) write their samples."""
    os.environ.setdefault(MULTIPROC_ENV, path)
    Path(os.environ[MULTIPROC_ENV]).mkdir(parents=True, exist_ok=True)


def _metrics() -> SimpleNamespace:
    """The instruments, made once per process.

    Created under a lock and checked again inside it: the receiver's threads meet here at once on
    their first requests, and a second registration of the same family raises DuplicateTimeseries
    (a 500 to the sender). ``functools.cache`` does not serialise the first calls, so it is not enough.
    """
    global _instruments
    if _instruments is None:
        with _lock:
            if _instruments is None:
                _instruments = _make_instruments()
    return _instruments


def _make_instruments() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        accepted=Counter("kapta_events_accepted", "Events accepted into the inbox",
                         ["integration", "type", "source"]),
        finished=Counter("kapta_events_finished", "Events that reached an end state (done, rejected, dead)",
                         ["integration", "type", "status"]),
        step_failures=Counter("kapta_step_failures", "Pipeline steps that failed (retryable or not)",
                              ["integration", "step"]),
        step_duration=Histogram("kapta_step_duration_seconds", "Duration of one pipeline step",
                                ["step", "status"], buckets=LATENCY_BUCKETS),
        to_document=Histogram("kapta_event_to_document_seconds", "From acceptance to the document issued",
                              ["integration", "document_type"], buckets=DOCUMENT_BUCKETS),
        vendus=Histogram("kapta_vendus_request_duration_seconds", "Vendus API requests",
                         ["integration", "method", "status"], buckets=LATENCY_BUCKETS),
        delivery_failures=Counter(
            "kapta_delivery_failures", "Deliveries to destinations that failed (an HTTP error or transport)",
            ["integration", "destination", "status", "outcome"]),
        vendus_errors=Counter("kapta_vendus_errors", "Vendus requests that failed (HTTP error or transport)",
                              ["integration", "status"]),
    )


def _integration(integration_id: str | None) -> str:
    if integration_id:
        return str(integration_id)
    from kapta_vendus.logs import current

    return str(current("integration") or "none")


def event_accepted(integration_id: str, event_type: str, source: str) -> None:
    _metrics().accepted.labels(integration_id, event_type or "unknown", source).inc()


def event_finished(integration_id: str, event_type: str, status: str) -> None:
    _metrics().finished.labels(integration_id, event_type or "unknown", status).inc()


def step_finished(integration_id: str, step: str, status: str, duration_ms: int) -> None:
    m = _metrics()
    m.step_duration.labels(step, status).observe(duration_ms / 1000)
    if status == "failed":
        m.step_failures.labels(integration_id, step).inc()


def documents_issued(integration_id: str, received_at: datetime | None, output: dict[str, Any] | None,
                     now: datetime) -> None:
    """One observation per document the actions step issued (not those it only linked)."""
    if received_at is None:
        return
    for result in (output or {}).get("results") or []:
        if result.get("kind") not in ("linked", "cancelled") and result.get("document_type"):
            _metrics().to_document.labels(integration_id, result["document_type"]).observe(
                max(0.0, (now - received_at).total_seconds()))


def vendus_request(method: str, status: int | str, seconds: float, integration_id: str | None = None) -> None:
    """A Vendus call: ``status`` is the HTTP status, or the exception's name when none came back."""
    m = _metrics()
    label = _integration(integration_id)
    m.vendus.labels(label, method, str(status)).observe(seconds)
    if not (isinstance(status, int) and status < 400):
        m.vendus_errors.labels(label, str(status)).inc()


def writes_to_files() -> bool:
    """Whether this process's samples live in ``PROMETHEUS_MULTIPROC_DIR`` files or in its memory.

    prometheus-client chose when it was first imported; the variable set later (an in-process
    ``worker`` command, a library that sets it) does not move samples already kept in memory, so
    reading the files then would lose this process's own samples.
    """
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def delivery_failed(integration_id: str, destination: str, status: str, outcome: str) -> None:
    """A failed attempt to a destination: ``status`` is the HTTP status or the transport error's name,
    ``outcome`` what follows (retry, dead when the horizon is over, gone when the destination said 410)."""
    _metrics().delivery_failures.labels(integration_id, destination, status, outcome).inc()


def mark_process_dead(pid: int) -> None:
    """A gunicorn worker or Celery child exited: drop its live gauges (counters stay summed)."""
    if writes_to_files():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def install_celery_hooks() -> None:
    """A prefork child that exits (max tasks per child, a crash) drops its live samples."""
    from celery import signals

    @signals.worker_process_shutdown.connect(weak=False)
    def _child_exit(pid: int | None = None, **_kwargs: Any) -> None:
        mark_process_dead(pid or os.getpid())


def exposition(extra_collectors: list[Any]) -> tuple[bytes, str]:
    """The text Prometheus scrapes: every process's samples plus the state gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _metrics()  # the families exist (at zero) even before the first event
    if writes_to_files():
        from prometheus_client import multiprocess

        samples = CollectorRegistry()
        multiprocess.MultiProcessCollector(samples)
    else:
        samples = REGISTRY  # one process: its own in-memory samples
    state = CollectorRegistry()
    for collector in extra_collectors:
        state.register(collector)
    return generate_latest(samples) + generate_latest(state), CONTENT_TYPE_LATEST

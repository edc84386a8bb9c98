"""The metrics this process writes, and the exposition /metrics serves (single-process registry, no I/O)."""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY

from kapta_vendus import metrics
from kapta_vendus.logs import bound
from kapta_vendus.metrics_state import StateCollector


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_counters_by_integration_type_and_status():
    before = sample("kapta_events_finished_total", integration="m-1", type="sale.completed", status="dead")
    metrics.event_accepted("m-1", "sale.completed", "push")
    metrics.event_finished("m-1", "sale.completed", "dead")
    assert sample("kapta_events_finished_total", integration="m-1", type="sale.completed", status="dead") \
        == before + 1
    assert sample("kapta_events_accepted_total", integration="m-1", type="sale.completed", source="push") >= 1


def test_vendus_requests_take_the_integration_bound_to_the_work():
    with bound(integration="m-2"):
        metrics.vendus_request("POST", 201, 0.2)
        metrics.vendus_request("POST", 503, 0.1)
        metrics.vendus_request("GET", "ConnectTimeout", 5.0)
    structlog.contextvars.clear_contextvars()
    assert sample("kapta_vendus_request_duration_seconds_count", integration="m-2", method="POST", status="201") == 1
    assert sample("kapta_vendus_errors_total", integration="m-2", status="503") == 1
    assert sample("kapta_vendus_errors_total", integration="m-2", status="ConnectTimeout") == 1
    assert sample("kapta_vendus_errors_total", integration="m-2", status="201") == 0


def test_step_durations_failures_and_document_latency():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    metrics.step_finished("m-3", "actions", "failed", 1500)
    metrics.documents_issued("m-3", now - timedelta(seconds=4), {"results": [
        {"kind": "invoiced_by", "document_type": "FS"}, {"kind": "linked", "document_type": "FT"}]}, now)
    assert sample("kapta_step_failures_total", integration="m-3", step="actions") == 1
    assert sample("kapta_event_to_document_seconds_count", integration="m-3", document_type="FS") == 1
    assert sample("kapta_event_to_document_seconds_sum", integration="m-3", document_type="FS") == 4.0
    assert sample("kapta_event_to_document_seconds_count", integration="m-3", document_type="FT") == 0


class _BrokenDb:
    def unit_of_work(self):
        raise ConnectionError("database down")


def test_the_state_gauges_report_a_failure_instead_of_failing_the_scrape(settings):
    body, content_type = metrics.exposition([StateCollector(_BrokenDb(), settings)])
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert "kapta_state_up 0.0" in text
    assert "# TYPE kapta_step_duration_seconds histogram" in text


def test_a_multiprocess_directory_named_after_import_keeps_this_process_samples(monkeypatch, tmp_path):
    """The variable set once samples already live in memory (an in-process worker command) made
    /metrics read the empty directory and drop this process's counters."""
    metrics.event_finished("m-late", "sale.completed", "done")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = metrics.exposition([])[0].decode()
    assert 'kapta_events_finished_total{integration="m-late",status="done",type="sale.completed"}' in text


def test_delivery_failures_by_integration_destination_status_and_outcome():
    from kapta_vendus.destinations.sender import Attempt

    refused = Attempt(503, None, "busy")
    unreachable = Attempt(None, None, "", "ConnectTimeout: HTTPSConnectionPool(host='erp.example')")
    assert (refused.code, unreachable.code) == ("503", "ConnectTimeout")
    metrics.delivery_failed("m-4", "erp", refused.code, "retry")
    metrics.delivery_failed("m-4", "erp", unreachable.code, "dead")
    assert sample("kapta_delivery_failures_total", integration="m-4", destination="erp", status="503",
                  outcome="retry") == 1
    assert sample("kapta_delivery_failures_total", integration="m-4", destination="erp", status="ConnectTimeout",
                  outcome="dead") == 1


def test_instruments_are_made_once_when_first_requests_arrive_together(monkeypatch):
    """Concurrent first requests of the receiver must not register the families twice.

    A second registration raises DuplicateTimeseries, which the receiver answered as a 500 right
    after a restart (found by the ledger suite). The maker is slowed down so that every thread is
    inside ``_metrics`` before the first one has finished making the instruments.
    """
    import threading
    import time
    from types import SimpleNamespace

    made: list[SimpleNamespace] = []

    def slow_maker() -> SimpleNamespace:
        time.sleep(0.05)
        made.append(SimpleNamespace())
        return made[-1]

    monkeypatch.setattr(metrics, "_instruments", None)
    monkeypatch.setattr(metrics, "_make_instruments", slow_maker)
    start = threading.Barrier(8)
    seen: list[SimpleNamespace] = []

    def first_request() -> None:
        start.wait()
        seen.append(metrics._metrics())

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert len(seen) == 8 and all(instruments is made[0] for instruments in seen)

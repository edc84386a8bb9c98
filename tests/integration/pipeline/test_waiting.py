"""Outages are waited out (pipeline.waiting) on PostgreSQL: parked without an attempt, resumed
oldest first (one probe while down), dead only past the retry horizon, announced once each way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kapta_vendus.db.models import Alert, utcnow
from kapta_vendus.pipeline import waiting
from kapta_vendus.vendus import VendusUnavailable

pytestmark = pytest.mark.integration

DOWN = VendusUnavailable("connection refused")


def _alerts(pipeline) -> int:
    with pipeline.db.unit_of_work() as session:
        return session.scalar(select(func.count(Alert.id)).where(Alert.kind == waiting.DOWN))


def _park(pipeline, event_id: int, *, breaker_open: bool = True) -> str:
    return waiting.park(pipeline.db, pipeline.settings, event_id, DOWN, breaker_open=breaker_open)


def test_parked_events_count_no_attempt_and_the_outage_is_recorded_once(pipeline, envelopes):
    first, second = (pipeline.accept(envelopes.sale_completed()) for _ in range(2))

    assert (_park(pipeline, first), _park(pipeline, second)) == ("waiting", "waiting")

    for event_id in (first, second):
        event = pipeline.event(event_id)
        assert (event.status, event.attempts) == ("waiting", 0)
        assert "connection refused" in event.last_error and event.retry_at is not None
    assert _alerts(pipeline) == 1  # two parked events, one outage


def test_resume_sends_one_probe_while_down_then_the_rest_oldest_first(pipeline, envelopes):
    ids = [pipeline.accept(envelopes.sale_completed()) for _ in range(3)]
    for event_id in ids:
        _park(pipeline, event_id)
        pipeline.set_event(event_id, retry_at=utcnow() - timedelta(seconds=1), current_step="actions")
    sent: list[tuple[int, str]] = []

    def enqueue(event_id, start_at=None):
        sent.append((event_id, start_at))

    still_open = waiting.resume_waiting(pipeline.db, pipeline.settings, enqueue=enqueue, breaker_open=lambda _i: 5.0)
    probe = waiting.resume_waiting(pipeline.db, pipeline.settings, enqueue=enqueue, breaker_open=lambda _i: 0.0)
    resumed: list[str] = []
    waiting.recovered(pipeline.db, pipeline.settings, pipeline.tenant.id, resumed.append)
    rest = waiting.resume_waiting(pipeline.db, pipeline.settings, enqueue=enqueue, breaker_open=lambda _i: 0.0)

    assert still_open == []  # nothing would reach Vendus
    assert probe == ids[:1] and rest == ids[1:]  # the oldest probes; the rest follow once it answered
    assert sent == [(event_id, "kapta.billing.bill") for event_id in ids]
    assert resumed == [pipeline.tenant.id] and _alerts(pipeline) == 0
    assert pipeline.event(ids[0]).status == "received"  # the sweeper's again if the message is lost


def test_an_event_waiting_past_the_horizon_goes_dead(pipeline, envelopes):
    event_id = pipeline.accept(envelopes.sale_completed())
    pipeline.set_event(event_id, received_at=utcnow() - timedelta(seconds=pipeline.settings.retry_horizon + 1))

    assert _park(pipeline, event_id, breaker_open=False) == "dead"
    event = pipeline.event(event_id)
    assert event.status == "dead" and "retry horizon" in event.last_error

"""Gauges computed when Prometheus scrapes ``/metrics``: the state of each integration and each queue.

They are read from the same overview the console shows (``admin.overview``), so the numbers agree,
and from Redis for the queue depths. A scrape that cannot reach the database or Redis reports
``kapta_state_up 0`` rather than failing, so the counters of the other processes still arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kapta_vendus.config import Settings
from kapta_vendus.db.session import Database

log = logging.getLogger(__name__)


def queue_depths(settings: Settings) -> dict[str, int]:
    """Messages waiting in each Celery queue, fair scheduling's slow-lane queues included (Redis
    lists named after the queues, one per kombu priority); empty otherwise."""
    if not settings.uses_redis:
        return {}
    import redis

    import celeryconfig

    client = redis.Redis.from_url(settings.broker_url, socket_timeout=2)
    try:
        return list_depths(client, celeryconfig.QUEUES)
    finally:
        client.close()


def list_depths(client, queues) -> dict[str, int]:
    """Each queue's depth over all its priority lists, in one round trip."""
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    names = [(queue, f"{queue}{Channel.sep}{step}" if step else queue) for queue in queues for step in PRIORITY_STEPS]
    pipe = client.pipeline(transaction=False)
    for _queue, name in names:
        pipe.llen(name)
    depths = dict.fromkeys(queues, 0)
    for (queue, _name), size in zip(names, pipe.execute(), strict=True):
        depths[queue] += int(size)
    return depths


class StateCollector(Collector):
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from kapta_vendus.admin.overview import overview

        up = GaugeMetricFamily("kapta_state_up", "1 when the state gauges below could be read")
        info = GaugeMetricFamily("kapta_integration_info", "Integration id → name and status (always 1)",
                                 labels=["integration", "name", "status"])
        oldest = GaugeMetricFamily("kapta_oldest_unfinished_event_age_seconds",
                                   "Age of the oldest event still received or in flight (0: none)",
                                   labels=["integration"])
        dead = GaugeMetricFamily("kapta_dead_events", "Events dead (retries exhausted), waiting for a replay",
                                 labels=["integration"])
        breaker = GaugeMetricFamily("kapta_breaker_open", "1 while the integration's Vendus circuit breaker is open",
                                    labels=["integration"])
        lag = GaugeMetricFamily("kapta_poll_lag_seconds", "Time since the store's last successful poll",
                                labels=["integration", "store"])
        never = GaugeMetricFamily("kapta_poll_never_succeeded", "1 when the store was never polled successfully",
                                  labels=["integration", "store"])
        queues = GaugeMetricFamily("kapta_queue_depth", "Messages waiting in a Celery queue", labels=["queue"])
        try:
            with self.db.unit_of_work() as session:
                rows = overview(session, self.settings)
            depths = queue_depths(self.settings)
        except Exception as exc:  # noqa: BLE001 - a scrape reports the failure instead of raising
            log.warning("metrics: state gauges unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        for row in rows:
            info.add_metric([row.id, row.name, row.status], 1)
            oldest.add_metric([row.id], row.oldest_unfinished_seconds or 0)
            dead.add_metric([row.id], row.dead)
            breaker.add_metric([row.id], int(row.breaker_open))
            for poll in row.polls:
                if poll.lag_seconds is None:
                    never.add_metric([row.id, str(poll.store_id)], 1)
                else:
                    lag.add_metric([row.id, str(poll.store_id)], poll.lag_seconds)
                    never.add_metric([row.id, str(poll.store_id)], 0)
        for queue, depth in depths.items():
            queues.add_metric([queue], depth)
        yield from (up, info, oldest, dead, breaker, lag, never, queues)

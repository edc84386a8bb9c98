"""A real worker on the real Redis broker runs KaptaTask tasks with the at-least-once policy.

The worker runs in a thread of this process (``celery.contrib.testing``), consuming every queue
of ``celeryconfig``, so test-only tasks can be registered on the application itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.signals import task_failure, task_retry
from kombu import pools
from sqlalchemy import select

import celeryconfig
from kapta_vendus.config import Settings
from kapta_vendus.db import Integration, migrate
from kapta_vendus.db.session import _databases, database_for
from kapta_vendus.tasks import base as task_base
from kapta_vendus.tasks.app import app, configure
from kapta_vendus.tasks.base import KaptaTask

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TEST_TASKS = ("kapta.pipeline.test_marker", "kapta.billing.test_flaky", "kapta.notify.test_refused")


class FlakyVendus(Exception):
    retryable = True


class RejectedByVendus(Exception):
    retryable = False


@dataclass
class Harness:
    app: Celery
    redis: redis.Redis
    database_url: str
    retries: list[str]
    failures: list[str]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)

    def attempts(self, token: str) -> int:
        return int(self.redis.get(f"attempts:{token}") or 0)

    def broker_is_empty(self) -> bool:
        # kombu's Redis transport: one list per queue, and a hash of delivered-but-unacked messages.
        waiting = sum(self.redis.llen(queue) for queue in celeryconfig.QUEUES)
        return waiting == 0 and self.redis.hlen("unacked") == 0


def _reset_broker_pools(celery_app: Celery) -> None:
    # The app caches producer/connection pools for the broker it first talked to; another test may
    # have pointed it elsewhere before this one.
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def harness(redis_url, tmp_path, monkeypatch) -> Iterator[Harness]:
    database_url = f"sqlite:///{tmp_path}/worker-state.sqlite3"
    migrate.upgrade(database_url)
    settings = Settings(data_dir=str(tmp_path), broker_url=redis_url, database_url=database_url,
                        task_max_retries=3)
    # configure() changes the process-wide app; put its previous values back afterwards.
    saved = {key: app.conf.get(key) for key in celeryconfig.for_settings(settings)}
    _reset_broker_pools(app)
    configure(settings)
    # Retries after 50 ms instead of seconds: the policy's timing has its own unit tests.
    monkeypatch.setattr(task_base, "backoff_seconds", lambda *_args, **_kwargs: 0.05)
    client = redis.Redis.from_url(redis_url)

    @app.task(bind=True, base=KaptaTask, name="kapta.pipeline.test_marker")
    def marker(self, token: str) -> None:
        # acks_late: while the task runs, its message is still held by the broker as unacked.
        client.set(f"unacked-while-running:{token}", client.hlen("unacked"))
        client.incr(f"attempts:{token}")
        with self.unit_of_work() as session:
            session.add(Integration(name=token, vendus_base_url="http://vendus.invalid",
                                    vendus_api_key_enc="x"))

    @app.task(bind=True, base=KaptaTask, name="kapta.billing.test_flaky")
    def flaky(self, token: str, failures: int) -> None:
        if client.incr(f"attempts:{token}") <= failures:
            raise FlakyVendus("503 from Vendus")
        client.set(f"done:{token}", 1)

    @app.task(bind=True, base=KaptaTask, name="kapta.notify.test_refused")
    def refused(self, token: str) -> None:
        client.incr(f"attempts:{token}")
        raise RejectedByVendus("P001 invalid NIF")

    retries: list[str] = []
    failures: list[str] = []

    def on_retry(sender=None, request=None, **_kwargs) -> None:
        retries.append(request.args[0])

    def on_failure(sender=None, args=None, **_kwargs) -> None:
        failures.append(args[0])

    task_retry.connect(on_retry, weak=False)
    task_failure.connect(on_failure, weak=False)
    try:
        yield Harness(app, client, database_url, retries, failures)
    finally:
        task_retry.disconnect(on_retry)
        task_failure.disconnect(on_failure)
        for name in TEST_TASKS:
            app.tasks.pop(name, None)
        app.conf.update(saved)
        _reset_broker_pools(app)
        client.close()
        db = _databases.pop(database_url, None)
        if db is not None:
            db.dispose()


@pytest.fixture
def worker(harness) -> Iterator[None]:
    with start_worker(harness.app, pool="solo", concurrency=1, perform_ping_check=False,
                      queues=list(celeryconfig.QUEUES), loglevel="WARNING", shutdown_timeout=15):
        yield


def test_tasks_are_at_least_once(harness):
    for name in TEST_TASKS:
        task = harness.app.tasks[name]
        assert isinstance(task, KaptaTask)
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True
    assert harness.app.conf.task_acks_late is True
    assert harness.app.conf.worker_prefetch_multiplier == 1


def test_routes_follow_the_task_name(harness):
    router = harness.app.amqp.router
    assert router.route({}, "kapta.billing.test_flaky")["queue"].name == "billing"
    assert router.route({}, "kapta.notify.test_refused")["queue"].name == "notify"


def test_task_runs_and_its_message_is_acked(harness, worker):
    token = f"marker-{uuid.uuid4().hex[:8]}"
    harness.app.tasks["kapta.pipeline.test_marker"].delay(token)

    harness.wait_for(lambda: harness.attempts(token) == 1, "the task to run")
    assert int(harness.redis.get(f"unacked-while-running:{token}")) == 1
    harness.wait_for(harness.broker_is_empty, "the message to be acknowledged")
    with database_for(harness.database_url).unit_of_work() as session:
        assert session.scalars(select(Integration.name)).all() == [token]
    assert harness.retries == [] and harness.failures == []


def test_retryable_error_is_retried_until_it_succeeds(harness, worker):
    token = f"flaky-{uuid.uuid4().hex[:8]}"
    harness.app.tasks["kapta.billing.test_flaky"].delay(token, 2)

    harness.wait_for(lambda: harness.redis.get(f"done:{token}") is not None, "the third attempt")
    assert harness.attempts(token) == 3
    assert harness.retries == [token, token]
    assert harness.failures == []
    harness.wait_for(harness.broker_is_empty, "every message to be acknowledged")


def test_retries_stop_at_the_configured_maximum(harness, worker):
    token = f"exhausted-{uuid.uuid4().hex[:8]}"
    harness.app.tasks["kapta.billing.test_flaky"].delay(token, 99)

    harness.wait_for(lambda: harness.failures == [token], "the final failure")
    assert harness.attempts(token) == 1 + 3  # the first run and task_max_retries=3 retries
    assert harness.retries == [token] * 3
    harness.wait_for(harness.broker_is_empty, "every message to be acknowledged")


def test_non_retryable_error_is_not_retried(harness, worker):
    token = f"refused-{uuid.uuid4().hex[:8]}"
    harness.app.tasks["kapta.notify.test_refused"].delay(token)

    harness.wait_for(lambda: harness.failures == [token], "the failure")
    harness.wait_for(harness.broker_is_empty, "the message to be acknowledged")
    time.sleep(0.3)  # a retry would have been published at once, with a 50 ms countdown
    assert harness.attempts(token) == 1
    assert harness.retries == []
    assert harness.broker_is_empty()

"""The per-integration rate budget and fair-scheduling gate on real Redis, shared by every worker."""

from __future__ import annotations

import threading
import time

import pytest
from tenancy_testkit import sale_envelope

from kapta_vendus.config import set_settings
from kapta_vendus.integrations import shared
from kapta_vendus.integrations.config import Limits
from kapta_vendus.integrations.fairness import RedisGate, Resume, admitted_for_enqueue, release_event
from kapta_vendus.integrations.ratelimit import RedisBuckets, Throttle
from kapta_vendus.vendus import RateLimited

pytestmark = pytest.mark.integration


def test_the_budget_is_shared_by_every_worker(redis_url):
    limits = Limits(vendus_requests_per_second=20, vendus_burst=5)
    # Three "workers", each with its own connection and script handle, one bucket between them.
    throttles = [Throttle(RedisBuckets(redis_url), "int-a", limits, max_wait=30) for _ in range(3)]
    taken: list[float] = []
    lock = threading.Lock()

    def work(throttle: Throttle) -> None:
        for _ in range(15):
            throttle()
            with lock:
                taken.append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(t,)) for t in throttles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # 45 requests: 5 from the burst, 40 at 20/s ⇒ about 2 s, whatever the number of workers.
    assert len(taken) == 45
    assert 1.7 < elapsed < 3.5, elapsed
    in_first_second = sum(1 for t in taken if t - started < 1.0)
    assert in_first_second <= 5 + 20 + 2


def test_budgets_of_two_integrations_are_independent(redis_url):
    buckets = RedisBuckets(redis_url)
    limits = Limits(vendus_requests_per_second=0.5, vendus_burst=2)
    a, b = (Throttle(buckets, name, limits, max_wait=0.1) for name in ("int-a", "int-b"))
    a(), a()

    with pytest.raises(RateLimited) as refused:
        a()

    assert 1.0 < refused.value.reset_after <= 2.0  # next token in ~2 s: the task retries, not the worker waits
    b(), b()


def test_gate_caps_in_flight_events_and_wakes_the_oldest_first(redis_url):
    gate = RedisGate(redis_url)
    task = "kapta.pipeline.prepare"

    assert [gate.admit("int-a", e, task, 2).admitted for e in (1, 2, 3, 4)] == [True, True, False, False]
    assert gate.admit("int-a", 1, "kapta.billing.bill", 2).admitted  # a holder enqueued again goes on
    assert gate.counts("int-a") == {"in_flight": 2, "waiting": 2}
    assert gate.admit("int-b", 10, task, 2).admitted  # another integration is not affected

    assert gate.release("int-a", 1, 2) == (Resume(3, task),)
    assert gate.admit("int-a", 3, task, 2).admitted  # its slot was reserved when it was woken
    assert not gate.admit("int-a", 5, task, 2).admitted  # a newcomer waits behind event 4
    assert gate.release("int-a", 2, 2) == (Resume(4, task),)
    assert gate.release("int-a", 3, 2) == (Resume(5, task),)
    assert gate.release("int-a", 4, 2) == ()
    assert gate.counts("int-a") == {"in_flight": 1, "waiting": 0}


def test_a_lost_slot_is_freed_by_its_lease_and_given_to_the_oldest_waiter(redis_url):
    gate = RedisGate(redis_url, lease=1)
    task = "kapta.pipeline.prepare"
    assert gate.admit("int-a", 1, task, 1).admitted  # its worker will die holding the slot
    assert not gate.admit("int-a", 2, task, 1).admitted
    time.sleep(1.2)

    admission = gate.admit("int-a", 3, task, 1)

    assert not admission.admitted and admission.woken == (Resume(2, task),)


def test_the_waiting_line_is_ordered_by_inbox_id_so_a_rebuild_keeps_the_oldest_first(redis_url):
    """After Redis lost the line, the sweeper re-enqueues events oldest first while newer ones
    keep arriving: the line ranks by inbox id, so a re-added old event is not sent to the back."""
    gate = RedisGate(redis_url)
    task = "kapta.pipeline.prepare"
    assert gate.admit("int-a", 1, task, 1).admitted
    assert not gate.admit("int-a", 9, task, 1).admitted  # a new push, while event 5 is being swept
    assert not gate.admit("int-a", 5, task, 1).admitted  # the sweeper puts the older event back

    assert gate.release("int-a", 1, 1) == (Resume(5, task),)
    assert gate.release("int-a", 5, 1) == (Resume(9, task),)


def test_redis_loss_is_noticed_once(redis_url):
    gate = RedisGate(redis_url)
    gate.redis.flushdb()
    assert gate.lost() is True  # empty Redis: rebuild the lines from the inbox
    assert gate.lost() is False


def test_events_are_admitted_once_at_enqueue_per_integration(world, redis_url, monkeypatch):
    settings = world.settings.replace(broker_url=redis_url)
    set_settings(settings)
    monkeypatch.setattr(shared, "_instances", {})
    capped = {**world.document["integrations"][0], "limits": {"max_events_in_flight": 1}}
    world.apply({"integrations": [capped, world.document["integrations"][1]]})
    first, second = (world.accept(world.a, sale_envelope(world.a.store_id)) for _ in range(2))
    other = world.accept(world.b, sale_envelope(world.b.store_id))
    woken: list[tuple[int, str | None]] = []

    def enqueue(event_id, start_at=None):
        woken.append((event_id, start_at))

    task = "kapta.pipeline.prepare"
    try:
        assert admitted_for_enqueue(first, task, enqueue)  # looks its integration and cap up
        assert not admitted_for_enqueue(second, task, enqueue, integration_id=world.a.id, cap=1)
        assert admitted_for_enqueue(other, task, enqueue)  # B has its own slots
        release_event(settings, world.a.id, first, enqueue)
    finally:
        set_settings(world.settings)

    assert woken == [(second, task)]

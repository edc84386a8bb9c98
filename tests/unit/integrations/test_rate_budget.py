"""The per-integration request budget (token bucket) without Redis: the in-process fallback."""

from __future__ import annotations

import pytest

from kapta_vendus.integrations.config import Limits, limits_of
from kapta_vendus.integrations.ratelimit import MemoryBuckets, Throttle
from kapta_vendus.vendus import RateLimited


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_steady_rate_with_short_waits_in_place():
    clock = Clock()
    throttle = Throttle(MemoryBuckets(clock), "a", Limits(vendus_requests_per_second=2, vendus_burst=3),
                        max_wait=5, sleep=clock.sleep)

    for _ in range(3):
        throttle()
    assert clock.now == 0.0  # the burst costs no wait
    throttle()
    assert clock.now == pytest.approx(0.5)  # then one token every 1/rate seconds
    throttle()
    assert clock.now == pytest.approx(1.0)


def test_a_long_wait_is_handed_back_as_a_retryable_rate_limit():
    clock = Clock()
    throttle = Throttle(MemoryBuckets(clock), "a", Limits(vendus_requests_per_second=0.1, vendus_burst=1),
                        max_wait=2, sleep=clock.sleep)
    throttle()

    with pytest.raises(RateLimited) as refused:
        throttle()

    assert refused.value.retryable and refused.value.reset_after == pytest.approx(10)
    assert clock.now == 0.0  # it did not sleep for it


def test_the_bucket_refills_up_to_the_burst_only():
    clock = Clock()
    buckets = MemoryBuckets(clock)
    for _ in range(2):
        assert buckets.take("a", 1, 2) == 0
    clock.now = 100.0
    assert [buckets.take("a", 1, 2) for _ in range(3)] == [0, 0, pytest.approx(1.0)]


def test_limits_come_from_the_config_with_defaults():
    assert limits_of({}) == Limits()
    assert limits_of({"limits": {"max_events_in_flight": 3}}) == Limits(max_events_in_flight=3)

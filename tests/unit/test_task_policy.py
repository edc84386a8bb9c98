"""The retry policy of the one base task: what retries, and how long it waits."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from kapta_vendus.tasks.base import KaptaTask, backoff_seconds, is_retryable


class Unavailable(Exception):
    retryable = True


class Rejected(Exception):
    retryable = False


class RateLimited(Exception):
    retryable = True

    def __init__(self, reset_after: float | None) -> None:
        super().__init__("429")
        self.reset_after = reset_after


@pytest.mark.parametrize(
    "exc",
    [
        Unavailable(),
        RateLimited(3),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        PoolTimeout(),
        ConnectionError(),
        ConnectionResetError(),
        TimeoutError(),
    ],
)
def test_retryable(exc):
    assert is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        Rejected(),
        ValueError("bad NIF"),
        KeyError("bug"),
        IntegrityError("INSERT", {}, Exception("duplicate key")),
        RuntimeError(),
    ],
)
def test_not_retryable(exc):
    assert not is_retryable(exc)


@pytest.mark.parametrize("retries", range(12))
def test_backoff_stays_within_exponential_bounds(retries):
    rng = random.Random(retries)
    for _ in range(200):
        delay = backoff_seconds(retries, rng=rng)
        assert 1.0 <= delay <= min(600.0, 2.0 * 2**retries)


def test_backoff_is_jittered_and_grows():
    rng = random.Random(7)
    early = [backoff_seconds(1, rng=rng) for _ in range(200)]
    late = [backoff_seconds(6, rng=rng) for _ in range(200)]
    assert len(set(early)) > 100, "full jitter spreads retries of a burst"
    assert sum(late) / len(late) > 4 * sum(early) / len(early)


def test_backoff_is_capped():
    rng = random.Random(1)
    delays = [backoff_seconds(30, rng=rng, cap=600.0) for _ in range(200)]
    assert max(delays) <= 600.0
    assert min(delays) >= 1.0
    assert max(delays) > 300, "at the cap the whole range is used"


def test_backoff_survives_huge_retry_counts():
    assert backoff_seconds(10_000, rng=random.Random(0)) <= 600.0


def test_backoff_is_deterministic_with_a_seeded_rng():
    assert [backoff_seconds(3, rng=random.Random(42)) for _ in range(3)] == [
        backoff_seconds(3, rng=random.Random(42)) for _ in range(3)
    ]


@pytest.mark.parametrize("reset_after", [5, 45.5, 299])
def test_backoff_waits_for_the_rate_limit_reset(reset_after):
    rng = random.Random(3)
    for retries in range(4):
        delay = backoff_seconds(retries, RateLimited(reset_after), rng=rng)
        assert reset_after <= delay <= max(reset_after + 1, 2.0 * 2**retries)


def test_backoff_never_retries_before_the_reset():
    rng = random.Random(5)
    for _ in range(200):
        assert backoff_seconds(0, RateLimited(30), rng=rng) >= 30


def test_reset_does_not_shorten_a_longer_backoff():
    rng = random.Random(11)
    delays = [backoff_seconds(8, RateLimited(0.5), rng=rng) for _ in range(200)]
    assert max(delays) > 10


def test_cap_wins_over_a_reset_beyond_it():
    # A countdown longer than the broker's visibility timeout would be redelivered while waiting.
    assert backoff_seconds(0, RateLimited(10_000), rng=random.Random(0), cap=600.0) == 600.0


def test_reset_of_none_is_ignored():
    rng = random.Random(9)
    assert all(backoff_seconds(0, RateLimited(None), rng=rng) <= 2.0 for _ in range(100))


def test_base_task_is_at_least_once():
    assert KaptaTask.acks_late is True
    assert KaptaTask.reject_on_worker_lost is True

"""Respect Vendus' rate-limit headers before sending, instead of learning about them from a 429.

Vendus answers with ``Rate-Limit-Limit/-Remaining/-Used/-Reset`` where limits apply (``Reset`` in
seconds). The gate remembers the last values seen by this client (one client per integration, so
one budget per account). When the budget is spent and the reset is near, it waits; when the reset
is far, it raises ``RateLimited`` without sending, so a worker is not blocked for long and the task
can be retried with a countdown instead.

This only knows what this process has seen. A budget shared by several worker processes needs
the ``throttle`` hook of the client (a Redis token bucket per integration).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from kapta_vendus.vendus.errors import RateLimited

__all__ = ["RateLimitGate", "parse_reset"]

log = logging.getLogger(__name__)

# A Reset value this large cannot be "seconds from now"; some servers send a Unix timestamp.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_reset(value: str | None, *, wall_clock: Callable[[], float] = time.time) -> float | None:
    """Seconds until the budget resets, from a ``Rate-Limit-Reset`` value; None if unusable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    if seconds > _EPOCH_THRESHOLD:
        seconds -= wall_clock()
    return max(seconds, 0.0)


def _parse_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


class RateLimitGate:
    """Tracks the remembered budget and blocks or refuses requests while it is exhausted.

    ``clock`` must be monotonic (deadlines are computed on it) and ``sleep`` must take seconds;
    both are injected so tests never really wait.
    """

    def __init__(
        self,
        *,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float | None = None

    @property
    def remaining(self) -> int | None:
        return self._remaining

    def seconds_until_reset(self) -> float | None:
        with self._lock:
            if self._reset_at is None:
                return None
            return max(self._reset_at - self._clock(), 0.0)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Remember the budget announced by a response (any status)."""
        remaining = _parse_int(headers.get("Rate-Limit-Remaining"))
        reset = parse_reset(headers.get("Rate-Limit-Reset"), wall_clock=self._wall_clock)
        with self._lock:
            if remaining is not None:
                self._remaining = remaining
            if reset is not None:
                self._reset_at = self._clock() + reset

    def exhausted(self, reset_after: float | None) -> None:
        """Record a 429: the budget is spent whatever the Remaining header said."""
        with self._lock:
            self._remaining = 0
            if reset_after is not None:
                self._reset_at = self._clock() + reset_after

    def before_request(self) -> None:
        """Wait for the reset if the budget is spent and the wait is acceptable, else raise."""
        with self._lock:
            if self._remaining != 0 or self._reset_at is None:
                return
            wait = self._reset_at - self._clock()
            if wait <= 0:
                self._forget()
                return
            if wait > self.max_wait:
                raise RateLimited(
                    f"rate-limit budget exhausted; resets in {wait:.1f}s (not sent)", reset_after=wait
                )
        log.info("vendus rate-limit budget exhausted; waiting %.2fs for the reset", wait)
        self._sleep(wait)
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        # After the reset the old numbers say nothing; the next response will tell the new budget.
        self._remaining = None
        self._reset_at = None

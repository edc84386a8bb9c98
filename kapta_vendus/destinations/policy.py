"""The delivery policy, as pure functions: what a response means, when to try again, when to stop.

- 2xx: delivered. 410 Gone: the receiver asked us to stop; the destination is disabled.
- 429 and 503 with ``Retry-After``: wait at least that long (seconds or an HTTP date).
- anything else (other 4xx/5xx, timeouts, refused connections): retry with full-jitter exponential
  backoff, until the horizon (72 h by default) after the delivery was recorded; then dead.
- The destination's circuit opens after ``BREAKER_THRESHOLD`` consecutive failures, for a cooldown
  that doubles with each further failure (capped), so a dead endpoint costs one try per cooldown.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from kapta_vendus.tasks.base import backoff_seconds

BREAKER_THRESHOLD = 5
MAX_BACKOFF = 3600.0  # one hour between tries at most, so a recovered receiver is found soon enough
MAX_COOLDOWN = 600.0


@dataclass(frozen=True)
class Verdict:
    status: str  # delivered | retry | dead | gone
    delay: float = 0.0  # seconds before the next try, for "retry"
    reason: str = ""


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now).total_seconds()) if moment.tzinfo else None


def backoff(attempts: int, base: float, rng: random.Random | None = None) -> float:
    """Full jitter: uniform in [base/2, min(cap, base·2^(attempts-1))], the tasks' own backoff."""
    return backoff_seconds(attempts - 1, base=base, cap=MAX_BACKOFF, rng=rng)


def judge(status_code: int | None, retry_after: str | None, *, attempts: int, created_at: datetime,
          now: datetime, horizon: timedelta, base: float, rng: random.Random | None = None) -> Verdict:
    """The verdict on one attempt (``status_code`` None: no response: timeout, refused…)."""
    if status_code is not None and 200 <= status_code < 300:
        return Verdict("delivered")
    if status_code == 410:
        return Verdict("gone", reason="410 Gone: the receiver asked to stop; destination disabled")
    delay = backoff(attempts, base, rng)
    if status_code in (429, 503):
        announced = retry_after_seconds(retry_after, now)
        if announced is not None:
            delay = max(delay, announced)
    if now + timedelta(seconds=delay) > created_at + horizon:
        return Verdict("dead", reason=f"no success within {horizon.total_seconds() / 3600:g} h")
    return Verdict("retry", delay=delay)


def cooldown(consecutive_failures: int, base: float) -> float | None:
    """How long the circuit stays open after this many consecutive failures (None: closed)."""
    if consecutive_failures < BREAKER_THRESHOLD:
        return None
    return min(MAX_COOLDOWN, base * 2.0 ** min(consecutive_failures - BREAKER_THRESHOLD, 16))

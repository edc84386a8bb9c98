"""Each integration's Vendus request budget: a token bucket shared by every worker.

The Vendus client calls its ``throttle`` hook before every request. Vendus counts requests per
API key, so the budget is per integration, and it must be shared: ten worker processes that each
kept their own bucket would spend ten budgets. On Redis the bucket is one hash per integration,
refilled and spent atomically by a Lua script that reads Redis' own clock (workers' clocks
disagree). Without Redis (the embedded default) each process keeps its own bucket, which is the
best a single machine without a shared store can do.

A short wait is taken in place; a long one raises ``RateLimited`` (retryable, with
``reset_after``) so that the task is retried later instead of holding a worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kapta_vendus.config import Settings
from kapta_vendus.integrations.config import Limits
from kapta_vendus.integrations.shared import per_broker, redis_client
from kapta_vendus.vendus import RateLimited

log = logging.getLogger(__name__)

# Returns the seconds to wait before a token is available (0: one was taken now), as a string
# because Redis truncates Lua numbers to integers.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
return tostring(wait)
"""

MAX_WAIT_IN_PLACE = 5.0  # seconds a worker may sleep for a token before handing back to Celery


class RedisBuckets:
    def __init__(self, url: str) -> None:
        self._redis = redis_client(url)
        self._take = self._redis.register_script(_TAKE)

    def take(self, key: str, rate: float, burst: int) -> float:
        return float(self._take(keys=[key], args=[rate, burst]))


class MemoryBuckets:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate: float, burst: int) -> float:
        with self._lock:
            now = self._clock()
            tokens, at = self._state.get(key, (float(burst), now))
            tokens = min(float(burst), tokens + max(0.0, now - at) * rate)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate
            self._state[key] = (tokens, now)
            return wait


class Throttle:
    """The client's ``throttle`` hook for one integration."""

    def __init__(self, buckets, integration_id: str, limits: Limits, *, max_wait: float = MAX_WAIT_IN_PLACE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.key = f"kapta:budget:{integration_id}"
        self.buckets, self.limits, self.max_wait, self._sleep = buckets, limits, max_wait, sleep

    def __call__(self) -> None:
        waited = 0.0
        while True:
            try:
                wait = self.buckets.take(self.key, self.limits.vendus_requests_per_second, self.limits.vendus_burst)
            except Exception as exc:  # noqa: BLE001 - Redis down: Vendus' own 429s still protect us
                log.warning("rate budget unavailable (%s); sending without it", type(exc).__name__)
                return
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
                raise RateLimited(f"this integration's Vendus request budget is spent; next token in {wait:.1f}s "
                                  "(not sent)", reset_after=wait)
            self._sleep(wait)
            waited += wait


def buckets_for(settings: Settings) -> RedisBuckets | MemoryBuckets:
    return per_broker("buckets", settings, RedisBuckets, MemoryBuckets)


def throttle_for(settings: Settings, integration_id: str, limits: Limits) -> Throttle:
    return Throttle(buckets_for(settings), integration_id, limits)

"""A per-integration circuit breaker: a failing Vendus account is left alone for a while.

After ``threshold`` consecutive unavailable/unknown outcomes within ``window`` seconds, calls for
that integration fail fast with ``CircuitOpen`` (retryable, with ``reset_after``) until
``cooldown`` seconds pass. The state lives in Redis when the broker is Redis, so every worker
shares it; on the embedded default it is per process. Other integrations are unaffected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kapta_vendus.config import Settings
from kapta_vendus.integrations.shared import per_broker
from kapta_vendus.vendus import OutcomeUnknown, VendusUnavailable


class CircuitOpen(VendusUnavailable):
    """Vendus failed repeatedly for this integration; calls are paused until ``reset_after``."""

    def __init__(self, message: str = "", *, reset_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.reset_after = reset_after

    def __reduce__(self):
        return (_rebuild_circuit_open, (self.message, self.reset_after))


def _rebuild_circuit_open(message: str, reset_after: float | None) -> CircuitOpen:
    return CircuitOpen(message, reset_after=reset_after)


class _MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}
        self._open_until: dict[str, float] = {}

    def open_for(self, key: str) -> float:
        return max(0.0, self._open_until.get(key, 0.0) - time.monotonic())

    def fail(self, key: str, window: float) -> int:
        with self._lock:
            count, since = self._failures.get(key, (0, time.monotonic()))
            if time.monotonic() - since > window:
                count, since = 0, time.monotonic()
            self._failures[key] = (count + 1, since)
            return count + 1

    def trip(self, key: str, cooldown: float) -> None:
        self._open_until[key] = time.monotonic() + cooldown

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)
        self._open_until.pop(key, None)


class _RedisStore:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def open_for(self, key: str) -> float:
        ttl = self._redis.pttl(f"{key}:open")
        return ttl / 1000 if ttl and ttl > 0 else 0.0

    def fail(self, key: str, window: float) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(f"{key}:failures")
        pipe.expire(f"{key}:failures", int(window), nx=True)
        return int(pipe.execute()[0])

    def trip(self, key: str, cooldown: float) -> None:
        self._redis.set(f"{key}:open", 1, px=int(cooldown * 1000))

    def reset(self, key: str) -> None:
        self._redis.delete(f"{key}:failures", f"{key}:open")


class Breaker:
    def __init__(self, store, *, threshold: int = 5, window: float = 60.0, cooldown: float = 30.0) -> None:
        self.store, self.threshold, self.window, self.cooldown = store, threshold, window, cooldown

    @contextmanager
    def guard(self, integration_id: str) -> Iterator[None]:
        key = f"kapta:breaker:{integration_id}"
        remaining = self.store.open_for(key)
        if remaining > 0:
            raise CircuitOpen(f"Vendus calls paused for this integration for {remaining:.0f}s after repeated "
                              "failures", reset_after=remaining)
        try:
            yield
        except (VendusUnavailable, OutcomeUnknown):
            if self.store.fail(key, self.window) >= self.threshold:
                self.store.trip(key, self.cooldown)
            raise
        self.store.reset(key)


def breaker_for(settings: Settings) -> Breaker:
    return per_broker("breaker", settings, lambda url: Breaker(_RedisStore(url)), lambda: Breaker(_MemoryStore()))

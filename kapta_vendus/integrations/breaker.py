"""A per-integration circuit breaker: a failing Vendus account is left alone for a while.

After ``threshold`` consecutive unavailable/unknown outcomes within ``window`` seconds, calls for
that integration fail fast with ``CircuitOpen`` (retryable, with ``reset_after``) until
``cooldown`` seconds pass. The state lives in Redis when the broker is Redis, so every worker
shares it; on the embedded default it is per process. Other integrations are unaffected.

Tripping also leaves a "down" mark that only a success clears: the success that clears it is the
recovery (``on_recovered``), which announces it and resumes the integration's waiting events.

The breaker is a protection, never a reason to fail: a Redis error while reading or writing its
state is logged and the call goes ahead (before the call) or its result stands (after it). An
issued document must never be reported as failed because Redis blinked after Vendus answered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kapta_vendus.config import Settings
from kapta_vendus.integrations.shared import per_broker, redis_client
from kapta_vendus.vendus import OutcomeUnknown, VendusUnavailable

log = logging.getLogger(__name__)


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
        self._down: set[str] = set()

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
        self._down.add(key)

    def reset(self, key: str) -> bool:
        self._failures.pop(key, None)
        self._open_until.pop(key, None)
        was_down = key in self._down
        self._down.discard(key)
        return was_down


class _RedisStore:
    def __init__(self, url: str) -> None:
        self._redis = redis_client(url)

    def open_for(self, key: str) -> float:
        ttl = self._redis.pttl(f"{key}:open")
        return ttl / 1000 if ttl and ttl > 0 else 0.0

    def fail(self, key: str, window: float) -> int:
        pipe = self._redis.pipeline()
        pipe.incr(f"{key}:failures")
        pipe.expire(f"{key}:failures", int(window), nx=True)
        return int(pipe.execute()[0])

    def trip(self, key: str, cooldown: float) -> None:
        pipe = self._redis.pipeline()
        pipe.set(f"{key}:open", 1, px=int(cooldown * 1000))
        pipe.set(f"{key}:down", 1, ex=DOWN_MARK_TTL)
        pipe.execute()

    def reset(self, key: str) -> bool:
        """Clear the failures; True if the integration was marked down (this success is its recovery)."""
        pipe = self._redis.pipeline()
        pipe.delete(f"{key}:failures", f"{key}:open")
        pipe.delete(f"{key}:down")
        return bool(pipe.execute()[1])


DOWN_MARK_TTL = 14 * 24 * 3600  # longer than any retry horizon: only a success or its expiry clears it


class Breaker:
    def __init__(self, store, *, threshold: int = 5, window: float = 60.0, cooldown: float = 30.0) -> None:
        self.store, self.threshold, self.window, self.cooldown = store, threshold, window, cooldown

    @staticmethod
    def key(integration_id: str) -> str:
        return f"kapta:breaker:{integration_id}"

    def open_for(self, integration_id: str) -> float:
        """Seconds the breaker stays open (0 when closed, or when its state cannot be read)."""
        try:
            return self.store.open_for(self.key(integration_id))
        except Exception as exc:  # noqa: BLE001 - see the module docstring
            log.warning("circuit breaker state unavailable (%s): treated as closed", type(exc).__name__)
            return 0.0

    @contextmanager
    def guard(self, integration_id: str, *, on_recovered: Callable[[str], None] | None = None) -> Iterator[None]:
        key = self.key(integration_id)
        remaining = self.open_for(integration_id)
        if remaining > 0:
            raise CircuitOpen(f"Vendus calls paused for this integration for {remaining:.0f}s after repeated "
                              "failures", reset_after=remaining)
        try:
            yield
        except (VendusUnavailable, OutcomeUnknown):
            self._count_failure(key)
            raise
        try:
            recovered = self.store.reset(key)
        except Exception as exc:  # noqa: BLE001 - the call succeeded: that result stands
            log.warning("circuit breaker reset failed (%s); the call's result stands", type(exc).__name__)
            return
        if recovered and on_recovered is not None:
            try:
                on_recovered(integration_id)
            except Exception:  # the announcement is best-effort; the call's result stands
                log.exception("could not announce the recovery of integration %s", integration_id)

    def _count_failure(self, key: str) -> None:
        try:
            if self.store.fail(key, self.window) >= self.threshold:
                self.store.trip(key, self.cooldown)
        except Exception as exc:  # noqa: BLE001 - the original error is what the caller must see
            log.warning("circuit breaker update failed (%s)", type(exc).__name__)


def breaker_for(settings: Settings) -> Breaker:
    return per_broker("breaker", settings, lambda url: Breaker(_RedisStore(url)), lambda: Breaker(_MemoryStore()))

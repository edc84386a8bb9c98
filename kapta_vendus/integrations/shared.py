"""One instance per broker of the per-integration state every worker shares through Redis.

The circuit breaker, the Vendus request budget and the fair-scheduling gate all keep their
state in Redis when the broker is Redis (so all workers agree), and in the process otherwise
(the embedded default). Each is built once per broker URL per process, here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from kapta_vendus.config import Settings

T = TypeVar("T")

_instances: dict[tuple[str, str], Any] = {}
_lock = threading.RLock()  # re-entrant: a per-broker instance asks for the shared client while built


def per_broker(kind: str, settings: Settings, on_redis: Callable[[str], T], in_process: Callable[[], T]) -> T:
    key = (kind, settings.broker_url if settings.uses_redis else "in-process")
    with _lock:
        if key not in _instances:
            _instances[key] = on_redis(settings.broker_url) if settings.uses_redis else in_process()
        return _instances[key]


_clients: dict[str, Any] = {}


def redis_client(url: str):
    """One Redis client (one connection pool) per URL per process, shared by the breaker, the
    request budget and the fairness gate instead of a pool each."""
    import redis

    with _lock:
        if url not in _clients:
            _clients[url] = redis.Redis.from_url(url, health_check_interval=30)
        return _clients[url]

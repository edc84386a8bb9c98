"""The idle-poll counter: what an idle poll leaves behind instead of a run row and a cursor write.

On Redis it is one hash, ``kapta:polls:idle`` (integration id → idle polls so far), shared by every
worker and read by operators and metrics; without Redis, a per-process count.
"""

from __future__ import annotations

import logging
import threading

from kapta_vendus.config import Settings
from kapta_vendus.integrations.shared import redis_client

log = logging.getLogger(__name__)
KEY = "kapta:polls:idle"

_local_counts: dict[str, int] = {}
_lock = threading.Lock()


def count_idle(settings: Settings, integration_id: str) -> None:
    if settings.uses_redis:
        try:
            redis_client(settings.broker_url).hincrby(KEY, integration_id, 1)
            return
        except Exception as exc:  # noqa: BLE001 - a lost count is not worth a failed poll
            log.debug("idle-poll counter unavailable: %s", type(exc).__name__)
    with _lock:
        _local_counts[integration_id] = _local_counts.get(integration_id, 0) + 1


def idle_polls(settings: Settings) -> dict[str, int]:
    if settings.uses_redis:
        raw = redis_client(settings.broker_url).hgetall(KEY)
        return {k.decode(): int(v) for k, v in raw.items()}
    with _lock:
        return dict(_local_counts)

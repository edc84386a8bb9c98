"""The two lanes of fair scheduling as Celery queues (see ``integrations.fairness``).

The fast lane is a capability's own queue (``pipeline``, ``billing``); the slow lane is a second
queue beside it (``pipeline.slow``, ``billing.slow``). A separate queue rather than a kombu
priority, because only a queue can be kept from the flood: the express worker consumes the fast
lane only, so a quiet integration's task always finds a process that no flooding integration can
occupy. Every other worker consumes both lanes of its queues (``worker_queues``), so the slow lane
is never left without a consumer and the fast lane still gets every worker when it needs them.
"""

from __future__ import annotations

from enum import Enum

import celeryconfig


class Lane(Enum):
    FAST = "fast"
    SLOW = "slow"


def slow_queue(queue: str) -> str:
    return queue + celeryconfig.SLOW_LANE_SUFFIX


def queue_of(task_name: str) -> str:
    """The capability queue a task is routed to (``celeryconfig.task_routes``: ``kapta.<queue>.*``)."""
    return task_name.split(".")[1]


def queue_options(task_name: str, lane: Lane) -> dict[str, str]:
    """Publishing options that put ``task_name`` in ``lane`` (the fast lane is its route)."""
    queue = queue_of(task_name)
    if lane is Lane.SLOW and queue in celeryconfig.LANED_QUEUES:
        return {"queue": slow_queue(queue)}
    return {}


def worker_queues(queues: list[str], *, fast_lane_only: bool = False) -> list[str]:
    """The queues a worker asked for ``queues`` consumes: each with its slow lane, unless it is
    kept for the fast lane only. Order is kept; duplicates are dropped."""
    out: list[str] = []
    for queue in queues:
        wanted = [queue]
        if not fast_lane_only and queue in celeryconfig.LANED_QUEUES:
            wanted.append(slow_queue(queue))
        out += [name for name in wanted if name not in out]
    return out


__all__ = ["Lane", "queue_of", "queue_options", "slow_queue", "worker_queues"]

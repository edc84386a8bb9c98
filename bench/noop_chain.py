"""The pipeline benchmark's baseline: a chain of six tasks that do nothing, shaped like the event chain.

Same length, same queues (``kapta.pipeline.*`` and one ``kapta.billing.*`` step, routed by
celeryconfig), same base task (acknowledgement, retry policy), same arguments (an event id). The
last step counts finished chains in Redis so that the benchmark can tell when a round is over: one
INCR, where the real chain's sync step commits the event as done.

A worker registers these tasks only when asked: ``kapta-vendus worker -I bench.noop_chain``.
"""

from __future__ import annotations

from celery import chain

from kapta_vendus.config import get_settings
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask

NOOP_PIPELINE = (
    "kapta.pipeline.bench_noop_validate",
    "kapta.pipeline.bench_noop_normalise",
    "kapta.pipeline.bench_noop_map",
    "kapta.pipeline.bench_noop_rules",
    "kapta.billing.bench_noop_actions",
    "kapta.pipeline.bench_noop_sync",
)
DONE_COUNTER = "kapta:bench:noop_done"

_redis = None


def noop_chain(event_id: int):
    return chain(*(app.signature(name, args=(event_id,), immutable=True) for name in NOOP_PIPELINE))


@app.task(bind=True, base=KaptaTask, name=NOOP_PIPELINE[0])
def noop_validate(self, event_id: int) -> str:
    return "noop"


@app.task(bind=True, base=KaptaTask, name=NOOP_PIPELINE[1])
def noop_normalise(self, event_id: int) -> str:
    return "noop"


@app.task(bind=True, base=KaptaTask, name=NOOP_PIPELINE[2])
def noop_map(self, event_id: int) -> str:
    return "noop"


@app.task(bind=True, base=KaptaTask, name=NOOP_PIPELINE[3])
def noop_rules(self, event_id: int) -> str:
    return "noop"


@app.task(bind=True, base=KaptaTask, name=NOOP_PIPELINE[4])
def noop_actions(self, event_id: int) -> str:
    return "noop"


@app.task(bind=True, base=KaptaTask, name=NOOP_PIPELINE[5])
def noop_sync(self, event_id: int) -> str:
    global _redis
    if _redis is None:  # one client per pool process, made after the fork
        import redis

        _redis = redis.Redis.from_url(get_settings().broker_url)
    _redis.incr(DONE_COUNTER)
    return "noop"

"""The one base task: it owns the transaction, the logging and the retry policy.

Tasks stay thin adapters (take ids, call a service function). Retry classification lives here:
errors that say ``retryable = True`` (Vendus unavailable, rate-limited, outcome unknown) and
transient database/broker errors are retried with jittered exponential backoff, honouring a
rate-limit reset (up to the cap); everything else (a rejection, a bug) is not retried.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager

from celery import Task
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from kapta_vendus.config import get_settings
from kapta_vendus.db.session import Database, database_for

log = logging.getLogger("kapta_vendus.tasks")

# Redis errors are transient wherever they surface (breaker, budget, gate, publishing the next task):
# Redis comes back, and nothing about the event was wrong.
TRANSIENT = (OperationalError, PoolTimeout, ConnectionError, TimeoutError, RedisConnectionError, RedisTimeout,
             BrokerUnavailable)


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False)) or isinstance(exc, TRANSIENT)


def backoff_seconds(retries: int, exc: BaseException | None = None, *, base: float = 2.0,
                    cap: float = 600.0, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff, waiting for a rate limit's announced reset.

    The cap wins over the reset: a countdown is held in worker memory, and one longer than the
    broker's visibility timeout would get the message redelivered while it waits.
    """
    rng = rng or random
    # The exponent is bounded so that 2**retries never overflows a float, whatever ``retries`` is.
    ceiling = min(cap, base * 2.0 ** min(max(retries, 0), 64))
    delay = rng.uniform(base / 2, max(ceiling, base / 2))
    reset = getattr(exc, "reset_after", None)
    if reset is not None:
        delay = max(delay, float(reset) + rng.uniform(0, 1))
    return min(delay, cap)


class KaptaTask(Task):
    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    typing = True

    @property
    def database(self) -> Database:
        return database_for(get_settings().database_url)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with self.database.unit_of_work() as session:
            yield session

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if self.request.called_directly:
                raise
            if self.waits(exc):
                log.warning("%s[%s] waiting: %s", self.name, self.request.id, type(exc).__name__)
                return self.on_wait(exc, args, kwargs)
            max_retries = get_settings().task_max_retries
            if is_retryable(exc) and self.request.retries < max_retries:
                delay = backoff_seconds(self.request.retries, exc)
                log.warning("%s[%s] retry %d/%d in %.1fs: %s", self.name, self.request.id,
                            self.request.retries + 1, max_retries, delay, type(exc).__name__)
                self.on_will_retry(exc, args, kwargs, delay)
                raise self.retry(exc=exc, countdown=delay, max_retries=max_retries) from exc
            if is_retryable(exc):
                log.error("%s[%s] retries exhausted: %s", self.name, self.request.id, type(exc).__name__)
                handled = self.on_exhausted(exc, args, kwargs)
                if handled is not None:
                    return handled
            else:
                log.error("%s[%s] failed without retry: %s", self.name, self.request.id, type(exc).__name__)
                self.on_not_retryable(exc, args, kwargs)
            raise

    # Hooks for subclasses (the pipeline parks its event, or marks it dead, here).
    def waits(self, exc: BaseException) -> bool:
        """True for errors to wait out without counting an attempt (the pipeline's outages)."""
        return False

    def on_wait(self, exc: BaseException, args, kwargs):
        """Park the work. Called only when ``waits`` said True, so a task that waits must say how."""
        raise TypeError(f"{type(self).__name__} waits out {type(exc).__name__} but defines no on_wait")

    def on_will_retry(self, exc: BaseException, args, kwargs, delay: float) -> None:
        pass

    def on_exhausted(self, exc: BaseException, args, kwargs):
        """Return something (not None) to end the task with it instead of failing it."""
        return None

    def on_not_retryable(self, exc: BaseException, args, kwargs) -> None:
        pass

"""One poll per store at a time, whichever worker, process or machine runs it.

* Redis broker (production): a Redis lock with a TTL of the task time limit, so a worker that
  dies holding it frees the store at the latest when its task would have been killed anyway.
* PostgreSQL without Redis: a session-level advisory lock on a connection held for the poll.
  A row lock (``FOR UPDATE SKIP LOCKED`` on the cursor) would not do: a poll commits after every
  page, and a commit releases row locks, so the store would be up for grabs between two pages.
  The advisory lock survives those commits and dies with its connection if the worker dies.
* SQLite (the embedded single-machine default): an in-process lock only. Two processes polling
  the same store at once are not excluded; that is harmless (events are deduplicated by key and
  the cursor only moves forward), just wasted requests. Run one worker there, as the demo does.

``store_lock`` yields True when this caller holds the lock and False when someone else does.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from kapta_vendus.config import Settings
from kapta_vendus.db.session import Database

log = logging.getLogger(__name__)

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()
_redis_clients: dict[str, object] = {}


def lock_name(integration_id: str, store_id: int, what: str = "poll") -> str:
    return f"kapta:lock:{what}:{integration_id}:{store_id}"


def _advisory_key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _redis(url: str):
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(url)
    return client


@contextmanager
def store_lock(settings: Settings, db: Database, name: str, *, ttl: float | None = None) -> Iterator[bool]:
    if settings.uses_redis:
        with _redis_lock(settings.broker_url, name, ttl or settings.task_time_limit) as held:
            yield held
    elif not db.is_sqlite:
        with _advisory_lock(db, name) as held:
            yield held
    else:
        with _local_lock(name) as held:
            yield held


@contextmanager
def _redis_lock(url: str, name: str, ttl: float) -> Iterator[bool]:
    from redis.exceptions import LockError

    lock = _redis(url).lock(name, timeout=ttl, blocking=False)
    held = bool(lock.acquire())
    try:
        yield held
    finally:
        if held:
            try:
                lock.release()
            except LockError:  # expired meanwhile: nothing of ours to release
                log.warning("poll lock %s expired before the poll ended", name)


@contextmanager
def _advisory_lock(db: Database, name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    conn = db.engine.connect()
    try:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()  # session-level lock: it outlives this transaction, which must not stay open
    except Exception:
        conn.invalidate()
        conn.close()
        raise
    try:
        yield held
    finally:
        try:
            if held:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        except Exception:
            # The lock may still be held by this session: never hand it back to the pool.
            log.exception("could not release the advisory lock %s; dropping the connection", name)
            conn.invalidate()
        finally:
            conn.close()


@contextmanager
def _local_lock(name: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    held = lock.acquire(blocking=False)
    try:
        yield held
    finally:
        if held:
            lock.release()

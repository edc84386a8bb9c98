"""Engines, sessions and the unit of work.

Transactions are explicit and roll back by default: ``with db.unit_of_work() as session`` commits
only when the block ends without an exception. Work that must happen only once the data is durable
(enqueueing a Celery task) is registered with ``on_commit`` and runs after the commit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as exc_module
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

log = logging.getLogger(__name__)
_HOOKS = "kapta_after_commit"  # callbacks, in registration order
_MARKS = "kapta_savepoint_marks"  # savepoint -> number of hooks registered before it


def make_engine(url: str, **kwargs) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised via every sqlite test
            # WAL lets the receiver write while workers read; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # No ping before every transaction (one round trip each): connections are recycled before
    # servers and proxies drop idle ones, and only a connection that sat idle for a while is
    # checked at checkout; a dead one is replaced there, so the transaction runs on a good one.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", POOL_RECYCLE)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


POOL_RECYCLE = 1800  # seconds: below the usual idle cut-offs of PostgreSQL proxies and firewalls
IDLE_PING = 30.0  # seconds idle after which a pooled connection is checked before use


def _note_checkin(_dbapi_conn, record) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING:
        return
    try:
        cursor = dbapi_conn.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    except Exception as exc:  # whatever the driver says, the connection is unusable
        # The pool discards this connection and checks out (or opens) another: the one retry.
        raise exc_module.DisconnectionError(f"idle connection dropped: {type(exc).__name__}") from exc


def on_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` after the session's transaction commits; drop it on rollback.

    A hook registered inside a savepoint (``begin_nested``) is dropped when that savepoint rolls
    back, while hooks registered before it survive: the receiver's "insert, and on a duplicate key
    roll back the savepoint" must not lose the enqueue of rows that are still committed.
    """
    session.info.setdefault(_HOOKS, []).append(callback)


def enqueue_after_commit(session: Session, rows: list, enqueue: Callable[[int], None]) -> list[int]:
    """Flush new outbox rows and hand each id to ``enqueue`` once the transaction commits.

    The rows' ids exist only after the flush, and a message sent before the commit could be
    consumed before its row is visible (or for a row that a rollback then removes).
    """
    if not rows:
        return []
    session.flush()
    ids = [row.id for row in rows]

    def _send() -> None:
        for row_id in ids:
            enqueue(row_id)

    on_commit(session, _send)
    return ids


def _run_hooks(session: Session) -> None:
    # after_commit fires only for the outermost transaction, never for a released savepoint.
    hooks = session.info.pop(_HOOKS, [])
    for hook in hooks:
        try:
            hook()
        except Exception:  # a failed enqueue must not undo a commit; the sweeper recovers it
            log.exception("after-commit hook failed")


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_HOOKS, ()))


def _drop_rolled_back_hooks(session: Session, transaction: SessionTransaction) -> None:
    # The transaction that really rolled back is the first savepoint or root from here upwards.
    boundary: SessionTransaction | None = transaction
    while boundary is not None and not boundary.nested and boundary.parent is not None:
        boundary = boundary.parent
    mark = session.info.get(_MARKS, {}).get(boundary) if boundary is not None else None
    if boundary is not None and boundary.nested and mark is not None:
        del session.info.get(_HOOKS, [])[mark:]
    else:
        session.info.pop(_HOOKS, None)


def _forget_transaction(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        # The outermost transaction is over: after a commit the hooks already ran; anything left
        # belongs to a transaction that did not commit.
        session.info.pop(_HOOKS, None)
        session.info.pop(_MARKS, None)


class Database:
    def __init__(self, url: str, **engine_kwargs) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "after_commit", _run_hooks)
        event.listen(self.sessions, "after_transaction_create", _mark_savepoint)
        event.listen(self.sessions, "after_soft_rollback", _drop_rolled_back_hooks)
        event.listen(self.sessions, "after_transaction_end", _forget_transaction)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        session = self.sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @cached_property
    def autocommit(self) -> Engine:
        """The same pool for single statements that commit on their own (the receiver's insert):
        no BEGIN and COMMIT round trips around them."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def dispose(self) -> None:
        self.engine.dispose()


_databases: dict[str, Database] = {}
_lock = threading.Lock()


def database_for(url: str) -> Database:
    """One Database (engine + pool) per URL per process."""
    with _lock:
        db = _databases.get(url)
        if db is None:
            db = _databases[url] = Database(url)
        return db


def forget_connections_after_fork() -> None:
    """In a forked child: drop inherited pooled connections without closing the parent's sockets."""
    for db in list(_databases.values()):
        db.engine.dispose(close=False)


def close_connections() -> None:
    """Close this process's pooled connections (a worker about to exit says goodbye to PostgreSQL)."""
    for db in list(_databases.values()):
        db.dispose()

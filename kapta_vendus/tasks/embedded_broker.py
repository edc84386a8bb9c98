"""The embedded broker: kombu's SQLAlchemy transport, tuned for SQLite and a snappy demo.

kombu passes every transport option straight to ``create_engine``, so options such as the
polling interval cannot be set the usual way; this subclass sets them in code instead, and gives
SQLite a busy timeout and WAL so that workers and the receiver do not trip over each other's locks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Channel as _Channel
from kombu.transport.sqlalchemy import Transport as _Transport
from sqlalchemy import create_engine, event


class Channel(_Channel):
    def _engine_from_config(self):
        engine = create_engine(self.connection.client.hostname, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - runs inside the broker connection
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine


class Transport(_Transport):
    Channel = Channel
    polling_interval = 0.2


def declare_queues(broker_url: str, queues: Iterable[str] | None = None) -> None:
    """Create the embedded broker's tables and a row per queue (every queue of ``celeryconfig`` by
    default), once, before several processes start; nothing to do on another broker.

    kombu's SQLAlchemy transport creates both on first use, guarded by a lock that is only per
    process: a worker, beat and the receiver starting together can race on the same ``CREATE
    TABLE`` or queue row, and the loser stops with an error. Declared beforehand, nobody races.
    """
    if not broker_url.startswith("sqla+"):
        return
    from kombu import Connection, Queue

    import celeryconfig

    install()
    sqlite_file = broker_url.partition(":///")[2] if broker_url.startswith("sqla+sqlite:") else ""
    if sqlite_file:  # the data dir may not exist yet (a first `db upgrade`): SQLite would not create it
        Path(sqlite_file).parent.mkdir(parents=True, exist_ok=True)
    with Connection(broker_url) as connection:
        channel = connection.default_channel
        for name in celeryconfig.QUEUES if queues is None else queues:
            Queue(name, routing_key=name)(channel).declare()


def install() -> None:
    """Make ``sqla+…`` broker URLs use this transport in this process."""
    TRANSPORT_ALIASES["sqla"] = f"{__name__}:Transport"
    TRANSPORT_ALIASES["sqlalchemy"] = f"{__name__}:Transport"

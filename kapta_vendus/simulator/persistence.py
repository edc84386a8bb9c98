"""Optional SQLite persistence: every record is a JSON row keyed by (kind, account key, id).

The in-memory state is the source of truth; this file only mirrors it. Records changed during a
request are written in one transaction when the request ends (``SimulatorState.transaction``), and
everything is read back at start-up. Indexes (numbering, tx_id, numbers) are rebuilt from the rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from decimal import Decimal

KIND_ORDER = ("account", "store", "register", "payment_method", "product", "client", "document")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    account_key TEXT NOT NULL,
    id INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, account_key, id)
)
"""


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__}")


class SqliteStore:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._conn.commit()

    def load(self) -> Iterator[tuple[str, str, dict]]:
        """Yield (kind, account key, record) in dependency order, documents by increasing id."""
        with self._lock:
            for kind in KIND_ORDER:
                cursor = self._conn.execute("SELECT account_key, body FROM records WHERE kind = ? ORDER BY id", (kind,))
                for account_key, body in cursor:
                    yield kind, account_key, json.loads(body)

    def save(self, rows: Iterable[tuple[str, str, int, dict]]) -> None:
        payload = [(kind, key, rid, json.dumps(record, default=_default)) for kind, key, rid, record in rows]
        if not payload:
            return
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO records (kind, account_key, id, body) VALUES (?, ?, ?, ?)", payload
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

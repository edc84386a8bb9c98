"""The per-store poll lock on the embedded default (SQLite): in-process only, as documented."""

from __future__ import annotations

from kapta_vendus.db.session import Database
from kapta_vendus.reconcile.locks import lock_name, store_lock


def test_sqlite_polls_of_one_store_exclude_each_other_within_a_process(settings, tmp_path):
    db = Database(f"sqlite:///{tmp_path}/lock.sqlite3")
    name = lock_name("integration-1", 7)
    try:
        with store_lock(settings, db, name) as held:
            assert held
            with store_lock(settings, db, name) as again:
                assert not again
            with store_lock(settings, db, lock_name("integration-1", 8)) as other_store:
                assert other_store
        with store_lock(settings, db, name) as after:
            assert after
    finally:
        db.dispose()

"""The worker's main process makes the database engine before it forks its pool processes.

Each pool process would otherwise import the driver and build the engine on its first task, and
again after every recycle (``worker_max_tasks_per_child``). Made in the parent, they are inherited.
"""

from __future__ import annotations

from celery.signals import worker_init

from kapta_vendus.config import Settings, get_settings, set_settings
from kapta_vendus.db import session as db_session
from kapta_vendus.tasks.app import app


def test_worker_init_makes_the_engine_without_connecting(monkeypatch, tmp_path):
    previous = get_settings()
    url = f"sqlite:///{tmp_path}/state.sqlite3"
    monkeypatch.setattr(db_session, "_databases", {})
    set_settings(Settings(database_url=url))
    try:
        worker_init.send(sender=None, app=app)
        db = db_session._databases.get(url)
        assert db is not None, "no engine was made for the configured database"
        assert db.engine.pool.checkedout() == 0
        assert not (tmp_path / "state.sqlite3").exists()  # no connection was opened
    finally:
        set_settings(previous)

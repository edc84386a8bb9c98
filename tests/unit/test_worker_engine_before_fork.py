"""The worker's main process (and the web master, ``deploy/gunicorn.conf.py``) warms up before it forks.

Each pool process would otherwise import the driver, build the engine, configure the mappers and
build the hot ORM queries on its first task, and again after every recycle
(``worker_max_tasks_per_child``). Done in the parent (``db.warm.before_fork``), they are inherited.
"""

from __future__ import annotations

from celery.signals import worker_init

from kapta_vendus.config import Settings, get_settings, set_settings
from kapta_vendus.db import session as db_session
from kapta_vendus.integrations.service import integration_query
from kapta_vendus.pipeline.runner import _load_query
from kapta_vendus.tasks.app import app


def test_worker_init_makes_the_engine_without_connecting(monkeypatch, tmp_path):
    previous = get_settings()
    url = f"sqlite:///{tmp_path}/state.sqlite3"
    monkeypatch.setattr(db_session, "_databases", {})
    integration_query.cache_clear()
    _load_query.cache_clear()
    set_settings(Settings(database_url=url))
    try:
        worker_init.send(sender=None, app=app)
        db = db_session._databases.get(url)
        assert db is not None, "no engine was made for the configured database"
        assert db.engine.pool.checkedout() == 0
        assert not (tmp_path / "state.sqlite3").exists()  # no connection was opened
        assert integration_query.cache_info().currsize == 1  # the receiver's tenant query, built
        assert _load_query.cache_info().currsize >= 3  # each stage's load query, built
    finally:
        set_settings(previous)

"""Work done once in a parent process, before it forks web or pool processes.

A forked process inherits what its parent computed. Left to each child, the database driver's
import, SQLAlchemy's mapper configuration and the loader paths of the hot ORM queries are paid on
its first request or task, and again in every replacement (gunicorn's ``max_requests`` and
Celery's ``worker_max_tasks_per_child`` replace them every thousand or so): measured in the web
workers, about 12 % of an accepted push's CPU went to them. No connection is opened here.
"""

from __future__ import annotations

from sqlalchemy.orm import configure_mappers


def before_fork(database_url: str) -> None:
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.service import integration_query
    from kapta_vendus.pipeline.runner import load_queries

    database_for(database_url)  # the engine (and so the driver's import), no connection
    configure_mappers()
    integration_query()
    load_queries()

"""The Celery application, configured from ``celeryconfig``."""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_init, worker_process_init

from kapta_vendus import metrics
from kapta_vendus.config import Settings, get_settings, set_settings
from kapta_vendus.logs import install_celery_hooks
from kapta_vendus.tasks import embedded_broker, redis_broker
from kapta_vendus.tasks.prepared import forget_templates

embedded_broker.install()
redis_broker.install()  # one Redis client per channel, not one per publish and acknowledgement
install_celery_hooks()  # JSON logs bound to task_id (kapta_vendus.logs)
metrics.install_celery_hooks()  # multiprocess samples of exited children
app = Celery("kapta_vendus", include=["kapta_vendus.tasks.registry"])
# Lazy: celeryconfig (and so the environment) is read on first use of app.conf, never at import.
app.config_from_object("celeryconfig")


def configure(settings: Settings) -> Celery:
    """Point the app (and the process-wide settings) at explicit settings: tests and the demo."""
    import celeryconfig

    set_settings(settings)
    app.close()  # drop pooled broker connections: they would still point at the old broker
    app.conf.update(celeryconfig.for_settings(settings))
    forget_templates()  # learned under the old configuration
    return app


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    # A forked child must not share the parent's database connections.
    from kapta_vendus.db.session import forget_connections_after_fork

    forget_connections_after_fork()


@worker_init.connect
def _warm_before_fork(**_kwargs) -> None:
    # In the worker's main process: every pool process inherits the engine, the driver's import and
    # the configured mappers instead of paying for them on its first task and after each recycle.
    from kapta_vendus.db.warm import before_fork

    before_fork(get_settings().database_url)

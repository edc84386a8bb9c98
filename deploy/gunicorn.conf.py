"""Gunicorn settings for the web process (receiver and admin API).

Used by the Procfile and the systemd unit: ``gunicorn -c deploy/gunicorn.conf.py
"kapta_vendus.web:create_app()"``. Everything that differs between hosts comes from the environment.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys

# PaaS convention: listen on $PORT on every interface. Behind nginx on the same host, set
# GUNICORN_BIND=127.0.0.1:8000 (the systemd unit does) so that only the proxy can reach gunicorn.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# 2 * cores + 1, capped: every process has its own database pool (5 + 10 overflow connections), and
# more processes than this would exhaust PostgreSQL's default max_connections before helping.
# WEB_CONCURRENCY (the PaaS convention) overrides it.
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 8))
worker_class = "sync"  # nginx buffers slow clients; a request is a short commit + enqueue

# A request that takes longer than this is stuck (the receiver only persists and enqueues).
timeout = 30
# On SIGTERM/SIGHUP a worker finishes its in-flight requests: an accepted event has been committed
# before it answers 202, but the client must still get that answer.
graceful_timeout = 30
keepalive = 5

# Restart workers now and then so that a slow leak cannot grow forever; the jitter keeps them from
# all restarting at the same moment.
max_requests = 1000
max_requests_jitter = 100

# Logs go to stdout/stderr: the process manager (systemd journal, PaaS log drain) collects them.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("KAPTA_LOG_LEVEL", "info").lower()
# The query string is left out of the access log: it may carry an api_key.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# Prometheus multiprocess mode: every worker writes its samples to files in this directory and
# /metrics adds them up, with those of the Celery workers of the same host (same directory: both
# default to $KAPTA_DATA_DIR/prometheus). Set before the app, so before prometheus-client, is imported.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                      os.path.join(os.environ.get("KAPTA_DATA_DIR") or "var", "prometheus"))
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):
    """A worker that exits drops its live samples (its counters stay in the sums)."""
    from kapta_vendus.metrics import mark_process_dead

    mark_process_dead(worker.pid)


# Import the application once in the master: a configuration error stops the start with one clear
# message instead of a crash loop of workers, and workers fork faster.
preload_app = True

# Worker heartbeat files on tmpfs rather than a disk that may stall (gunicorn's own advice); the
# systemd units keep /dev/shm writable.
_TMPFS = "/dev/shm"  # noqa: S108 - not for data, only gunicorn's per-worker heartbeat files
if os.path.isdir(_TMPFS):
    worker_tmp_dir = _TMPFS

# Gunicorn 25.1+ opens a control socket (for gunicornc) under $HOME by default; under systemd the
# home is read-only, so it goes to the unit's RuntimeDirectory instead. Older versions ignore this.
if os.environ.get("RUNTIME_DIRECTORY"):
    control_socket = os.path.join(os.environ["RUNTIME_DIRECTORY"].split(":")[0], "gunicorn.ctl")


def when_ready(server) -> None:
    # Before the workers are forked: what each would otherwise compute on its first request, and
    # again in every replacement (the driver's import, the mappers, the tenant query; db/warm.py).
    from kapta_vendus.config import get_settings
    from kapta_vendus.db.warm import before_fork

    before_fork(get_settings().database_url)
    # The preloaded app's objects are shared with every worker by copy-on-write; a garbage collection
    # in a worker would touch (and so copy) them all. Frozen, the collector leaves them alone.
    gc.collect()
    gc.freeze()


def worker_exit(server, worker) -> None:
    """A worker leaves without the interpreter's teardown.

    Why: with ``max_requests`` a worker exits every thousand or so requests, and tearing down a
    preloaded interpreter frees every object it inherited, which copies every shared page first.
    Measured with ``bench/bench_receiver.py``, that cost more CPU than the worker's last thousand
    requests themselves (about 1 s per restart; 0.5 ms of every no-op request, 1.1 ms of every
    accepted event). Its requests are finished by now (graceful exit), so only its connections
    and buffered output need closing before it goes.
    """
    from kapta_vendus.db.session import close_connections

    status = sys.exc_info()[1]  # gunicorn calls this while the worker's SystemExit propagates
    if isinstance(status, SystemExit):
        code = status.code if isinstance(status.code, int) else (0 if status.code is None else 1)
    else:
        code = 0 if status is None else 1  # anything else would have ended the process with an error
    try:
        close_connections()
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)


def post_fork(server, worker) -> None:
    # With preload_app the master may have opened database connections; a forked worker must not
    # share their sockets, so it drops them (without closing the parent's) and opens its own.
    from kapta_vendus.db.session import forget_connections_after_fork

    forget_connections_after_fork()

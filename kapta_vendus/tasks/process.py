"""Running Celery's own worker and beat commands with their exit code kept.

``Celery.worker_main`` (and ``Celery.start``) run the ``celery`` click group with
``standalone_mode=False`` and throw its exit code away, so a worker that stopped on a fatal error
(kombu failing in ``restore_unacked_once`` after Redis came back empty) exited 0, and a process
manager told to restart failed processes left it down. Here the code is returned to the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from celery import Celery
from click.exceptions import Exit

log = logging.getLogger(__name__)


def celery_main(app: Celery, argv: Sequence[str]) -> int:
    """Run ``celery <argv>`` for ``app``; returns its exit code (non-zero when Celery failed)."""
    from celery.bin.celery import celery

    celery.params[0].default = app
    try:
        code = celery.main(args=list(argv), standalone_mode=False)
    except Exit as exc:
        code = exc.exit_code
    finally:
        celery.params[0].default = None
    return code if isinstance(code, int) else 0


def run_beat(app: Celery, argv: Sequence[str], *, run: Callable[[Celery, Sequence[str]], int] | None = None,
             sleep: Callable[[float], None] = time.sleep, restarts: int | None = None) -> int:
    """Beat that outlives a broker restart: when beat stops on an error it is started again.

    Beat holds its RedBeat lock and schedule in Redis; when Redis restarts, beat's scheduler fails
    and beat exits. Its state is in Redis (or re-created from the schedule), so starting it again
    is all it takes. A clean stop (exit code 0: SIGTERM, SIGINT) ends the loop. ``restarts``
    bounds the loop for tests.
    """
    attempt = 0
    while True:
        try:
            code = (run or celery_main)(app, argv)
        except Exception as exc:  # noqa: BLE001 - whatever stopped beat, it is started again
            log.error("beat stopped: %s: %s", type(exc).__name__, exc)
            code = 1
        if code == 0:
            return 0
        attempt += 1
        if restarts is not None and attempt > restarts:
            return code
        delay = min(30.0, 2.0 ** min(attempt, 5))
        log.warning("beat exited with code %s; starting it again in %.0fs", code, delay)
        sleep(delay)

"""The deployed gunicorn configuration recycles its workers cleanly and cheaply.

``deploy/gunicorn.conf.py`` restarts a worker every thousand or so requests (``max_requests``), and
its ``worker_exit`` skips the interpreter's teardown (which cost about a second of CPU per restart,
see the hook). Skipping it must not skip what matters: the worker's exit status, its answers, and
its database connections, which it closes itself before it goes.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, make_url, text

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


APPLICATION = "kapta-gunicorn-restarts-test"  # names the web workers' connections, and only theirs


def _backends(admin_url: str) -> int:
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                               {"a": APPLICATION})
    finally:
        engine.dispose()


def test_workers_restart_every_few_requests_exit_zero_and_close_their_connections(
        pg_database_url, pg_admin_url, redis_url, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAPTA_", "GUNICORN_", "PROMETHEUS_"))}
    database_url = make_url(pg_database_url).update_query_dict({"application_name": APPLICATION})
    env.update(KAPTA_DATABASE_URL=database_url.render_as_string(hide_password=False),
               KAPTA_BROKER_URL=redis_url, KAPTA_DATA_DIR=str(tmp_path / "var"),
               GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", RUNTIME_DIRECTORY=str(tmp_path),
               GUNICORN_CMD_ARGS="--max-requests 3 --max-requests-jitter 1")
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                                   "kapta_vendus.web:create_app()"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.2)
        # /readyz opens a database connection in whichever worker answers.
        answers = [requests.get(f"{url}/readyz", timeout=10, headers={"Connection": "close"}).status_code
                   for _ in range(30)]
        assert answers == [200] * 30
        time.sleep(1)  # the last recycled worker's exit
        assert _backends(pg_admin_url) <= 2  # one per live worker at most: none left behind
    finally:
        server.terminate()
        server.wait(30)
    text_log = log.read_text()
    assert len(re.findall(r"Worker exiting", text_log)) >= 8, text_log[-3000:]
    assert "exited with code" not in text_log and "Exception during worker exit" not in text_log, text_log[-3000:]
    assert "Traceback" not in text_log, text_log[-3000:]

"""/metrics: samples written by several processes are added up, and the state gauges come from the database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

WRITE = """
from kapta_vendus import metrics
from kapta_vendus.logs import bound
metrics.event_accepted("int-x", "sale.completed", "push")
with bound(integration="int-x"):
    metrics.vendus_request("POST", 201, 0.25)
"""
READ = """
import sys
from kapta_vendus import metrics
sys.stdout.write(metrics.exposition([])[0].decode())
"""


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_samples_of_every_process_are_summed(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(3):  # three worker processes, each gone before the scrape
        _python(WRITE, env)

    text = _python(READ, env)

    assert 'kapta_events_accepted_total{integration="int-x",source="push",type="sale.completed"} 3.0' in text
    assert 'kapta_vendus_request_duration_seconds_count{integration="int-x",method="POST",status="201"} 3.0' in text


def test_metrics_server_serves_a_worker_hosts_samples(tmp_path):
    """A host with workers and no web process: `kapta-vendus metrics-server` serves their samples."""
    import socket
    import time

    import requests

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    _python(WRITE, env)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "kapta_vendus", "metrics-server", "--port", str(port)],
                              env={**env, "KAPTA_DATA_DIR": str(tmp_path / "var")}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and server.poll() is None, "metrics-server did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)
    assert 'kapta_events_accepted_total{integration="int-x",source="push",type="sale.completed"} 1.0' in text

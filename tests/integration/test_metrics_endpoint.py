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

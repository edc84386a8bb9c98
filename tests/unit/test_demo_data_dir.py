"""The demo's temporary data dir: removed after a demo that worked, kept after one that failed,
because the failure's message points at the logs in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kapta_vendus.config import Settings
from kapta_vendus.demo.runner import DemoError, demo_settings


def test_removed_after_a_demo_that_worked():
    with demo_settings(Settings(), keep=False) as settings:
        data_dir = Path(settings.data_dir)
        assert data_dir.is_dir()
    assert not data_dir.exists()


def test_kept_after_a_demo_that_failed(tmp_path):
    with pytest.raises(DemoError), demo_settings(Settings(), keep=False) as settings:
        data_dir = Path(settings.data_dir)
        (data_dir / "logs").mkdir()
        raise DemoError(f"worker exited with 1; see {data_dir}/logs/worker.log")
    try:
        assert (data_dir / "logs").is_dir()
    finally:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


def test_the_embedded_broker_tables_and_queues_exist_before_the_processes_start(tmp_path):
    """kombu creates them on first use with a lock per process only; declared beforehand, a worker,
    beat and the receiver starting together do not race on them."""
    import sqlite3

    import celeryconfig
    from kapta_vendus.tasks.embedded_broker import declare_queues

    url = f"sqla+sqlite:///{tmp_path}/var/broker.sqlite3"  # var/ does not exist yet
    declare_queues(url)
    declare_queues(url)  # again: nothing to do, no error
    with sqlite3.connect(tmp_path / "var" / "broker.sqlite3") as db:
        names = sorted(row[0] for row in db.execute("select name from kombu_queue"))
    assert names == sorted(celeryconfig.QUEUES)

"""A real ``kapta-vendus worker`` and ``kapta-vendus beat`` while their Redis restarts empty.

The broker is this test's own ``redis-server`` (another port, no persistence), killed and started
again with nothing in it, as a crashed Redis without AOF comes back. What must never happen is
what the shipped units could not recover from: a worker that stopped and exited 0 (a process
manager "restarting on failure" leaves it down while the receiver keeps answering 202). So after
the restart the worker either still consumes tasks, or it has exited with a non-zero code; and
beat is still running and publishing its schedule.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kapta_vendus.db import migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180),
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")]

CLI = str(Path(sys.executable).with_name("kapta-vendus"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir, self.process = _free_port(), workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        _wait(lambda: _pings(client), "redis-server to answer")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _wait(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([CLI, *args], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def test_worker_and_beat_ride_out_a_redis_restart_with_no_data(own_redis, tmp_path):
    database_url = f"sqlite:///{tmp_path}/state.sqlite3"
    migrate.upgrade(database_url)
    env = {**os.environ, "KAPTA_DATA_DIR": str(tmp_path), "KAPTA_DATABASE_URL": database_url,
           "KAPTA_BROKER_URL": own_redis.url, "KAPTA_LOG_LEVEL": "INFO", "KAPTA_SWEEP_INTERVAL": "1",
           "KAPTA_RESUME_INTERVAL": "1"}
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = _spawn(["worker", "-Q", "ingest", "--pool=solo", "--hostname=restart@%h"], env, worker_log)
    beat = _spawn(["beat", "--max-interval=1"], env, beat_log)
    try:
        _wait(lambda: "sweep_inbox" in worker_log.read_text() and "succeeded" in worker_log.read_text(),
              "the worker to run beat's sweeper")

        own_redis.kill()
        time.sleep(2)
        own_redis.start()  # empty: no queues, no unacked hash, no RedBeat lock or schedule
        mark = len(worker_log.read_text())

        def recovered() -> bool:
            if worker.poll() is not None:
                return True  # exited: checked below that the code says it failed
            return worker_log.read_text()[mark:].count("succeeded") >= 2

        _wait(recovered, "the worker to consume again or exit", timeout=120)
        assert worker.poll() in (None, *range(1, 256)), "a worker that stopped must not exit 0"
        if worker.poll() is not None:
            assert worker.returncode != 0
        else:
            # It consumed beat's jobs after the restart: beat is alive and publishing, too.
            assert beat.poll() is None, beat_log.read_text()[-2000:]
    finally:
        for process in (worker, beat):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (worker, beat):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

"""What the benchmarks share: a scratch PostgreSQL database, a Redis database number, the child
processes (reusing the demo's helpers), CPU accounting from /proc, and small statistics.

Everything is loopback only and bounded: each benchmark creates its own database and drops it, and
empties its Redis database number when it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import redis
import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kapta_vendus.config import Settings
from kapta_vendus.demo.runner import Processes, free_port, process_env

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/11"  # must be empty; the test suites use 10, 12, 13, 14 and 15
CLK_TCK = os.sysconf("SC_CLK_TCK")

__all__ = ["free_port"]  # re-exported from the demo's helpers for the benchmarks


class BenchError(RuntimeError):
    pass


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated to head, dropped afterwards."""
    from kapta_vendus.db import migrate

    name = f"kapta_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield url
    finally:
        from kapta_vendus.db.session import _databases

        for db in _databases.values():
            db.dispose()
        _databases.clear()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def redis_database(url: str) -> Iterator[redis.Redis]:
    """The benchmark's Redis database number: must start empty; flushed when the benchmark ends."""
    client = redis.Redis.from_url(url)
    if client.dbsize():
        raise BenchError(f"{url} is not empty; pick an unused database number with --redis-url")
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@contextmanager
def bench_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kapta-vendus-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"logs kept in {path}")
        else:
            import shutil

            shutil.rmtree(path, ignore_errors=True)


def bench_settings(data_dir: Path, database_url: str, redis_url: str, log_level: str) -> Settings:
    return Settings(data_dir=str(data_dir / "var"), database_url=database_url, broker_url=redis_url,
                    secret_keys=(Fernet.generate_key().decode(),), log_level=log_level)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a benchmark that runs on its own database and Redis number: --log-level,
    --pg-admin-url, --redis-url, --json and --keep."""
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the logs")


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM (``kill``, ``timeout``) unwinds the run like Ctrl-C, so that its clean-ups stop the
    Redis, PostgreSQL, workers and servers it started instead of leaving them running."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def enter_run(stack: ExitStack, args: argparse.Namespace) -> tuple[Path, str, redis.Redis, Settings]:
    """On ``stack``, in this order: the log directory, the scratch database and the Redis database
    number of ``args`` (see ``add_run_arguments``); returns them with the settings that use them."""
    workdir = stack.enter_context(bench_dir(args.keep))
    database_url = stack.enter_context(scratch_database(args.pg_admin_url))
    broker = stack.enter_context(redis_database(args.redis_url))
    return workdir, database_url, broker, bench_settings(workdir, database_url, args.redis_url, args.log_level)


class BenchProcesses(Processes):
    """The demo's process set, plus any command line, and a stop that leaves no pool child behind."""

    def __init__(self, log_dir: Path, settings: Settings, **extra_env: str) -> None:
        # The bench package (the no-op tasks) must be importable by the worker.
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        super().__init__(log_dir, process_env(settings, PYTHONPATH=path, **extra_env))

    def start_argv(self, name: str, argv: Sequence[str], *, cwd: str | None = None,
                   env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop_all
        child = subprocess.Popen(list(argv), env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=cwd or str(REPO))
        self.children.append((name, child, log))
        return child

    def start(self, name: str, *args: str) -> subprocess.Popen:
        return self.start_argv(name, [sys.executable, "-m", "kapta_vendus", *args])

    def log_of(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def wait_log(self, name: str, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log_of(name):
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not log {needle!r} within {timeout:.0f}s")
            time.sleep(0.2)

    def stop_all(self) -> None:
        super().stop_all()
        for _, child, _ in self.children:  # each child leads its own group (start_new_session)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)


def wait_http(url: str, processes: Processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        processes.check_alive()
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.2)


# -- CPU accounting -------------------------------------------------------------------------------------

def _stat_fields(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def session_cpu(session_id: int) -> float:
    """CPU seconds of every process in a session, including reaped children (gunicorn/Celery restarts).

    Each live process counts its own time plus that of the children it has waited for, so a child
    that exits between two samples moves from one term to the other without being counted twice.
    """
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fields = _stat_fields(pid)
        # After "pid (comm)": state ppid pgrp session ... utime(14) stime cutime cstime (fields 3+).
        if fields and int(fields[3]) == session_id:
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / CLK_TCK


def pids_cpu(pids: Sequence[int]) -> dict[int, float]:
    """CPU seconds of each process still alive (by pid)."""
    seconds = {}
    for pid in pids:
        fields = _stat_fields(str(pid))
        if fields:
            seconds[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return seconds


class PostgresCpu:
    """CPU of the PostgreSQL server processes connected to the benchmark's own database.

    A backend that appears during a round counts from its start; one that exits during a round
    (a pool connection closed when its process is recycled) loses what it spent in the round, so
    the figure is a slight underestimate.
    """

    def __init__(self, admin_url: str, database_url: str) -> None:
        self.admin_url, self.name = admin_url, make_url(database_url).database

    def backends(self) -> list[int]:
        engine = create_engine(self.admin_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                         {"d": self.name}).scalars())
        finally:
            engine.dispose()

    def start(self) -> dict[int, float]:
        return pids_cpu(self.backends())

    def since(self, start: dict[int, float]) -> float:
        now = pids_cpu([*start, *self.backends()])
        return sum(cpu - start.get(pid, 0.0) for pid, cpu in now.items())


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


# -- statistics ------------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def order_of_rounds(rounds: int) -> list[tuple[str, str]]:
    """ABBA: (baseline, subject), (subject, baseline), ... so that a drift in load favours neither."""
    return [("baseline", "subject") if i % 2 == 0 else ("subject", "baseline") for i in range(rounds)]


# -- events -----------------------------------------------------------------------------------------------

def cafe_sale(event_id: str, sale_id: str, store_id: int) -> dict:
    """An anonymous café sale paid in cash: the defaults issue one FS, with one Vendus POST."""
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {"id": event_id, "type": "sale.completed", "occurred_at": now, "store_id": store_id,
            "data": {"sale_id": sale_id, "closed_at": now, "customer": None,
                     "lines": [{"reference": "CAFE", "title": "Café", "qty": "2", "unit_price": "0.80",
                                "tax": "RED"},
                               {"reference": "PASTEL", "title": "Pastel de nata", "qty": "1",
                                "unit_price": "1.30", "tax": "INT"}],
                     "payments": [{"method": "cash", "amount": "2.90", "status": "paid"}],
                     "payment_status": "paid"}}

"""The whole service as processes on its own Redis and PostgreSQL: what the fault runs break.

It extends the e2e ``Stack`` (same environment, CLI calls, simulator and database helpers) with
what a longer run needs: the services of its own (``services``), a receiver on a fixed port so
that a restart keeps the senders' URL, several named workers, and optional command prefixes so
that each process may run in a network namespace of its own (``bench/hosts``).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from bench.chaos.e2e import API_KEY, CLI, REPO, ManagedProcess, Stack, start_process, wait_until
from bench.chaos.services import OwnPostgres, OwnRedis

# Short limits, so that what the sweeper and Redis redelivery recover is recovered within the run.
# The ratios between them are the production ones: visibility > task limit < sweep grace.
FAST_RECOVERY = {
    "KAPTA_TASK_TIME_LIMIT": "30",
    "KAPTA_VISIBILITY_TIMEOUT": "45",
    "KAPTA_SWEEP_GRACE": "40",
    "KAPTA_SWEEP_INTERVAL": "5",
    "KAPTA_VENDUS_TIMEOUT": "5",
    "KAPTA_VENDUS_CONNECT_TIMEOUT": "3",
    "KAPTA_LOG_LEVEL": "WARNING",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class WorkerSpec:
    """One worker process: its name, Celery options (pool, concurrency, queues) and where it runs."""

    name: str
    args: Sequence[str] = ("--concurrency", "2", "--pool", "prefork")
    prefix: Sequence[str] = ()


@dataclass
class Cluster(Stack):
    workers: dict[str, ManagedProcess] = field(default_factory=dict)
    worker_specs: dict[str, WorkerSpec] = field(default_factory=dict)
    receiver_port: int = 0
    receiver_host: str = "127.0.0.1"
    receiver_prefix: Sequence[str] = ()
    sim_host: str = "127.0.0.1"
    sim_prefix: Sequence[str] = ()

    def _start_in(self, prefix: Sequence[str], name: str, *args: str) -> ManagedProcess:
        process = start_process(name, [*prefix, *CLI, *args], self.env(), self.log_dir, cwd=str(REPO))
        self.processes.append(process)
        return process

    # -- simulator ---------------------------------------------------------------------------------
    def start_simulator(self, *extra: str, port: int | None = None) -> None:
        port = port or free_port(self.sim_host)
        self.simulator = self._start_in(self.sim_prefix, "simulator", "simulator", "--host", self.sim_host,
                                        "--port", str(port), "--api-key", API_KEY, "--quiet", *extra)
        self.sim_url = f"http://{self.sim_host}:{port}"
        self.simulator.wait_for_log(r"simulator listening on", timeout=60)
        wait_until(lambda: self.http.get(f"{self.sim_url}/ws/v1.1/account", auth=(API_KEY, ""), timeout=5).ok,
                   timeout=60, what="the simulator")
        self.store_id = int(self.sim_get("stores/")[0]["id"])
        self.account_id = str(self.sim_get("account")["id"])

    # -- receiver ----------------------------------------------------------------------------------
    def start_receiver_fixed(self, workers: int = 2) -> None:
        """gunicorn on a fixed port: a restart must come back where the senders send."""
        self.receiver_port = self.receiver_port or free_port(self.receiver_host)
        self.receiver = self._start_in(self.receiver_prefix, "receiver", "serve", "--host", self.receiver_host,
                                       "--port", str(self.receiver_port), "--workers", str(workers))
        self.receiver_url = f"http://{self.receiver_host}:{self.receiver_port}"
        wait_until(lambda: self.http.get(f"{self.receiver_url}/healthz", timeout=5).status_code in (200, 503),
                   timeout=60, what="the receiver", describe=self.receiver.describe)

    def restart_receiver(self) -> None:
        assert self.receiver is not None
        self.receiver.stop()
        self.start_receiver_fixed()

    # -- workers -----------------------------------------------------------------------------------
    def start_worker_spec(self, spec: WorkerSpec, *, wait: bool = True) -> ManagedProcess:
        self.worker_specs[spec.name] = spec
        unique = f"{spec.name}-{uuid.uuid4().hex[:4]}@%h"
        process = self._start_in(spec.prefix, spec.name, "worker", *spec.args, "-n", unique,
                                 "--without-mingle", "--without-gossip")
        self.workers[spec.name] = process
        if wait:
            # "ready." is an INFO line; the runs log at WARNING, so the queue banner has to do.
            process.wait_for_log(r"\[queues\]", timeout=90)
        return process

    def restart_worker(self, name: str) -> ManagedProcess:
        return self.start_worker_spec(self.worker_specs[name])

    def start_beat_in(self, prefix: Sequence[str] = ()) -> ManagedProcess:
        self.beat = self._start_in(prefix, "beat", "beat")
        self.beat.wait_for_log(r"beat|Starting|Scheduler", timeout=60)
        return self.beat

    def set_limits(self, **limits: float) -> None:
        """The integration's ``limits`` (as its YAML's ``limits:`` block would set them), before any event."""
        from sqlalchemy.orm import Session

        from kapta_vendus.db.models import Integration

        with Session(self.engine) as session, session.begin():
            integration = session.get(Integration, self.integration_id)
            integration.config = {**(integration.config or {}), "limits": {**(integration.config or {}).get(
                "limits", {}), **limits}}

    def pids(self) -> dict[str, list[int]]:
        """Every process of the service with its children (pool processes, gunicorn workers)."""
        named = {"receiver": self.receiver, "beat": self.beat, "simulator": self.simulator, **self.workers}
        return {name: [p.pid, *p.children()] for name, p in named.items() if p is not None and p.alive}


@contextmanager
def own_services(log_dir: Path, *, host: str = "127.0.0.1", prefix: Sequence[str] = ()
                 ) -> Iterator[tuple[OwnRedis, OwnPostgres]]:
    with ExitStack() as stack:
        redis_server = OwnRedis(free_port(host) if host == "127.0.0.1" else 6390, log_dir, host=host,
                                prefix=prefix).start()
        stack.callback(redis_server.stop)
        postgres = OwnPostgres(free_port(host) if host == "127.0.0.1" else 5440, log_dir, host=host, prefix=prefix)
        stack.callback(postgres.destroy)
        postgres.init()
        postgres.start()
        yield redis_server, postgres


def new_cluster(log_dir: Path, database_url: str, redis_url: str, **env: str) -> Cluster:
    return Cluster(log_dir, database_url, redis_url, Fernet.generate_key().decode(), extra_env=dict(env))

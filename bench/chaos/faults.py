"""The scripted faults of a ledger run, applied one after the other while the senders send.

Each fault is a function of the cluster that returns when the fault is over (the service is back,
or the fault rule is lifted). Between faults a *supervisor* restarts any process that died, as
systemd's ``Restart=always`` does in production (``deploy/systemd``): a Celery worker or beat
may exit when its broker vanishes, and that is part of what is recovered.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.chaos.cluster import Cluster
from bench.chaos.ledger import in_flight_count
from bench.chaos.services import OwnPostgres, OwnRedis

# Simulator trouble at about 15 % of requests: server errors, rate limits, timeouts (the
# connection is dropped after the client's 5 s timeout) and documents committed whose answer is lost.
FLAKY_VENDUS = {"seed": 13, "rules": [
    {"errors": {"500": 0.03, "502": 0.02, "503": 0.02, "429": 0.03}},
    {"drop_rate": 0.02, "drop_delay_ms": 6000},
    {"methods": ["POST"], "paths": ["documents"], "commit_then_drop_rate": 0.04},
]}
VENDUS_DOWN = {"rules": [{"errors": {"503": 0.5, "502": 0.5}}]}


@dataclass
class Profile:
    gap: float  # seconds between two faults
    postgres_down: float
    vendus_down: float
    destination_down: float = 10


FULL = Profile(gap=12, postgres_down=20, vendus_down=180, destination_down=60)
CI = Profile(gap=3, postgres_down=6, vendus_down=15, destination_down=10)


@dataclass
class FaultLog:
    entries: list[tuple[float, str]] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    last_fault_end: float = 0.0

    def note(self, what: str) -> None:
        self.entries.append((time.time(), what))
        print(f"  fault: {what}", flush=True)


def supervise(cluster: Cluster, log: FaultLog) -> None:
    """Restart what died (Restart=always)."""
    for name, process in list(cluster.workers.items()):
        if not process.alive:
            log.restarts.append(name)
            cluster.restart_worker(name)
    if cluster.beat is not None and not cluster.beat.alive:
        log.restarts.append("beat")
        cluster.start_beat_in()
    if cluster.receiver is not None and not cluster.receiver.alive:
        log.restarts.append("receiver")
        cluster.start_receiver_fixed()


def _kill_worker_mid_chain(cluster: Cluster, name: str, log: FaultLog) -> None:
    busy = in_flight_count(cluster.engine, [cluster.integration_id])
    log.note(f"SIGKILL worker {name} and its pool ({busy} events in flight)")
    cluster.workers[name].kill()
    time.sleep(2)
    cluster.restart_worker(name)


def _kill_pool(cluster: Cluster, name: str, log: FaultLog) -> None:
    """SIGKILL the pool processes; a thread pool lives in the worker itself, which then dies whole."""
    pool = cluster.workers[name].children()
    if not pool:
        _kill_worker_mid_chain(cluster, name, log)
        return
    log.note(f"SIGKILL the {len(pool)} pool processes of {name}")
    for pid in pool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def script(cluster: Cluster, redis_server: OwnRedis, postgres: OwnPostgres, profile: Profile, log: FaultLog,
           *, main_worker: str, billing_worker: str,
           extra: list[tuple[str, Callable[[], None]]] | None = None) -> list[tuple[str, Callable[[], None]]]:
    """The faults in order: (name, action). ``extra`` adds faults that only exist in some builds."""

    def postgres_outage() -> None:
        postgres.stop("immediate")
        time.sleep(profile.postgres_down)
        postgres.start()

    def vendus_outage() -> None:
        cluster.set_faults(VENDUS_DOWN)
        time.sleep(profile.vendus_down)
        cluster.set_faults(FLAKY_VENDUS)

    return [
        ("simulator 5xx/429/timeouts/commit-then-drop at ~15 %", lambda: cluster.set_faults(FLAKY_VENDUS)),
        (f"SIGKILL of worker {main_worker} mid-chain", lambda: _kill_worker_mid_chain(cluster, main_worker, log)),
        (f"SIGKILL of the billing pool of {billing_worker}", lambda: _kill_pool(cluster, billing_worker, log)),
        ("Redis restart losing everything", redis_server.restart_empty),
        (f"PostgreSQL stopped for {profile.postgres_down:.0f} s", postgres_outage),
        ("receiver restart", cluster.restart_receiver),
        (f"Vendus down for {profile.vendus_down:.0f} s", vendus_outage),
        *(extra or []),
        ("simulator faults lifted", cluster.clear_faults),
    ]


def run_script(cluster: Cluster, steps: list[tuple[str, Callable[[], None]]], profile: Profile, log: FaultLog,
               *, stop: threading.Event) -> None:
    for name, action in steps:
        if stop.wait(profile.gap):
            return
        supervise(cluster, log)
        if not name.startswith("SIGKILL"):
            log.note(name)
        action()
        log.last_fault_end = time.time()
    time.sleep(2)
    supervise(cluster, log)

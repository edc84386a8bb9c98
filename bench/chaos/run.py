"""One ledger run: own services, the service's processes, senders, the fault script, the ledger."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import celeryconfig
from bench.chaos import destination
from bench.chaos import faults as fault_script
from bench.chaos.cluster import FAST_RECOVERY, Cluster, WorkerSpec, new_cluster, own_services
from bench.chaos.e2e import API_KEY, REPO, stop_all, wait_until
from bench.chaos.ledger import Ledger, balance, event_statuses, in_flight_count, latencies, read_documents
from bench.chaos.mix import CHANGE_TYPE, Story, make_stories
from bench.chaos.senders import Endpoint, SendLog, deal, run_senders
from kapta_vendus.events.catalogue import is_known_type

MAIN, BILLING, EXPRESS = "worker-main", "worker-billing", "worker-express"


def worker_layout() -> tuple[WorkerSpec, ...]:
    """The layout the Procfile deploys: the billing queue on a thread pool when the build has one
    (then the other worker takes every other queue), else a second prefork worker on billing too,
    so that both kinds of SIGKILL hit a real process; and the express worker (fast lane only)
    when the build has one."""
    procfile = (REPO / "Procfile").read_text()
    if "--pool=threads" in procfile:
        others = ",".join(q for q in celeryconfig.CAPABILITY_QUEUES if q != "billing")
        layout = (WorkerSpec(MAIN, ("-Q", others, "--concurrency", "2", "--pool", "prefork")),
                  WorkerSpec(BILLING, ("-Q", "billing", "--pool", "threads", "--concurrency", "8")))
    else:
        layout = (WorkerSpec(MAIN, ("--concurrency", "2", "--pool", "prefork")),
                  WorkerSpec(BILLING, ("-Q", "billing", "--concurrency", "2", "--pool", "prefork")))
    if "--fast-lane-only" in procfile:
        layout += (WorkerSpec(EXPRESS, ("--fast-lane-only", "-Q", "pipeline,billing", "--concurrency", "2",
                                        "--pool", "prefork")),)
    return layout


WORKERS = worker_layout()


@dataclass
class RunResult:
    ledger: Ledger
    events: int
    stories: int
    send_seconds: float
    drain_after_last_fault: float | None
    p50: float | None
    p95: float | None
    answers: dict[str, int]
    sender_retries: int
    faults: list[str] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)
    mix: dict[str, int] = field(default_factory=dict)
    deliveries: destination.DeliveryLedger | None = None

    @property
    def valid(self) -> bool:
        return self.ledger.valid and (self.deliveries is None or self.deliveries.valid)


def wait_quiet(cluster: Cluster, *, timeout: float) -> float | None:
    """Until no pushed event is unfinished; returns when (epoch seconds), or None at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fault_script.supervise(cluster, fault_script.FaultLog())
        try:
            if in_flight_count(cluster.engine, [cluster.integration_id]) == 0:
                return time.time()
        except Exception as exc:  # noqa: BLE001 - the database may be restarting; poll again
            print(f"  waiting: {type(exc).__name__}", flush=True)
        time.sleep(1)
    return None


def run_ledger(log_dir: Path, *, events: int, senders: int, seed: int, profile: fault_script.Profile,
               quiet_timeout: float, with_faults: bool = True) -> RunResult:
    log_dir.mkdir(parents=True, exist_ok=True)
    with own_services(log_dir) as (redis_server, postgres):
        database_url = postgres.create_database()
        extra = destination.FAST_DELIVERY if destination.available() else {}
        cluster = new_cluster(log_dir, database_url, redis_server.url, **FAST_RECOVERY, **extra)
        try:
            return _run(cluster, redis_server, postgres, events=events, senders=senders, seed=seed,
                        profile=profile, quiet_timeout=quiet_timeout, with_faults=with_faults)
        finally:
            cluster.stop()
            stop_all(cluster.processes)


def _run(cluster: Cluster, redis_server, postgres, *, events: int, senders: int, seed: int,
         profile: fault_script.Profile, quiet_timeout: float, with_faults: bool) -> RunResult:
    cluster.start_simulator("--seed", str(seed))
    cluster.start_receiver_fixed()
    for spec in WORKERS:
        cluster.start_worker_spec(spec)
    cluster.start_beat_in()
    cluster.create_integration(f"ledger-{uuid.uuid4().hex[:6]}")
    sink = destination.Sink() if destination.available() else None
    extra_faults = []
    if sink is not None:
        destination.add_destination(cluster, sink.start())

        def destination_outage() -> None:
            sink.down.set()
            time.sleep(profile.destination_down)
            sink.down.clear()

        extra_faults.append((f"destination down for {profile.destination_down:.0f} s", destination_outage))
    stories = make_stories(events, cluster.store_id, seed=seed, with_changes=is_known_type(CHANGE_TYPE))
    endpoint = Endpoint(cluster.receiver_url, cluster.integration_id, cluster.secret)
    log, faults_log, stop = SendLog(), fault_script.FaultLog(), threading.Event()
    steps = fault_script.script(cluster, redis_server, postgres, profile, faults_log, main_worker=MAIN,
                                billing_worker=BILLING, extra=extra_faults)
    script_seconds = len(steps) * profile.gap + profile.postgres_down + profile.vendus_down
    total = sum(len(s.envelopes) for s in stories)
    # Spread the sending over the fault script, so that every fault hits events being sent.
    rate = total / max(script_seconds, 1) / senders if with_faults else None
    faulting = threading.Thread(target=fault_script.run_script, args=(cluster, steps, profile, faults_log),
                                kwargs={"stop": stop}, daemon=True)
    print(f"ledger run: {len(stories)} stories, {total} events, {senders} senders"
          f"{f', about {rate * senders:.0f} events/s' if rate else ''}", flush=True)
    began = time.monotonic()
    if with_faults:
        faulting.start()
    deadline = began + script_seconds + quiet_timeout
    run_senders(lambda _: endpoint, deal([s.first[0] for s in stories], senders), log, deadline=deadline,
                rate=rate)
    run_senders(lambda _: endpoint, deal(_second_pass(stories), senders), log, deadline=deadline, rate=rate)
    send_seconds = time.monotonic() - began
    if with_faults:
        faulting.join()
    quiet_at = wait_quiet(cluster, timeout=quiet_timeout)
    deliveries = None
    if sink is not None:
        wait_until(lambda: destination.pending_deliveries(cluster) == 0, timeout=quiet_timeout,
                   what="the deliveries to the destination")
        deliveries = destination.balance_deliveries(cluster, sink)
        sink.stop()
    statuses = event_statuses(cluster.engine, [cluster.integration_id])
    documents = read_documents(cluster.http, cluster.sim_url, API_KEY)
    ledger = balance(stories, log.accepted, log.refused, statuses, documents)
    times = sorted(latencies(cluster.engine, cluster.integration_id))
    drain = (quiet_at - faults_log.last_fault_end) if (quiet_at and faults_log.last_fault_end) else None
    mix: dict[str, int] = {}
    for story in stories:
        mix[story.kind] = mix.get(story.kind, 0) + 1
    return RunResult(
        ledger=ledger, events=total, stories=len(stories), send_seconds=send_seconds,
        drain_after_last_fault=drain,
        p50=statistics.median(times) if times else None,
        p95=times[int(0.95 * (len(times) - 1))] if times else None,
        answers=dict(log.answers), sender_retries=log.retries,
        faults=[what for _, what in faults_log.entries], restarts=faults_log.restarts, mix=mix,
        deliveries=deliveries)


def _second_pass(stories: list[Story]) -> list[dict]:
    return [envelope for story in stories for envelope in story.envelopes[1:]]

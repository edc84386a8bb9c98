"""The hosts run itself, started inside the receiver's namespace by ``python -m bench.hosts``.

Each process is started in its host's namespace with ``ip netns exec``: Redis and PostgreSQL in
``data``, the simulator (100 ms per request) in ``sim``, a worker per worker host, and the receiver,
beat and the senders here. Two parts, in one run:

1. **Throughput by worker hosts.** Rounds of 1, 2, 3, 3, 2, 1 hosts (ABBA, so that a change in
   the machine's load hits both ends alike). Before each round the workers are stopped and K
   events accepted (their chains wait in Redis); then the round's workers start, and the rate is
   taken between the moments 10 % and 90 % of them are done, polled (worker start-up is left out).
2. **A worker host cut off.** Three hosts, events sent at a steady rate; one host's cable is
   pulled at the switch for longer than the visibility timeout, then plugged back. Its
   unacknowledged tasks are redelivered to the others (and any event it left unfinished is swept);
   the ledger of the whole run must balance.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.chaos.cluster import FAST_RECOVERY, Cluster, WorkerSpec, new_cluster, own_services
from bench.chaos.e2e import API_KEY
from bench.chaos.faults import FaultLog, supervise
from bench.chaos.ledger import balance, event_statuses, read_documents
from bench.chaos.mix import Story, make_story
from bench.chaos.report import header, write_section
from bench.chaos.run import wait_quiet
from bench.chaos.senders import Endpoint, SendLog, deal, run_senders
from bench.common import machine_cpu
from bench.hosts.netns import Host
from kapta_vendus.db.models import Event, StepRun

ROUNDS = (1, 2, 3, 3, 2, 1)


def worker_spec(host: Host, concurrency: int) -> WorkerSpec:
    return WorkerSpec(f"worker-{host.name}", ("--concurrency", str(concurrency), "--pool", "prefork"), host.exec)


def done_count(cluster: Cluster, ids: set[str]) -> int:
    with Session(cluster.engine) as session:
        rows = session.execute(select(Event.external_id).where(
            Event.integration_id == cluster.integration_id, Event.status == "done"))
        return sum(1 for (external_id,) in rows if external_id in ids)


def unacked(cluster: Cluster) -> int:
    """Messages delivered to a worker and not acknowledged yet (kombu's Redis transport keeps them here)."""
    return int(cluster.redis.hlen("unacked"))


def repeated_steps(cluster: Cluster) -> int:
    """Events that ran some step to success more than once: redelivered or swept, and still done once."""
    with Session(cluster.engine) as session:
        rows = session.execute(select(StepRun.event_id).where(StepRun.status == "ok").group_by(
            StepRun.event_id, StepRun.step).having(func.count() > 1)).all()
    return len({row[0] for row in rows})


def stories_of(n: int, cluster: Cluster, rng: random.Random, tag: str) -> list[Story]:
    return [make_story(rng.choices(("paid", "nif"), (70, 30))[0], cluster.store_id, rng, tag) for _ in range(n)]


def throughput_round(cluster: Cluster, hosts: list[Host], n: int, k: int, concurrency: int, rng: random.Random,
                     endpoint: Endpoint, log: SendLog, stories: list[Story]) -> tuple[float, float]:
    """The round's rate, and how busy the machine's CPUs were meanwhile (0-1, everything on it)."""
    for name in list(cluster.workers):
        cluster.workers.pop(name).stop()
    batch = stories_of(k, cluster, rng, f"H{n}")
    stories.extend(batch)
    run_senders(lambda _: endpoint, deal([s.first[0] for s in batch], 4), log, deadline=time.monotonic() + 300)
    busy0, total0 = machine_cpu()
    for host in hosts[:n]:
        cluster.start_worker_spec(worker_spec(host, concurrency), wait=False)
    ids = {s.first[0]["id"] for s in batch}
    # The wall clock when 10 % and 90 % of the round are done, polled: the workers' start-up is left out.
    marks: dict[float, float] = {}
    deadline = time.monotonic() + 600
    done = 0
    while done < k and time.monotonic() < deadline:
        done = done_count(cluster, ids)
        for share in (0.1, 0.9):
            if done >= share * k and share not in marks:
                marks[share] = time.monotonic()
        time.sleep(0.2)
    busy1, total1 = machine_cpu()
    busy = (busy1 - busy0) / max(total1 - total0, 1e-6)
    rate = 0.8 * k / max(marks.get(0.9, deadline) - marks.get(0.1, 0.0), 1e-6)
    print(f"  {n} worker host(s): {rate:.1f} events/s ({done}/{k} done), CPUs {busy:.0%} busy", flush=True)
    return rate, busy


def partition(cluster: Cluster, hosts: list[Host], events: int, rate: float, cut_seconds: float,
              concurrency: int, rng: random.Random, endpoint: Endpoint, log: SendLog,
              stories: list[Story]) -> list[str]:
    from bench.hosts.netns import cut, restore

    for host in hosts:
        if f"worker-{host.name}" not in cluster.workers or not cluster.workers[f"worker-{host.name}"].alive:
            cluster.start_worker_spec(worker_spec(host, concurrency))
    batch = stories_of(events, cluster, rng, "CUT")
    stories.extend(batch)
    notes: list[str] = []
    sending = threading.Thread(target=run_senders, args=(lambda _: endpoint, deal([s.first[0] for s in batch], 2), log),
                               kwargs={"deadline": time.monotonic() + 900, "rate": rate / 2}, daemon=True)
    sending.start()
    time.sleep(min(15, events / rate / 3))
    victim = hosts[1]
    cut(victim)
    time.sleep(1)
    notes.append(f"cut {victim.ns} off at the switch for {cut_seconds:.0f} s ({unacked(cluster)} tasks "
                 "unacknowledged in Redis at the cut)")
    print(f"  {notes[-1]}", flush=True)
    time.sleep(cut_seconds)
    notes.append(f"{unacked(cluster)} unacknowledged just before the restore")
    restore(victim)
    notes.append(f"restored {victim.ns}")
    sending.join()
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hosts.drive")
    parser.add_argument("--hosts", type=json.loads, required=True)
    parser.add_argument("--log-dir", type=Path, required=True)
    parser.add_argument("--per-round", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--cut-events", type=int, default=300)
    parser.add_argument("--cut-rate", type=float, default=6.0)
    parser.add_argument("--cut-seconds", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--results", action="store_true")
    args = parser.parse_args(argv)
    hosts = {name: Host(name, octet) for name, octet in args.hosts.items()}
    data, recv, sim = hosts.pop("data"), hosts.pop("recv"), hosts.pop("sim")
    workers = list(hosts.values())
    rng = random.Random(11)
    with own_services(args.log_dir, host=data.address, prefix=data.exec) as (redis_server, postgres):
        cluster = new_cluster(args.log_dir, postgres.create_database(), redis_server.url, **FAST_RECOVERY)
        cluster.receiver_host, cluster.sim_host, cluster.sim_prefix = recv.address, sim.address, sim.exec
        try:
            cluster.start_simulator("--latency-ms", str(args.latency_ms), port=8765)
            cluster.start_receiver_fixed()
            cluster.start_beat_in()
            cluster.create_integration(f"hosts-{uuid.uuid4().hex[:6]}")
            # One integration's default Vendus budget (5 requests/s) would cap every round at 5 events/s:
            # raised, so that the rounds measure the worker hosts (as bench_pipeline does).
            cluster.set_limits(vendus_requests_per_second=1000, vendus_burst=1000, max_events_in_flight=1000)
            endpoint = Endpoint(cluster.receiver_url, cluster.integration_id, cluster.secret)
            log, stories = SendLog(), []
            rates: dict[int, list[float]] = {}
            busy: dict[int, list[float]] = {}
            for n in ROUNDS:
                rate, cpu = throughput_round(cluster, workers, n, args.per_round, args.concurrency, rng, endpoint,
                                             log, stories)
                rates.setdefault(n, []).append(rate)
                busy.setdefault(n, []).append(cpu)
            notes = partition(cluster, workers, args.cut_events, args.cut_rate, args.cut_seconds, args.concurrency,
                              rng, endpoint, log, stories)
            began = time.time()
            supervise(cluster, FaultLog())
            quiet = wait_quiet(cluster, timeout=900)
            drained = f"{quiet - began:.0f} s after the restore" if quiet else "did not drain"
            statuses = event_statuses(cluster.engine, [cluster.integration_id])
            notes.append(f"{repeated_steps(cluster)} events ran a step more than once (redelivered or swept)")
            ledger = balance(stories, log.accepted, log.refused, statuses,
                             read_documents(cluster.http, cluster.sim_url, API_KEY))
        finally:
            cluster.stop()
    base = statistics.mean(rates[1])
    summary = {n: statistics.mean(v) for n, v in rates.items()}
    print("throughput: " + ", ".join(f"{n} host(s) {r:.1f} events/s (x{r / base:.2f})" for n, r in summary.items()))
    print(f"partition: {'; '.join(notes)}; drained {drained}")
    print(ledger.line())
    for problem in ledger.problems[:20]:
        print(f"  {problem}")
    if args.results:
        rows = "\n".join(f"| {n} | {', '.join(f'{r:.1f}' for r in rates[n])} | {summary[n]:.1f} | "
                         f"{summary[n] / base:.2f} | {', '.join(f'{b:.0%}' for b in busy[n])} |" for n in sorted(rates))
        write_section("hosts", "\n".join([
            "## Workers on several hosts (`bench/hosts`)", "", header(), "",
            f"Network namespaces: Redis + PostgreSQL in one, the receiver (and beat, and the senders) in one, the "
            f"simulator ({args.latency_ms} ms per request) in one, a worker (prefork, {args.concurrency} processes, "
            f"every queue) in each of {len(workers)} more, joined by a bridge in a namespace of its own. "
            f"Rounds of {args.per_round} events, queued before the round's workers start; rate between the "
            "moments 10 % and 90 % of them were done (polled). The integration's Vendus budget and in-flight cap are "
            "raised to 1,000 (by default 5 requests/s would cap every round at 5 events/s). All hosts share "
            "the same 2 CPUs.", "",
            "| worker hosts | rounds (events/s) | mean | ratio to 1 host | machine CPU busy |", "|---|---|---|---|---|",
            rows, "",
            f"Partition: {args.cut_events} events at {args.cut_rate} events/s on 3 hosts; {'; '.join(notes)} "
            f"(visibility timeout {FAST_RECOVERY['KAPTA_VISIBILITY_TIMEOUT']} s, sweep grace "
            f"{FAST_RECOVERY['KAPTA_SWEEP_GRACE']} s); drained {drained}.", "",
            "```", ledger.line(), "```"]))
    return 0 if ledger.valid else 1


if __name__ == "__main__":
    sys.exit(main())

"""The hosts run itself, started inside the receiver's namespace by ``python -m bench.hosts``.

Each process is started in its host's namespace with ``ip netns exec``: Redis and PostgreSQL in
``data``, the simulator (100 ms per request) in ``sim``, a worker per worker host, and the receiver,
beat and the senders here. Two parts, in one run:

1. **Throughput by worker hosts.** Rounds of 1, 2, 3, 3, 2, 1 hosts (ABBA, so that a change in
   the machine's load hits both ends alike), each host with the Procfile's layout made small (see
   ``throughput``). Before each round the workers are stopped and K paid sales accepted (their
   chains wait in Redis); then the round's workers start, and the rate of documents issued is read
   between the moments 10 % and 90 % of them were issued (worker start-up and tail left out).
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
from bench.hosts.netns import Host
from bench.hosts.throughput import PIPELINE_QUEUES, RoundResult, stop_workers, throughput_round
from kapta_vendus.db.models import StepRun


def worker_spec(host: Host, concurrency: int) -> WorkerSpec:
    return WorkerSpec(f"worker-{host.name}", ("--concurrency", str(concurrency), "--pool", "prefork"), host.exec)


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


def partition(cluster: Cluster, hosts: list[Host], events: int, rate: float, cut_seconds: float,
              concurrency: int, rng: random.Random, endpoint: Endpoint, log: SendLog,
              stories: list[Story]) -> list[str]:
    from bench.hosts.netns import cut, restore

    stop_workers(cluster)  # the throughput rounds' layout; this part runs one worker on every queue per host
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
    parser.add_argument("--per-round", type=int, default=300)
    parser.add_argument("--billing-threads", type=int, default=1, help="threads of each host's billing worker")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes per host in the cut-off part")
    parser.add_argument("--cut-events", type=int, default=300)
    parser.add_argument("--cut-rate", type=float, default=6.0)
    parser.add_argument("--cut-seconds", type=float, default=60.0)
    parser.add_argument("--rounds", default="1,2,3,3,2,1", help="worker hosts of each throughput round")
    parser.add_argument("--layout", choices=("procfile", "single"), default="procfile",
                        help="procfile: a prefork worker and a billing thread pool per host; single: one prefork "
                             "process on every queue (the earlier run's layout)")
    parser.add_argument("--no-cut", action="store_true", help="the throughput rounds only")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--results", action="store_true")
    args = parser.parse_args(argv)
    if args.results and args.layout != "procfile":
        parser.error("--results describes the procfile layout; run --layout single without it")
    hosts = {name: Host(name, octet) for name, octet in args.hosts.items()}
    data, recv, sim = hosts.pop("data"), hosts.pop("recv"), hosts.pop("sim")
    workers = list(hosts.values())
    rng = random.Random(11)
    notes: list[str] = []
    drained = "not run"
    with own_services(args.log_dir, host=data.address, prefix=data.exec) as (redis_server, postgres):
        cluster = new_cluster(args.log_dir, postgres.create_database(), redis_server.url, **FAST_RECOVERY)
        cluster.receiver_host, cluster.sim_host, cluster.sim_prefix = recv.address, sim.address, sim.exec
        try:
            cluster.start_simulator("--latency-ms", str(args.latency_ms), port=8765)
            cluster.start_receiver_fixed()
            cluster.start_beat_in()
            cluster.create_integration(f"hosts-{uuid.uuid4().hex[:6]}")
            # One integration's default Vendus budget (5 requests/s, burst 10) and in-flight cap (8) would cap
            # every round at 5 events/s: raised, so that the rounds measure the worker hosts.
            cluster.set_limits(vendus_requests_per_second=1000, vendus_burst=1000, max_events_in_flight=1000)
            endpoint = Endpoint(cluster.receiver_url, cluster.integration_id, cluster.secret)
            log, stories = SendLog(), []
            rounds: list[RoundResult] = []
            for n in (int(part) for part in args.rounds.split(",")):
                rounds.append(throughput_round(cluster, workers[:n], n, args.per_round, args.billing_threads, rng,
                                               endpoint, log, stories, args.layout))
            if not args.no_cut:
                notes = partition(cluster, workers, args.cut_events, args.cut_rate, args.cut_seconds,
                                  args.concurrency, rng, endpoint, log, stories)
                began = time.time()
                supervise(cluster, FaultLog())
            quiet = wait_quiet(cluster, timeout=900)
            if not args.no_cut:
                drained = f"{quiet - began:.0f} s after the restore" if quiet else "did not drain"
                notes.append(f"{repeated_steps(cluster)} events ran a step more than once (redelivered or swept)")
            statuses = event_statuses(cluster.engine, [cluster.integration_id])
            ledger = balance(stories, log.accepted, log.refused, statuses,
                             read_documents(cluster.http, cluster.sim_url, API_KEY))
        finally:
            cluster.stop()
    table = throughput_table(rounds, args.billing_threads, args.latency_ms)
    print(table)
    if notes:
        print(f"partition: {'; '.join(notes)}; drained {drained}")
    print(ledger.line())
    for problem in ledger.problems[:20]:
        print(f"  {problem}")
    if args.results:
        write_section("hosts_throughput", "\n".join([
            "## Throughput by worker hosts (`bench/hosts`)", "", header(), "",
            f"`python -m bench.hosts --worker-hosts {len(workers)} --per-round {args.per_round} --billing-threads "
            f"{args.billing_threads} --rounds {args.rounds} --layout {args.layout}{' --no-cut' if args.no_cut else ''} "
            "--results`. Network namespaces: Redis + "
            f"PostgreSQL in one, the receiver (and beat, and the senders) in one, the simulator ({args.latency_ms} ms "
            f"per request) in one, and {len(workers)} worker hosts. Each worker host runs the Procfile's layout, "
            f"small: `kapta-vendus worker -Q {PIPELINE_QUEUES} --pool prefork --concurrency 1` and `kapta-vendus "
            f"worker -Q billing --pool threads --concurrency {args.billing_threads}`. A round queues "
            f"{args.per_round} paid anonymous sales (one Vendus POST each) before its workers start; the rate is "
            "documents issued per second between the moments 10 % and 90 % of them were issued (from "
            "`issuances.updated_at`, checked against the documents the simulator holds after the round). The "
            "integration's Vendus budget and in-flight cap are raised to 1,000. All namespaces share the same "
            "2 CPUs.", "", table, "", "```", ledger.line(), "```"]))
        if not args.no_cut:
            write_section("hosts", "\n".join([
                "## A worker host cut off (`bench/hosts`)", "", header(), "",
                f"After the throughput rounds, 3 hosts each run one worker (prefork, {args.concurrency} processes, "
                f"every queue). {args.cut_events} events at {args.cut_rate} events/s; {'; '.join(notes)} (visibility "
                f"timeout {FAST_RECOVERY['KAPTA_VISIBILITY_TIMEOUT']} s, sweep grace "
                f"{FAST_RECOVERY['KAPTA_SWEEP_GRACE']} s); drained {drained}. The ledger covers the whole run.", "",
                "```", ledger.line(), "```"]))
    return 0 if ledger.valid else 1


def throughput_table(rounds: list[RoundResult], threads: int, latency_ms: int) -> str:
    by_hosts: dict[int, list[RoundResult]] = {}
    for result in rounds:
        by_hosts.setdefault(result.hosts, []).append(result)
    base = statistics.mean(r.issued_rate for r in by_hosts[1])
    lines = ["| worker hosts | bound (threads x hosts / latency) | documents issued/s (rounds) | mean | "
             "ratio to 1 host | 'done' polled (old measure) | simulator documents / events | "
             "workers' CPU ms per document | machine CPU busy |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, results in sorted(by_hosts.items()):
        mean = statistics.mean(r.issued_rate for r in results)
        lines.append(
            f"| {n} | {threads * n / (latency_ms / 1000):.0f}/s | {', '.join(f'{r.issued_rate:.1f}' for r in results)} "
            f"| {mean:.1f} | **{mean / base:.2f}** | {', '.join(f'{r.done_rate:.1f}' for r in results)} | "
            f"{', '.join(f'{r.documents}/{r.events}' for r in results)} | "
            f"{', '.join(f'{1000 * r.cpu_per_document:.0f}' for r in results)} | "
            f"{', '.join(f'{r.busy:.0%}' for r in results)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

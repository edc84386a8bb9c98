"""Pipeline benchmark: events per second through the whole pipeline, against a reference minimal
pipeline in the same run; then with Vendus latency, against the billing pool's concurrency bound;
then, optionally, the previous version's worker CPU per event, and transactions per event.

    .venv/bin/python -m bench.bench_pipeline [--pairs 3] [--events 300] [--concurrency 2] [--old /tmp/old]

It creates a scratch PostgreSQL database, starts the Vendus simulator (0 ms latency) and the two
workers of the Procfile: ``worker`` (prefork, every queue but billing, ``-I bench.reference_pipeline``)
and ``billing`` (a thread pool on the billing queue), creates an integration with the mapping
discovered from the simulator, and alternates rounds (ABBA) between

- the baseline: N café sales inserted into the inbox (untimed), each then run by the reference
  (``bench/reference_pipeline.py``: one task, claim → POST → record → done, three transactions);
- the subject: N café sales inserted likewise, then their three tasks (prepare → bill → sync).

Then ``--split-pairs`` pairs of the reference against the same work split in three tasks where the
product splits it (``bench/reference_pipeline.py``): the ceiling of any three-task pipeline.

A round is timed from its first enqueue to its last event ``done`` in the events table. The receiver
is bypassed. Worker CPU is the sum over both workers. Then a second simulator with
``--latency-ms 100`` serves a second integration, whose rounds alternate with rounds on the first
(0 ms) and are compared to the bound min(billing threads / (Vendus calls per event x latency), the
events/s of the 0 ms rounds alternating with them: what the CPUs allow the other stages), with the
p50/p95 of accepted → document issued. With ``--old DIR`` (a checkout of the previous version, e.g.
``git worktree add /tmp/old 3c45aba``) the new workers are stopped and that version's worker runs
the same sales through its six-task chain, for its CPU per event; transactions per event are read
from PostgreSQL's own counters (``pg_stat_database.xact_commit``) for both. Every round is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import requests
from sqlalchemy import func, select

from bench.common import (
    BenchError,
    BenchProcesses,
    PostgresCpu,
    add_run_arguments,
    cafe_sale,
    enter_run,
    free_port,
    machine_cpu,
    median,
    order_of_rounds,
    percentile,
    session_cpu,
    stop_cleanly_on_sigterm,
    wait_http,
)

API_KEY = "bench-key"
FINISHED = ("done", "rejected", "dead")


class Simulator:
    def __init__(self, processes: BenchProcesses, name: str, latency_ms: float) -> None:
        port = free_port()
        args = ["simulator", "--port", str(port), "--api-key", API_KEY, "--quiet"]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        self.pid = processes.start(name, *args).pid
        self.root = f"http://127.0.0.1:{port}"
        self.url = f"{self.root}/ws/v1.1"
        wait_http(f"{self.root}/_sim/stats", processes)

    def stats(self) -> tuple[int, int]:
        """(all API requests, document creations) so far."""
        snapshot = requests.get(f"{self.root}/_sim/stats", timeout=10).json()
        return int(snapshot["total"]), int(snapshot["by_route"].get("POST documents", 0))


class Bench:
    def __init__(self, args, settings, processes: BenchProcesses, broker, worker_pids: list[int]) -> None:
        from kapta_vendus.db.session import database_for

        self.args, self.settings, self.processes, self.broker = args, settings, processes, broker
        self.db = database_for(settings.database_url)
        self.worker_pids = worker_pids
        self.progress_reads = 0
        self.postgres = PostgresCpu(args.pg_admin_url, settings.database_url)
        self.serial = 0

    # -- one round ------------------------------------------------------------------------------------
    def insert_events(self, integration_id: str, store_id: int, count: int) -> list[int]:
        from kapta_vendus.pipeline.inbox import store_event

        ids = []
        with self.db.unit_of_work() as session:
            for _ in range(count):
                self.serial += 1
                key = f"{self.args.run}-{self.serial}"
                stored = store_event(session, integration_id, source="push",
                                     envelope=cafe_sale(f"evt_{key}", f"sale-{key}", store_id))
                ids.append(stored.event_id)
        return ids

    def finished(self, ids: list[int]) -> int:
        from kapta_vendus.db.models import Event

        with self.db.unit_of_work() as session:
            rows = dict(session.execute(
                select(Event.status, func.count()).where(Event.id.between(ids[0], ids[-1]),
                                                         Event.status.in_(FINISHED))
                .group_by(Event.status)).all())
            if set(rows) - {"done"}:
                failed = session.scalar(select(Event.last_error).where(
                    Event.id.between(ids[0], ids[-1]), Event.status != "done", Event.status.in_(FINISHED)))
                raise BenchError(f"events did not finish done: {rows}; e.g. {failed}")
        return rows.get("done", 0)

    def round(self, kind: str, count: int, target: dict[str, Any] | None = None) -> dict[str, Any]:
        """Enqueue ``count`` chains as fast as possible; time until the last one is done."""
        from bench.reference_pipeline import SPLIT, TASK
        from kapta_vendus.tasks.app import app
        from kapta_vendus.tasks.dispatch import enqueue_event

        ids = self.insert_events(target["integration_id"], target["store_id"], count)
        sim_before = target["simulator"].stats()
        sim_cpu = session_cpu(target["simulator"].pid)

        def progress() -> int:
            self.progress_reads += 1  # each one a transaction: subtracted from the transactions per event
            return self.finished(ids)

        cap = self.args.in_flight or 8
        if kind == "subject":
            def enqueue(i: int) -> None:  # as the receiver does: the integration and its cap in hand
                enqueue_event(ids[i], integration_id=target["integration_id"], cap=cap)
        elif kind == "old":
            def enqueue(i: int) -> None:
                old_chain(ids[i]).apply_async()
        elif kind == "split":
            def enqueue(i: int) -> None:
                app.signature(SPLIT[0], args=(ids[i],)).apply_async()
        else:
            def enqueue(i: int) -> None:
                app.signature(TASK, args=(ids[i],), immutable=True).apply_async()

        busy0, all0 = machine_cpu()
        worker0, pg0 = self.workers_cpu(), self.postgres.start()
        t0 = time.perf_counter()
        for i in range(count):
            enqueue(i)
        enqueued = time.perf_counter() - t0
        deadline = t0 + self.args.time_limit
        while (done := progress()) < count:
            if time.perf_counter() > deadline:
                raise BenchError(f"{kind} round: {done}/{count} done after {self.args.time_limit:.0f}s")
            self.processes.check_alive()
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        worker1, pg = self.workers_cpu(), self.postgres.since(pg0)
        busy1, all1 = machine_cpu()
        result = {"kind": kind, "events": count, "elapsed": elapsed, "eps": count / elapsed,
                  "enqueue_seconds": enqueued, "worker_cpu": worker1 - worker0, "postgres_cpu": pg,
                  "machine_busy": (busy1 - busy0) / (all1 - all0) if all1 > all0 else float("nan")}
        calls, posts = target["simulator"].stats()
        result.update(vendus_calls=calls - sim_before[0], vendus_posts=posts - sim_before[1],
                      simulator_cpu=session_cpu(target["simulator"].pid) - sim_cpu,
                      latencies=self.latencies(ids))
        return result

    def workers_cpu(self) -> float:
        return sum(session_cpu(pid) for pid in self.worker_pids)

    def latencies(self, ids: list[int]) -> list[float]:
        """Seconds from accepted (inbox insert) to document issued, per event."""
        from kapta_vendus.db.models import Event, Issuance

        with self.db.unit_of_work() as session:
            rows = session.execute(select(Event.received_at, Issuance.updated_at).join(
                Issuance, Issuance.event_id == Event.id).where(Event.id.between(ids[0], ids[-1]),
                                                                Issuance.state == "issued")).all()
        return [(issued - received).total_seconds() for received, issued in rows]

    def transactions(self) -> int:
        """Committed transactions of the benchmark database so far (PostgreSQL's own counter)."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        engine = create_engine(self.args.pg_admin_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text("SELECT xact_commit FROM pg_stat_database WHERE datname = :d"),
                                        {"d": make_url(self.settings.database_url).database}).scalar())
        finally:
            engine.dispose()

    def transactions_per_event(self, kind: str, count: int, target: dict[str, Any]) -> float:
        # Backends flush their counters when idle for a while (at most 10 s on PostgreSQL 15+).
        # The benchmark's own transactions are taken out: the untimed insert of the events (one) and
        # its progress reads (one each), so what is left is the pipeline's (receiver not included).
        time.sleep(12)
        before, reads = self.transactions(), self.progress_reads
        self.round(kind, count, target)
        time.sleep(12)
        own = 1 + (self.progress_reads - reads)
        return (self.transactions() - before - own) / count


def old_chain(event_id: int):
    """The previous version's six-task chain, by name (its worker has those tasks, this process not)."""
    from celery import chain

    from kapta_vendus.tasks.app import app

    names = ("kapta.pipeline.validate", "kapta.pipeline.normalise", "kapta.pipeline.map", "kapta.pipeline.rules",
             "kapta.billing.actions", "kapta.pipeline.sync")
    return chain(*(app.signature(name, args=(event_id,), immutable=True) for name in names))


def wait_worker(processes: BenchProcesses, name_prefix: str, timeout: float = 90.0) -> None:
    """Until the worker answers a remote-control ping (whatever its log level)."""
    from kapta_vendus.tasks.app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        replies = app.control.ping(timeout=1.0) or []
        if any(name.startswith(name_prefix) for reply in replies for name in reply):
            return
    raise BenchError(f"the worker did not answer within {timeout:.0f}s; see its log (--keep)")


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    events = sum(r["events"] for r in rounds)
    latencies = sorted(x for r in rounds for x in r.get("latencies", []))
    summary = {
        "events": events,
        "accepted_to_issued_p50_s": percentile(latencies, 50) if latencies else None,
        "accepted_to_issued_p95_s": percentile(latencies, 95) if latencies else None,
        "eps_per_round": [round(r["eps"], 1) for r in rounds],
        "eps_median": median([r["eps"] for r in rounds]),
        "eps_overall": events / sum(r["elapsed"] for r in rounds),
        "worker_cpu_ms_per_event": 1000 * sum(r["worker_cpu"] for r in rounds) / events,
        "postgres_cpu_ms_per_event": 1000 * sum(r["postgres_cpu"] for r in rounds) / events,
        "enqueue_ms_per_event": 1000 * sum(r["enqueue_seconds"] for r in rounds) / events,
        "machine_busy_median": median([r["machine_busy"] for r in rounds]),
    }
    if "vendus_calls" in rounds[0]:
        summary["vendus_calls_per_event"] = sum(r["vendus_calls"] for r in rounds) / events
        summary["vendus_posts_per_event"] = sum(r["vendus_posts"] for r in rounds) / events
        summary["simulator_cpu_ms_per_event"] = 1000 * sum(r["simulator_cpu"] for r in rounds) / events
    return summary


def create_target(settings, simulator: Simulator, name: str, limits: dict[str, Any]) -> dict[str, Any]:
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.discover import discover_mapping
    from kapta_vendus.integrations.service import create_integration
    from kapta_vendus.vendus import VendusClient

    with VendusClient(simulator.url, API_KEY) as client:
        stores = [int(s["id"]) for s in client.list_stores()]
        mapping = discover_mapping(client, stores, "normal")
    with database_for(settings.database_url).unit_of_work() as session:
        integration, _secret = create_integration(
            session, settings, name=name, vendus_url=simulator.url, api_key=API_KEY, stores=stores,
            mode="normal", config={"mapping": mapping, **({"limits": limits} if limits else {})})
        return {"integration_id": integration.id, "store_id": stores[0], "simulator": simulator}


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="baseline/subject round pairs at 0 ms (ABBA)")
    parser.add_argument("--events", type=int, default=300, help="events (chains) per round")
    parser.add_argument("--warmup", type=int, default=40, help="events of each kind before measuring")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="simulator latency of the second phase")
    parser.add_argument("--latency-rounds", type=int, default=2,
                        help="pairs of subject rounds with and without latency (0: skip)")
    parser.add_argument("--latency-events", type=int, default=200, help="events per round in that phase")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes of the worker")
    parser.add_argument("--billing-threads", type=int, default=16, help="threads of the billing worker")
    parser.add_argument("--split-pairs", type=int, default=2,
                        help="pairs of rounds of the reference against the same work in three tasks (0: skip)")
    parser.add_argument("--old", help="a checkout of the previous version, for its worker CPU per event")
    parser.add_argument("--old-events", type=int, default=200, help="events run by the previous version")
    parser.add_argument("--time-limit", type=float, default=240.0, help="seconds per round at most")
    parser.add_argument("--budget", type=float, default=1000.0,
                        help="the integration's Vendus requests per second (0: the product default); raised by "
                             "default so that the budget, a per-account policy, is not what is measured")
    parser.add_argument("--in-flight", type=int, default=1000,
                        help="the integration's max events in flight (0: the product default); raised by default "
                             "because a round enqueues all its events at once, and with the default cap most "
                             "of them would be parked and re-enqueued (one more task per event)")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    if min(args.pairs, args.events, args.concurrency, args.latency_events) < 1 or args.latency_rounds < 0:
        parser.error("counts must be positive")
    args.run = datetime.now(UTC).strftime("%H%M%S")
    limits: dict[str, Any] = {}
    if args.budget:
        limits.update(vendus_requests_per_second=args.budget, vendus_burst=10000)
    if args.in_flight:
        limits["max_events_in_flight"] = args.in_flight

    from kapta_vendus.tasks.app import configure

    load_start = os.getloadavg()
    with ExitStack() as stack:
        workdir, _, broker, settings = enter_run(stack, args)
        configure(settings)  # this process enqueues to the benchmark's Redis database
        processes = BenchProcesses(workdir, settings)
        stack.callback(processes.stop_all)
        fast = Simulator(processes, "simulator", 0)
        target = create_target(settings, fast, f"bench-{args.run}", limits)
        # The Procfile's two workers: prefork for everything but billing, a thread pool for billing.
        worker = processes.start("worker", "worker", "-Q", "ingest,pipeline,reconcile,notify", "--pool", "prefork",
                                 "--concurrency", str(args.concurrency), "-I", "bench.reference_pipeline",
                                 "-n", f"bench-{args.run}@%h", "--without-gossip", "--without-mingle")
        billing = processes.start("billing", "worker", "-Q", "billing", "--pool", "threads",
                                  "--concurrency", str(args.billing_threads), "-I", "bench.reference_pipeline",
                                  "-n", f"bench-billing-{args.run}@%h", "--without-gossip", "--without-mingle")
        wait_worker(processes, f"bench-{args.run}@")
        wait_worker(processes, f"bench-billing-{args.run}@")
        bench = Bench(args, settings, processes, broker, [worker.pid, billing.pid])

        for kind in ("baseline", "subject", "split"):
            bench.round(kind, args.warmup, target)
        rounds, pairs = run_pairs(bench, target, "subject", args.pairs, args.events, "pair")
        split = run_split(args, bench, target) if args.split_pairs else None

        latency: dict[str, Any] | None = None
        if args.latency_rounds:
            # With latency, alternating (ABBA) with the same chain at 0 ms: what the CPU allowed meanwhile.
            slow = Simulator(processes, "simulator-latency", args.latency_ms)
            slow_target = create_target(settings, slow, f"bench-{args.run}-latency", limits)
            bench.round("subject", args.warmup, slow_target)
            phase: dict[str, list[dict[str, Any]]] = {"baseline": [], "subject": []}
            for index, order in enumerate(order_of_rounds(args.latency_rounds)):
                for kind in order:
                    result = bench.round("subject", args.latency_events,
                                         slow_target if kind == "subject" else target)
                    phase[kind].append(result)
                    label = f"{args.latency_ms:.0f} ms" if kind == "subject" else "0 ms"
                    print(f"latency pair {index + 1}/{args.latency_rounds} {label:>6s} {result['events']:5d} events "
                          f"{result['eps']:7.1f}/s  machine busy {result['machine_busy']:.0%}", flush=True)
            latency = summarise(phase["subject"])
            calls = latency["vendus_calls_per_event"]
            latency["same_time_0ms"] = summarise(phase["baseline"])
            # The concurrency bound is what the billing pool allows (threads / Vendus wait per event),
            # unless the CPUs cannot feed it: the same chain at 0 ms in the same run, alternating with
            # these rounds, is what the other stages (and billing's own CPU) allow on this machine.
            latency["pool_bound_eps"] = args.billing_threads / (calls * args.latency_ms / 1000)
            latency["cpu_bound_eps"] = latency["same_time_0ms"]["eps_median"]
            latency["bound_eps"] = min(latency["pool_bound_eps"], latency["cpu_bound_eps"])
            latency["bound_is"] = "pool" if latency["pool_bound_eps"] <= latency["cpu_bound_eps"] else "cpu"
            latency["ratio_to_bound_median"] = latency["eps_median"] / latency["bound_eps"]
            latency["ratio_to_bound_overall"] = latency["eps_overall"] / latency["bound_eps"]
        processes.check_alive()
        transactions = {"subject": bench.transactions_per_event("subject", 100, target)}
        old: dict[str, Any] | None = None
        if args.old:
            old = run_old(args, settings, processes, bench, target, [worker, billing])
            transactions["old"] = old.pop("transactions_per_event")

        report = {
            "benchmark": "pipeline",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "concurrency": args.concurrency, "billing_threads": args.billing_threads,
            "events_per_round": args.events, "transactions_per_event": transactions, "old": old,
            "pairs": args.pairs, "latency_ms": args.latency_ms, "limits": limits or "product defaults",
            "baseline": summarise(rounds["baseline"]), "subject": summarise(rounds["subject"]),
            "ratio_pairs": [round(r, 3) for r in pairs],
            "ratio_median_of_pairs": median(pairs),
            "latency": latency, "split": split,
        }
        report["ratio_overall"] = report["subject"]["eps_overall"] / report["baseline"]["eps_overall"]
        report["cpu_ratio"] = (report["baseline"]["worker_cpu_ms_per_event"]
                               / report["subject"]["worker_cpu_ms_per_event"])
        if old:
            report["cpu_vs_old"] = report["subject"]["worker_cpu_ms_per_event"] / old["worker_cpu_ms_per_event"]
        report["check"] = check_documents(settings, bench, rounds, args, latency is not None)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if report["check"]["ok"] else 1


def run_old(args, settings, processes: BenchProcesses, bench: Bench, target, workers) -> dict[str, Any]:
    """The previous version's worker (every queue, prefork, same concurrency) on the same sales."""
    import signal

    for process in workers:  # the new workers would take (and refuse) the old chain's tasks
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)
    processes.children[:] = [c for c in processes.children if c[1] not in workers]  # stopped on purpose
    old = processes.start_argv("old-worker", [sys.executable, "-m", "kapta_vendus", "worker", "--pool", "prefork",
                                              "--concurrency", str(args.concurrency), "-n", f"bench-old-{args.run}@%h",
                                              "--without-gossip", "--without-mingle"],
                               cwd=args.old, env={"PYTHONPATH": args.old})
    wait_worker(processes, f"bench-old-{args.run}@")
    bench.worker_pids = [old.pid]
    bench.round("old", args.warmup, target)
    measured = [bench.round("old", args.old_events, target)]
    summary = summarise(measured)
    summary["transactions_per_event"] = bench.transactions_per_event("old", 100, target)
    return summary


def run_pairs(bench: Bench, target, subject: str, count: int, events: int,
              label: str) -> tuple[dict[str, list[dict[str, Any]]], list[float]]:
    """``count`` ABBA pairs of rounds of the reference ("baseline") and ``subject``: the rounds of
    each kind, and each pair's ratio subject/baseline."""
    rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], subject: []}
    pairs = []
    for index, order in enumerate(order_of_rounds(count)):
        pair = {}
        for kind in (k if k == "baseline" else subject for k in order):
            result = bench.round(kind, events, target)
            rounds[kind].append(result)
            pair[kind] = result["eps"]
            print(f"{label} {index + 1}/{count} {kind:8s} {result['events']:5d} events "
                  f"{result['eps']:7.1f}/s  machine busy {result['machine_busy']:.0%}", flush=True)
        pairs.append(pair[subject] / pair["baseline"])
    return rounds, pairs


def run_split(args, bench: Bench, target) -> dict[str, Any]:
    """The reference against itself split in three tasks: what three tasks cost alone."""
    rounds, pairs = run_pairs(bench, target, "split", args.split_pairs, args.events, "split pair")
    return {"baseline": summarise(rounds["baseline"]), "split": summarise(rounds["split"]),
            "ratio_pairs": [round(r, 3) for r in pairs], "ratio_median_of_pairs": median(pairs)}


def check_documents(settings, bench: Bench, rounds, args, with_latency: bool) -> dict[str, Any]:
    """Exactly once: every event done, one issued document per event, one Vendus POST per event."""
    from kapta_vendus.db.models import Event, Issuance

    with bench.db.unit_of_work() as session:
        events = session.scalar(select(func.count()).select_from(Event))
        done = session.scalar(select(func.count()).select_from(Event).where(Event.status == "done"))
        issued = session.scalar(select(func.count()).select_from(Issuance).where(Issuance.state == "issued"))
    return {"events": events, "done": done, "issued": issued, "ok": events == done == issued}


def print_report(report: dict[str, Any]) -> None:
    print(f"\npipeline benchmark (prefork x {report['concurrency']} + billing threads x "
          f"{report['billing_threads']}, {report['pairs']} pairs x {report['events_per_round']} events)")
    print(f"{'chain':10s} {'events/s median':>15s} {'overall':>9s} {'worker CPU ms/ev':>17s} "
          f"{'pg CPU ms/ev':>13s} {'enqueue ms/ev':>14s}")
    for key in ("baseline", "subject"):
        s = report[key]
        print(f"{key:10s} {s['eps_median']:15.1f} {s['eps_overall']:9.1f} {s['worker_cpu_ms_per_event']:17.2f} "
              f"{s['postgres_cpu_ms_per_event']:13.2f} {s['enqueue_ms_per_event']:14.2f}")
    print(f"ratio subject/baseline: median of pairs {report['ratio_median_of_pairs']:.3f} "
          f"(pairs {report['ratio_pairs']}), overall {report['ratio_overall']:.3f}; "
          f"worker CPU per event ratio {report['cpu_ratio']:.3f}; goal >= 0.6")
    lat = report["latency"]
    if lat:
        print(f"with {report['latency_ms']:.0f} ms latency: p50/p95 accepted -> issued "
              f"{lat['accepted_to_issued_p50_s']:.3f}/{lat['accepted_to_issued_p95_s']:.3f}s; "
              f"{lat['eps_median']:.1f} events/s median "
              f"(rounds {lat['eps_per_round']}), Vendus calls per event {lat['vendus_calls_per_event']:.2f}, "
              f"bound {lat['bound_eps']:.1f}/s (the {lat['bound_is']}'s: pool {lat['pool_bound_eps']:.1f}/s, "
              f"CPU at 0 ms {lat['cpu_bound_eps']:.1f}/s), ratio {lat['ratio_to_bound_median']:.3f} "
              f"(overall {lat['ratio_to_bound_overall']:.3f}); goal >= 0.85; the same chain at 0 ms meanwhile: "
              f"{lat['same_time_0ms']['eps_median']:.1f} events/s")
    split = report.get("split")
    if split:
        s_cpu, b_cpu = split["split"]["worker_cpu_ms_per_event"], split["baseline"]["worker_cpu_ms_per_event"]
        print(f"the reference split in three tasks: {split['split']['eps_median']:.1f} events/s against "
              f"{split['baseline']['eps_median']:.1f}, median of pairs {split['ratio_median_of_pairs']:.3f} "
              f"(pairs {split['ratio_pairs']}); worker CPU {s_cpu:.2f} against {b_cpu:.2f} ms/event: "
              f"the ceiling of a three-task pipeline against the reference; the subject reaches "
              f"{report['subject']['eps_median'] / split['split']['eps_median']:.3f} of the split's events/s")
    print(f"accepted -> issued: p50 {report['subject']['accepted_to_issued_p50_s']:.3f}s, "
          f"p95 {report['subject']['accepted_to_issued_p95_s']:.3f}s (0 ms rounds)")
    print(f"transactions per event (pg_stat_database): {report['transactions_per_event']}; goal <= 8")
    if report.get("old"):
        print(f"previous version: {report['old']['eps_median']:.1f} events/s, worker CPU "
              f"{report['old']['worker_cpu_ms_per_event']:.2f} ms/event; this version's CPU per event is "
              f"{report['cpu_vs_old']:.3f} of it (goal <= 0.40)")
    print(f"subject also cost the simulator {report['subject']['simulator_cpu_ms_per_event']:.2f} ms CPU per event; "
          f"load average {report['load_average_start'][0]:.1f} at the start, {report['load_average_end'][0]:.1f} "
          f"at the end (2 cores)")
    print(f"check: {report['check']}")


if __name__ == "__main__":
    sys.exit(main())

"""Pipeline benchmark: events per second through the whole chain, against a no-op chain of the same
length on the same worker in the same run; then with Vendus latency, against the concurrency bound.

    .venv/bin/python -m bench.bench_pipeline [--pairs 3] [--events 300] [--concurrency 4]

It creates a scratch PostgreSQL database, starts the Vendus simulator (0 ms latency) and one Celery
worker (``kapta-vendus worker --pool prefork --concurrency C -I bench.noop_chain``, every queue, the
deployed celeryconfig), creates an integration with the mapping discovered from the simulator, and
alternates rounds (ABBA) between

- the baseline: N no-op chains (``bench/noop_chain.py``: six tasks on the same queues, same base task);
- the subject: N anonymous café sales inserted into the inbox (untimed), then their chains
  (validate → normalise → map → rules → actions → sync; one Vendus POST each, an FS).

A round is timed from its first enqueue to its last event ``done`` in the events table (the no-op
chains count themselves in Redis). The receiver is bypassed. Then a second simulator with
``--latency-ms 100`` serves a second integration, whose rounds alternate with rounds on the first
(0 ms) and are compared to the bound concurrency / (Vendus calls per event x latency). Every round
is bounded in events and time.
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
    session_cpu,
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
    def __init__(self, args, settings, processes: BenchProcesses, broker, worker_pid: int) -> None:
        from kapta_vendus.db.session import database_for

        self.args, self.settings, self.processes, self.broker = args, settings, processes, broker
        self.db = database_for(settings.database_url)
        self.worker_pid = worker_pid
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
        from bench.noop_chain import DONE_COUNTER, noop_chain
        from kapta_vendus.tasks.dispatch import enqueue_event

        if kind == "subject":
            ids = self.insert_events(target["integration_id"], target["store_id"], count)
            sim_before = target["simulator"].stats()
            sim_cpu = session_cpu(target["simulator"].pid)

            def progress() -> int:
                return self.finished(ids)

            def enqueue(i: int) -> None:
                enqueue_event(ids[i])
        else:
            self.broker.delete(DONE_COUNTER)

            def progress() -> int:
                return int(self.broker.get(DONE_COUNTER) or 0)

            def enqueue(i: int) -> None:
                noop_chain(-1 - i).apply_async()

        busy0, all0 = machine_cpu()
        worker0, pg0 = session_cpu(self.worker_pid), self.postgres.start()
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
        worker1, pg = session_cpu(self.worker_pid), self.postgres.since(pg0)
        busy1, all1 = machine_cpu()
        result = {"kind": kind, "events": count, "elapsed": elapsed, "eps": count / elapsed,
                  "enqueue_seconds": enqueued, "worker_cpu": worker1 - worker0, "postgres_cpu": pg,
                  "machine_busy": (busy1 - busy0) / (all1 - all0) if all1 > all0 else float("nan")}
        if kind == "subject":
            calls, posts = target["simulator"].stats()
            result.update(vendus_calls=calls - sim_before[0], vendus_posts=posts - sim_before[1],
                          simulator_cpu=session_cpu(target["simulator"].pid) - sim_cpu)
        return result


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
    summary = {
        "events": events,
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3, help="baseline/subject round pairs at 0 ms (ABBA)")
    parser.add_argument("--events", type=int, default=300, help="events (chains) per round")
    parser.add_argument("--warmup", type=int, default=40, help="events of each kind before measuring")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="simulator latency of the second phase")
    parser.add_argument("--latency-rounds", type=int, default=2,
                        help="pairs of subject rounds with and without latency (0: skip)")
    parser.add_argument("--latency-events", type=int, default=200, help="events per round in that phase")
    parser.add_argument("--concurrency", type=int, default=4, help="worker pool processes (or threads)")
    parser.add_argument("--pool", choices=("prefork", "threads"), default="prefork")
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
        worker = processes.start("worker", "worker", "--pool", args.pool, "--concurrency", str(args.concurrency),
                                 "-I", "bench.noop_chain", "-n", f"bench-{args.run}@%h",
                                 "--without-gossip", "--without-mingle")
        wait_worker(processes, f"bench-{args.run}@")
        bench = Bench(args, settings, processes, broker, worker.pid)

        for kind in ("baseline", "subject"):
            bench.round(kind, args.warmup, target)
        rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "subject": []}
        pairs = []
        for index, order in enumerate(order_of_rounds(args.pairs)):
            pair = {}
            for kind in order:
                result = bench.round(kind, args.events, target)
                rounds[kind].append(result)
                pair[kind] = result["eps"]
                print(f"pair {index + 1}/{args.pairs} {kind:8s} {result['events']:5d} events "
                      f"{result['eps']:7.1f}/s  machine busy {result['machine_busy']:.0%}", flush=True)
            pairs.append(pair["subject"] / pair["baseline"])

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
            latency["bound_eps"] = args.concurrency / (calls * args.latency_ms / 1000)
            latency["ratio_to_bound_median"] = latency["eps_median"] / latency["bound_eps"]
            latency["ratio_to_bound_overall"] = latency["eps_overall"] / latency["bound_eps"]
            latency["same_time_0ms"] = summarise(phase["baseline"])
        processes.check_alive()

        report = {
            "benchmark": "pipeline",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "pool": args.pool, "concurrency": args.concurrency, "events_per_round": args.events,
            "pairs": args.pairs, "latency_ms": args.latency_ms, "limits": limits or "product defaults",
            "baseline": summarise(rounds["baseline"]), "subject": summarise(rounds["subject"]),
            "ratio_pairs": [round(r, 3) for r in pairs],
            "ratio_median_of_pairs": median(pairs),
            "latency": latency,
        }
        report["ratio_overall"] = report["subject"]["eps_overall"] / report["baseline"]["eps_overall"]
        report["cpu_ratio"] = (report["baseline"]["worker_cpu_ms_per_event"]
                               / report["subject"]["worker_cpu_ms_per_event"])
        report["check"] = check_documents(settings, bench, rounds, args, latency is not None)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0 if report["check"]["ok"] else 1


def check_documents(settings, bench: Bench, rounds, args, with_latency: bool) -> dict[str, Any]:
    """Exactly once: one issued FS per sale, and one Vendus POST per event."""
    from kapta_vendus.db.models import Event, Issuance

    expected = sum(r["events"] for r in rounds["subject"]) + args.warmup
    if with_latency:  # pairs of rounds, one with latency and one without, plus a warm-up
        expected += 2 * args.latency_rounds * args.latency_events + args.warmup
    with bench.db.unit_of_work() as session:
        done = session.scalar(select(func.count()).select_from(Event).where(Event.status == "done"))
        issued = session.scalar(select(func.count()).select_from(Issuance).where(Issuance.state == "issued"))
    return {"events": expected, "done": done, "issued": issued, "ok": expected == done == issued}


def print_report(report: dict[str, Any]) -> None:
    print(f"\npipeline benchmark ({report['pool']} x {report['concurrency']}, {report['pairs']} pairs x "
          f"{report['events_per_round']} events)")
    print(f"{'chain':10s} {'events/s median':>15s} {'overall':>9s} {'worker CPU ms/ev':>17s} "
          f"{'pg CPU ms/ev':>13s} {'enqueue ms/ev':>14s}")
    for key in ("baseline", "subject"):
        s = report[key]
        print(f"{key:10s} {s['eps_median']:15.1f} {s['eps_overall']:9.1f} {s['worker_cpu_ms_per_event']:17.2f} "
              f"{s['postgres_cpu_ms_per_event']:13.2f} {s['enqueue_ms_per_event']:14.2f}")
    print(f"ratio subject/baseline: median of pairs {report['ratio_median_of_pairs']:.3f} "
          f"(pairs {report['ratio_pairs']}), overall {report['ratio_overall']:.3f}; "
          f"worker CPU per event ratio {report['cpu_ratio']:.3f}; goal >= 0.8")
    lat = report["latency"]
    if lat:
        print(f"with {report['latency_ms']:.0f} ms latency: {lat['eps_median']:.1f} events/s median "
              f"(rounds {lat['eps_per_round']}), Vendus calls per event {lat['vendus_calls_per_event']:.2f}, "
              f"bound {lat['bound_eps']:.1f}/s, ratio {lat['ratio_to_bound_median']:.3f} "
              f"(overall {lat['ratio_to_bound_overall']:.3f}); goal >= 0.85; the same chain at 0 ms meanwhile: "
              f"{lat['same_time_0ms']['eps_median']:.1f} events/s")
    print(f"subject also cost the simulator {report['subject']['simulator_cpu_ms_per_event']:.2f} ms CPU per event; "
          f"load average {report['load_average_start'][0]:.1f} at the start, {report['load_average_end'][0]:.1f} "
          f"at the end (2 cores)")
    print(f"check: {report['check']}")


if __name__ == "__main__":
    sys.exit(main())

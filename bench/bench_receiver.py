"""Receiver benchmark: signed events per second and latency on gunicorn, against the same server's
no-op endpoint in the same run.

    .venv/bin/python -m bench.bench_receiver [--pairs 8] [--seconds 8] [--concurrency 8]

It creates a scratch PostgreSQL database and one integration, starts gunicorn (the deployed
configuration, ``deploy/gunicorn.conf.py``, or ``kapta-vendus serve``) with ``KAPTA_BENCH_NOOP=1``,
and then alternates rounds (ABBA) between

- the baseline: ``POST /_bench/v1/integrations/<id>/events``, which reads the body and answers 202;
- the subject: ``POST /v1/integrations/<id>/events``, the receiver (verify, commit, enqueue to Redis).

Both get the same signed, unique events from a load generator in a separate process (N threads,
one HTTP connection each, requests signed before the clock starts) for the same number of seconds.
No worker runs: the enqueued chains stay in the benchmark's Redis database number, which is flushed
at the end. Every round is bounded in requests and in time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    REPO,
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

STORE_ID = 1
PATHS = {"subject": "/v1/integrations/{id}/events", "baseline": "/_bench/v1/integrations/{id}/events"}


# -- the load generator (runs in its own process) ------------------------------------------------------------

def load_round(spec: dict[str, Any], out) -> None:
    """Send ``count`` signed events with ``concurrency`` threads; report latencies and statuses."""
    import http.client

    from kapta_vendus.receiver.sender import signed_headers

    prepared = []
    for i in range(spec["count"]):
        event_id = f"{spec['prefix']}-{i}"
        body = json.dumps(cafe_sale(event_id, event_id, STORE_ID), separators=(",", ":"))
        prepared.append((body.encode(), signed_headers(spec["secret"], event_id, body)))
    counter = itertools.count()
    threads_n, seconds = spec["concurrency"], spec["seconds"]
    latencies: list[list[float]] = [[] for _ in range(threads_n)]
    statuses: list[Counter] = [Counter() for _ in range(threads_n)]
    ends = [0.0] * threads_n
    start = threading.Barrier(threads_n + 1)

    rate = spec.get("rate")  # open loop: request i is due at start + i / rate, late or not
    began = [0.0]

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=30)
        start.wait()
        stop_at = time.perf_counter() + seconds
        while (i := next(counter)) < len(prepared) and time.perf_counter() < stop_at:
            body, headers = prepared[i]
            t = time.perf_counter()
            if rate:
                due = began[0] + i / rate
                if due > t:
                    time.sleep(due - t)
                t = due  # latency from when it was due: waiting for a free client thread counts too
            try:
                conn.request("POST", spec["path"], body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
                status: int | str = reply.status
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status = type(exc).__name__
            latencies[k].append(time.perf_counter() - t)
            statuses[k][status] += 1
        ends[k] = time.perf_counter()
        conn.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(threads_n)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    began[0] = time.perf_counter() + 0.01
    start.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    total = Counter()
    for c in statuses:
        total.update(c)
    out.send({"elapsed": max(ends) - t0, "latencies": [x for lat in latencies for x in lat],
              "statuses": {str(k): v for k, v in total.items()}, "client_cpu": time.process_time() - cpu0})
    out.close()


def run_round(spec: dict[str, Any]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=load_round, args=(spec, child), daemon=True)
    process.start()
    child.close()
    if not parent.poll(spec["seconds"] + 120):
        process.kill()
        raise BenchError("the load generator did not report in time")
    result = parent.recv()
    process.join(10)
    return result


# -- the benchmark -------------------------------------------------------------------------------------

def start_server(processes: BenchProcesses, kind: str, port: int, workers: int | None) -> int:
    if kind == "conf":
        if workers:
            processes.env["WEB_CONCURRENCY"] = str(workers)
        processes.env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
        child = processes.start_argv("receiver", [
            sys.executable, "-m", "gunicorn", "-c", str(REPO / "deploy" / "gunicorn.conf.py"),
            "kapta_vendus.web:create_app()"])
    else:
        child = processes.start("receiver", "serve", "--port", str(port),
                                *(["--workers", str(workers)] if workers else []))
    wait_http(f"http://127.0.0.1:{port}/healthz", processes)
    return child.pid


def measure(spec: dict[str, Any], server_pid: int, postgres: PostgresCpu) -> dict[str, Any]:
    busy0, all0 = machine_cpu()
    srv0, pg0 = session_cpu(server_pid), postgres.start()
    result = run_round(spec)
    srv1, pg = session_cpu(server_pid), postgres.since(pg0)
    busy1, all1 = machine_cpu()
    done = len(result["latencies"])
    result.update(done=done, rps=done / result["elapsed"] if result["elapsed"] else 0.0,
                  server_cpu=srv1 - srv0, postgres_cpu=pg,
                  machine_busy=(busy1 - busy0) / (all1 - all0) if all1 > all0 else float("nan"))
    return result


def summarise(kind: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x for r in rounds for x in r["latencies"]]
    done = sum(r["done"] for r in rounds)
    statuses: Counter = Counter()
    for r in rounds:
        statuses.update(r["statuses"])
    return {
        "kind": kind,
        "requests": done,
        "statuses": dict(statuses),
        "rps_per_round": [round(r["rps"], 1) for r in rounds],
        "rps_median": median([r["rps"] for r in rounds]),
        "rps_overall": done / sum(r["elapsed"] for r in rounds),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "server_cpu_ms_per_request": 1000 * sum(r["server_cpu"] for r in rounds) / done,
        "postgres_cpu_ms_per_request": 1000 * sum(r["postgres_cpu"] for r in rounds) / done,
        "client_cpu_ms_per_request": 1000 * sum(r["client_cpu"] for r in rounds) / done,
        "machine_busy_median": median([r["machine_busy"] for r in rounds]),
    }


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8, help="baseline/subject round pairs (ABBA order)")
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="length of a round: both endpoints get the same time, so a change in the "
                             "machine's load hits both alike")
    parser.add_argument("--requests", type=int, default=20000, help="requests per round at most")
    parser.add_argument("--warmup", type=int, default=300, help="requests per endpoint before measuring")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--steady-rate", type=float, default=300.0,
                        help="after the pairs, a receiver round at this steady rate (open loop) for its p99; 0: skip")
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--server", choices=("conf", "serve"), default="conf",
                        help="conf: gunicorn -c deploy/gunicorn.conf.py (sync workers, the Procfile's web); "
                             "serve: kapta-vendus serve (gthread)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: the configuration's own)")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.requests < 1 or args.concurrency < 1 or not 0 < args.seconds <= 120:
        parser.error("--pairs, --requests and --concurrency must be positive, --seconds at most 120")

    from kapta_vendus.db.models import Event
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.service import create_integration
    from kapta_vendus.metrics_state import list_depths

    run = datetime.now(UTC).strftime("%H%M%S")
    load_start = os.getloadavg()
    with ExitStack() as stack:
        workdir, database_url, broker, settings = enter_run(stack, args)
        with database_for(database_url).unit_of_work() as session:
            # No worker runs, so no event ever leaves the fair-scheduling gate: with the default cap
            # the receiver would publish the first few chains and park the rest in Redis. The cap is
            # set above anything a run sends, so that every accepted event takes the whole path
            # (commit, admission, publish), as it does while the workers keep up.
            integration, secret = create_integration(
                session, settings, name=f"bench-{run}", vendus_url="http://127.0.0.1:9/ws/v1.1",
                api_key="unused", stores=[STORE_ID], config={"limits": {"max_events_in_flight": 10**6}})
            integration_id = integration.id
        processes = BenchProcesses(workdir, settings, KAPTA_BENCH_NOOP="1")
        stack.callback(processes.stop_all)
        port = free_port()
        server_pid = start_server(processes, args.server, port, args.workers)
        postgres = PostgresCpu(args.pg_admin_url, database_url)

        def spec(kind: str, label: str, count: int, seconds: float) -> dict[str, Any]:
            return {"port": port, "path": PATHS[kind].format(id=integration_id), "secret": secret,
                    "prefix": f"evt_{run}_{label}", "count": count, "concurrency": args.concurrency,
                    "seconds": seconds}

        for kind in ("baseline", "subject"):
            warm = run_round(spec(kind, f"warm-{kind}", args.warmup, 120.0))
            if set(warm["statuses"]) != {"202"}:
                raise BenchError(f"warm-up of the {kind} endpoint answered {warm['statuses']}; see the logs")
        rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "subject": []}
        pairs = []
        for index, order in enumerate(order_of_rounds(args.pairs)):
            pair = {}
            for kind in order:
                result = measure(spec(kind, f"{index}-{kind}", args.requests, args.seconds), server_pid, postgres)
                rounds[kind].append(result)
                pair[kind] = result["rps"]
                print(f"pair {index + 1}/{args.pairs} {kind:8s} {result['done']:6d} requests "
                      f"{result['rps']:8.1f}/s  statuses {result['statuses']}  machine busy "
                      f"{result['machine_busy']:.0%}", flush=True)
            pairs.append(pair["subject"] / pair["baseline"])
        steady = None
        if args.steady_rate:
            count = int(args.steady_rate * args.steady_seconds)
            steady_spec = {**spec("subject", "steady", count, args.steady_seconds + 30),
                           "rate": args.steady_rate, "concurrency": max(args.concurrency, 32)}
            result = measure(steady_spec, server_pid, postgres)
            steady = summarise("steady", [result])
            steady.update(rate=args.steady_rate, sent=result["done"], wanted=count)
        processes.check_alive()

        with database_for(database_url).unit_of_work() as session:
            from sqlalchemy import func, select

            stored = session.scalar(select(func.count()).select_from(Event))
        queued = list_depths(broker, ["pipeline"])["pipeline"]
        subject, baseline = summarise("subject", rounds["subject"]), summarise("baseline", rounds["baseline"])
        accepted = subject["statuses"].get("202", 0) + args.warmup + (steady["statuses"].get("202", 0) if steady else 0)
        report = {
            "benchmark": "receiver",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_start": load_start, "load_average_end": os.getloadavg(),
            "server": args.server, "workers": args.workers or "configuration default",
            "concurrency": args.concurrency, "seconds_per_round": args.seconds, "pairs": args.pairs,
            "baseline": baseline, "subject": subject,
            "ratio_pairs": [round(r, 3) for r in pairs], "steady": steady,
            "ratio_median_of_pairs": median(pairs),
            "ratio_overall": subject["rps_overall"] / baseline["rps_overall"],
            "cpu_ratio": baseline["server_cpu_ms_per_request"] / subject["server_cpu_ms_per_request"],
            "check": {"accepted_202": accepted, "events_stored": stored, "chains_queued": queued},
        }
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    if not accepted == stored == queued:
        print("WARNING: accepted, stored and queued counts differ", file=sys.stderr)
        return 1
    return 0


def print_report(report: dict[str, Any]) -> None:
    print(f"\nreceiver benchmark ({report['server']}, workers {report['workers']}, "
          f"{report['concurrency']} client threads, {report['pairs']} pairs x {report['seconds_per_round']:.0f} s)")
    print(f"{'endpoint':10s} {'req/s median':>12s} {'overall':>9s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'srv CPU ms/req':>15s} {'pg CPU ms/req':>14s} {'client CPU ms/req':>18s}")
    for key in ("baseline", "subject"):
        s = report[key]
        print(f"{key:10s} {s['rps_median']:12.1f} {s['rps_overall']:9.1f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} "
              f"{s['server_cpu_ms_per_request']:15.3f} {s['postgres_cpu_ms_per_request']:14.3f} "
              f"{s['client_cpu_ms_per_request']:18.3f}")
    print(f"ratio subject/baseline: median of pairs {report['ratio_median_of_pairs']:.3f} "
          f"(pairs {report['ratio_pairs']}), overall {report['ratio_overall']:.3f}; "
          f"server CPU per request ratio {report['cpu_ratio']:.3f}; goal >= 0.5")
    steady = report.get("steady")
    if steady:
        print(f"steady {steady['rate']:.0f} ev/s for {steady['wanted']} events (open loop, latency from when due): "
              f"p50 {steady['p50_ms']:.1f} ms, p99 {steady['p99_ms']:.1f} ms, statuses {steady['statuses']}")
    print(f"load average {report['load_average_start'][0]:.1f} at the start, "
          f"{report['load_average_end'][0]:.1f} at the end (2 cores)")
    print(f"check: {report['check']}")


if __name__ == "__main__":
    sys.exit(main())

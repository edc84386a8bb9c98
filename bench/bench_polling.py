"""Polling benchmark: CPU per idle store-poll, and how many stores one node polls every interval.

    .venv/bin/python -m bench.bench_polling [--polls 300] [--documents 50]
    .venv/bin/python -m bench.bench_polling --stores 10000 [--latencies 0,250]   (bench.polling_scale)

It creates a scratch PostgreSQL database, starts the Vendus simulator (a subprocess, so its CPU is
not counted as the poller's) with ``--documents`` documents of the last days in its store, creates
one integration over it, polls once (the first poll mirrors the documents), then times ``--polls``
idle polls of that store, one after the other (each is what one store costs per interval: one list
request, the fingerprints compared, nothing written). CPU is this process's (the poller: HTTP
client, database client, Redis lock and idle counter) plus the PostgreSQL backends'.
The number of stores per 2-core node at 50 % CPU is derived as 2 x 0.5 x interval / CPU per poll.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime

from bench.bench_pipeline import API_KEY, Simulator
from bench.common import BenchProcesses, PostgresCpu, add_run_arguments, enter_run, stop_cleanly_on_sigterm


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--polls", type=int, default=300)
    parser.add_argument("--documents", type=int, default=50, help="documents in the store's poll window")
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between two polls of a store")
    parser.add_argument("--stores", type=int, default=0,
                        help="a real schedule window of this many stores (bench.polling_scale); 0: one store")
    parser.add_argument("--latencies", default="0,250", help="simulator latencies (ms) of the --stores windows")
    parser.add_argument("--per-integration", type=int, default=100, help="stores per integration (--stores)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes of the worker (--stores)")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    if args.stores:
        return scale(args)

    import requests

    from kapta_vendus.config import set_settings
    from kapta_vendus.db.models import ReconciliationRun
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.service import create_integration
    from kapta_vendus.reconcile.poller import poll_store
    from kapta_vendus.tasks.app import configure

    with ExitStack() as stack:
        workdir, _, _broker, settings = enter_run(stack, args)
        configure(settings)
        set_settings(settings)
        processes = BenchProcesses(workdir, settings)
        stack.callback(processes.stop_all)
        sim = Simulator(processes, "simulator", 0)
        today = datetime.now(UTC).date()
        requests.post(f"{sim.root}/_sim/bulk", json={"api_key": API_KEY, "n": args.documents,
                                                     "start_date": today.isoformat(), "end_date": today.isoformat()},
                      timeout=60).raise_for_status()
        stores = [int(s["id"]) for s in requests.get(f"{sim.url}/stores/", params={"api_key": API_KEY},
                                                     timeout=10).json()][:1]
        db = database_for(settings.database_url)
        with db.unit_of_work() as session:
            integration, _ = create_integration(session, settings, name="bench-poll", vendus_url=sim.url,
                                                api_key=API_KEY, stores=stores, mode="normal", config={})
            integration_id = integration.id

        def poll() -> None:
            poll_store(db, settings, integration_id, stores[0], enqueue=lambda _i: None)

        poll()  # the first poll mirrors what is there
        postgres = PostgresCpu(args.pg_admin_url, settings.database_url)
        with db.unit_of_work() as session:
            runs_before = session.query(ReconciliationRun).count()
        cpu0, pg0, t0 = time.process_time(), postgres.start(), time.perf_counter()
        for _ in range(args.polls):
            poll()
        cpu, pg, wall = time.process_time() - cpu0, postgres.since(pg0), time.perf_counter() - t0
        with db.unit_of_work() as session:
            runs_written = session.query(ReconciliationRun).count() - runs_before
        polls = args.polls
        per_poll = (cpu + pg) / polls
        report = {"benchmark": "polling", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                  "documents_listed_per_poll": args.documents, "idle_polls": polls, "wall_seconds": wall,
                  "poller_cpu_ms_per_poll": 1000 * cpu / polls, "postgres_cpu_ms_per_poll": 1000 * pg / polls,
                  "run_rows_written_by_idle_polls": runs_written,
                  "stores_per_2_core_node_at_50_percent": int(2 * 0.5 * args.interval / per_poll)}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def scale(args) -> int:
    from bench.polling_scale import one_window
    from kapta_vendus.tasks.app import configure

    windows = []
    with ExitStack() as stack:
        workdir, _, broker, settings = enter_run(stack, args)
        configure(settings)
        processes = BenchProcesses(workdir, settings)
        stack.callback(processes.stop_all)
        for latency in (float(v) for v in args.latencies.split(",")):
            windows.append(one_window(args, settings, processes, latency, broker))
            print(json.dumps(windows[-1]), flush=True)
    report = {"benchmark": "polling at scale", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "interval_seconds": args.interval, "concurrency": args.concurrency, "windows": windows}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Polling at scale: one schedule window of N stores, polled for real by the Procfile's worker.

    .venv/bin/python -m bench.bench_polling --stores 10000 --latencies 0,250

For each simulator latency: a fresh simulator (a subprocess) with ``stores / per_integration``
accounts of ``per_integration`` stores each, one integration per account (default limits: the
Vendus request budget of 5/s per integration applies), and the ``worker`` process of the Procfile
(prefork, ``--concurrency`` processes, the reconcile queue among others). The round starts as beat
starts it: one ``kapta.reconcile.schedule_polls`` message, which fans out ``poll_stores`` batches
with ``expires`` = the interval. It ends when every store was polled or the window is over.

Measured: the worker's CPU (the whole process session: the main process and its pool children)
and the PostgreSQL backends' CPU from the fan-out to the last poll; the polls done (idle polls are
counted in Redis, ``reconcile.idle``; a poll with something to write leaves a run row); missed
polls = stores - polls done within the window (the round also ends once the queue is empty and no
poll finished for 30 s). CPU share of a 2-core node over the window =
CPU seconds / (2 x interval): the worker is idle for the rest of the window (nothing else is
scheduled in it), so a round that finishes early is not stretched.

The stores are empty in the poll window (every list answers "no data"), so each poll is the
fixed cost of one store: the lock, the cursor read, one list request, the idle counter. The cost
of comparing listed rows is measured by the single-store mode of ``bench_polling`` (``--documents``).
"""

from __future__ import annotations

import time
from typing import Any

import requests

from bench.bench_pipeline import Simulator, wait_worker
from bench.common import BenchError, BenchProcesses, PostgresCpu, machine_cpu, pids_cpu, session_cpu


def _accounts(sim: Simulator, count: int, per_account: int, tag: str) -> list[tuple[str, list[int]]]:
    out = []
    for i in range(count):
        key = f"poll-{tag}-{i}"
        stores = [{"title": f"Loja {i}-{j}", "postalcode": "1100-053"} for j in range(per_account)]
        requests.post(f"{sim.root}/_sim/accounts", json={"api_key": key, "stores": stores},
                      timeout=60).raise_for_status()
        listed = requests.get(f"{sim.url}/stores/", params={"api_key": key, "per_page": 1000}, timeout=60).json()
        out.append((key, [int(store["id"]) for store in listed]))
    return out


def _integrations(settings, sim: Simulator, accounts: list[tuple[str, list[int]]], tag: str) -> list[str]:
    from kapta_vendus.db.session import database_for
    from kapta_vendus.integrations.service import create_integration

    ids = []
    with database_for(settings.database_url).unit_of_work() as session:
        for key, stores in accounts:
            integration, _ = create_integration(session, settings, name=f"bench-{key}", vendus_url=sim.url,
                                                api_key=key, stores=stores, mode="normal", config={})
            ids.append(integration.id)
    return ids


def _only_active(settings, integration_ids: set[str]) -> None:
    from sqlalchemy import update

    from kapta_vendus.db.models import Integration
    from kapta_vendus.db.session import database_for

    with database_for(settings.database_url).unit_of_work() as session:
        session.execute(update(Integration).where(Integration.id.not_in(integration_ids))
                        .values(status="disabled"))


def _polls_done(settings, integration_ids: set[str]) -> int:
    from sqlalchemy import func, select

    from kapta_vendus.db.models import ReconciliationRun
    from kapta_vendus.db.session import database_for
    from kapta_vendus.reconcile.idle import idle_polls

    idle = sum(n for integration, n in idle_polls(settings).items() if integration in integration_ids)
    with database_for(settings.database_url).unit_of_work() as session:
        written = session.scalar(select(func.count()).select_from(ReconciliationRun)
                                 .where(ReconciliationRun.kind == "poll",
                                        ReconciliationRun.integration_id.in_(integration_ids)))
    return idle + int(written or 0)


def one_window(args, settings, processes: BenchProcesses, latency_ms: float, broker) -> dict[str, Any]:
    from kapta_vendus.tasks.app import app

    tag = f"{int(latency_ms)}ms"
    sim = Simulator(processes, f"simulator-{tag}", latency_ms)
    per = args.per_integration
    accounts = _accounts(sim, args.stores // per, per, tag)
    ids = set(_integrations(settings, sim, accounts, tag))
    stores = sum(len(s) for _, s in accounts)
    if stores != args.stores:
        raise BenchError(f"the simulator made {stores} stores, not {args.stores}")
    _only_active(settings, ids)  # beat polls every active integration: not the previous windows' ones
    broker.delete("kapta:polls:idle", "reconcile")
    worker = processes.start(f"worker-{tag}", "worker", "-Q", "ingest,pipeline,reconcile,notify", "--pool", "prefork",
                             "--concurrency", str(args.concurrency), "-n", f"bench-poll-{tag}@%h",
                             "--without-gossip", "--without-mingle")
    wait_worker(processes, f"bench-poll-{tag}@")
    postgres = PostgresCpu(args.pg_admin_url, settings.database_url)
    session = worker.pid  # started with start_new_session: its session id is its pid
    cpu0, pg0, sim0 = session_cpu(session), postgres.start(), pids_cpu([sim.pid])
    busy0, total0 = machine_cpu()
    t0 = time.monotonic()
    app.signature("kapta.reconcile.schedule_polls").apply_async(expires=args.interval)
    done, last_progress = 0, (0, time.monotonic())
    while time.monotonic() - t0 < args.interval:
        done = _polls_done(settings, ids)
        if done >= stores:
            break
        if done != last_progress[0]:
            last_progress = (done, time.monotonic())
        elif time.monotonic() - last_progress[1] > 30 and not broker.llen("reconcile"):
            break  # nothing queued and nothing done for 30 s: the rest of the polls are missed
        processes.check_alive()
        time.sleep(1.0)
    wall = time.monotonic() - t0
    cpu, pg = session_cpu(session) - cpu0, postgres.since(pg0)
    sim_cpu = pids_cpu([sim.pid]).get(sim.pid, 0.0) - sim0.get(sim.pid, 0.0)
    busy, total = machine_cpu()
    failures = [line.split("failed (", 1)[1].rstrip(")") for line in processes.log_of(f"worker-{tag}").splitlines()
                if "stores failed (" in line]
    worker.terminate()
    worker.wait(30)
    processes.children[:] = [c for c in processes.children if c[1] is not worker]
    window_cpu = 2 * args.interval
    return {"latency_ms": latency_ms, "stores": stores, "integrations": len(ids), "polls_done": done,
            "missed_polls": stores - done, "failure_kinds_logged": sorted(set(failures)),
            "seconds_to_poll_all": round(wall, 1),
            "worker_cpu_seconds": round(cpu, 1), "postgres_cpu_seconds": round(pg, 1),
            "simulator_cpu_seconds": round(sim_cpu, 1),
            "worker_cpu_ms_per_poll": round(1000 * cpu / max(done, 1), 2),
            "worker_share_of_2_cores_over_window": round(cpu / window_cpu, 4),
            "worker_and_postgres_share_of_2_cores_over_window": round((cpu + pg) / window_cpu, 4),
            "machine_busy_during_round": round((busy - busy0) / max(total - total0, 1e-9), 3)}

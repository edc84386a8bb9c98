"""``python -m bench.soak``: a steady rate for an hour against a 100 ms Vendus; is anything growing?

Every minute it samples the resident memory of each process (with its pool processes or gunicorn
workers), the inbox depth (pushed events not finished) and the Redis queue lengths. At the end it
prints p50/p95 accepted → done per ten-minute window, the errors (refused or unanswered pushes,
rejected or dead events) and the ledger, and with ``--results`` writes a section of
``bench/RESULTS.md``. Redis and PostgreSQL are the run's own (``bench.chaos.services``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import celeryconfig
from bench.chaos.cluster import FAST_RECOVERY, new_cluster, own_services
from bench.chaos.e2e import API_KEY
from bench.chaos.ledger import balance, event_statuses, in_flight_count, read_documents
from bench.chaos.mix import make_story
from bench.chaos.report import header, write_section
from bench.chaos.run import WORKERS, wait_quiet
from bench.chaos.senders import Endpoint, SendLog, run_senders
from bench.common import stop_cleanly_on_sigterm
from kapta_vendus.db.models import Event
from kapta_vendus.metrics_state import list_depths


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def sample(cluster, began: float) -> dict:
    return {
        "t": round(time.time() - began),
        "rss_mib": {name: round(rss_mib(pids), 1) for name, pids in cluster.pids().items()},
        "inbox": in_flight_count(cluster.engine, [cluster.integration_id]),
        "queues": list_depths(cluster.redis, celeryconfig.QUEUES),
    }


def windows(cluster, began: float, width: float) -> list[tuple[int, int, float, float]]:
    """(window start in minutes, events, p50, p95) of accepted → done, by the event's acceptance.

    Pushed events only: the document events the service's own polling records are not the load."""
    with Session(cluster.engine) as session:
        rows = session.execute(select(Event.received_at, func.coalesce(Event.finished_at, Event.updated_at)).where(
            Event.integration_id == cluster.integration_id, Event.status == "done", Event.source == "push")).all()
    buckets: dict[int, list[float]] = {}
    for received, done in rows:
        index = int((received.timestamp() - began) // width)
        buckets.setdefault(index, []).append((done - received).total_seconds())
    out = []
    for index in sorted(buckets):
        values = sorted(buckets[index])
        out.append((int(index * width / 60), len(values), statistics.median(values),
                    values[int(0.95 * (len(values) - 1))]))
    return out


def main(argv: list[str] | None = None) -> int:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=3600)
    parser.add_argument("--rate", type=float, default=4.0, help="events per second")
    parser.add_argument("--latency-ms", type=int, default=100, help="the simulator's latency on every request")
    parser.add_argument("--window", type=float, default=600, help="seconds per latency window")
    parser.add_argument("--every", type=float, default=60, help="seconds between samples")
    parser.add_argument("--log-dir", type=Path)
    parser.add_argument("--results", action="store_true")
    args = parser.parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="kapta-soak-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"logs in {log_dir}; load average {os.getloadavg()[0]:.2f}", flush=True)
    with own_services(log_dir) as (redis_server, postgres):
        cluster = new_cluster(log_dir, postgres.create_database(), redis_server.url, **FAST_RECOVERY)
        try:
            cluster.start_simulator("--latency-ms", str(args.latency_ms))
            cluster.start_receiver_fixed()
            for spec in WORKERS:
                cluster.start_worker_spec(spec)
            cluster.start_beat_in()
            cluster.create_integration(f"soak-{uuid.uuid4().hex[:6]}")
            return _soak(cluster, args, log_dir)
        finally:
            cluster.stop()


def _soak(cluster, args, log_dir: Path) -> int:
    rng = random.Random(7)
    count = int(args.seconds * args.rate)
    stories = [make_story(rng.choices(("paid", "nif"), (70, 30))[0], cluster.store_id, rng, "SOAK")
               for _ in range(count)]
    endpoint = Endpoint(cluster.receiver_url, cluster.integration_id, cluster.secret)
    log, samples = SendLog(), []
    began = time.time()
    sending = threading.Thread(target=run_senders, args=(lambda _: endpoint, [[s.first[0] for s in stories]], log),
                               kwargs={"deadline": time.monotonic() + args.seconds * 2, "rate": args.rate},
                               daemon=True)
    sending.start()
    while sending.is_alive():
        samples.append(sample(cluster, began))
        print(f"  {json.dumps(samples[-1])}", flush=True)
        sending.join(args.every)
    wait_quiet(cluster, timeout=600)
    samples.append(sample(cluster, began))
    statuses = event_statuses(cluster.engine, [cluster.integration_id])
    ledger = balance(stories, log.accepted, log.refused, statuses, read_documents(cluster.http, cluster.sim_url,
                                                                                  API_KEY))
    per_window = windows(cluster, began, args.window)
    errors = len(log.refused) + sum(n for a, n in log.answers.items() if not a.startswith("2")) + \
        ledger.rejected + ledger.dead
    (log_dir / "soak.json").write_text(json.dumps({"samples": samples, "windows": per_window}, indent=1))
    print(ledger.line())
    for start, n, p50, p95 in per_window:
        print(f"  minute {start:>3}: {n} events, p50 {p50:.2f} s, p95 {p95:.2f} s")
    print(f"errors: {errors}; answers {dict(log.answers)}")
    if args.results:
        write_section("soak", _markdown(args, samples, per_window, ledger, errors, log))
    return 0 if ledger.valid and errors == 0 else 1


def _markdown(args, samples, per_window, ledger, errors, log) -> str:
    first, last = samples[0], samples[-1]
    names = sorted(set(first["rss_mib"]) & set(last["rss_mib"]))
    rows = "\n".join(f"| {n} | {first['rss_mib'][n]} | {last['rss_mib'][n]} | "
                     f"{last['rss_mib'][n] - first['rss_mib'][n]:+.1f} |" for n in names)
    peak_inbox = max(s["inbox"] for s in samples)
    peak_queue = max(sum(s["queues"].values()) for s in samples)
    win = "\n".join(f"| {start}-{start + int(args.window / 60)} | {n} | {p50:.2f} | {p95:.2f} |"
                    for start, n, p50, p95 in per_window)
    return "\n".join([
        "## Soak (`bench/soak`)", "", header(), "",
        f"`python -m bench.soak --seconds {args.seconds:.0f} --rate {args.rate} --latency-ms {args.latency_ms}`; "
        f"{len(samples)} samples, one every {args.every:.0f} s.", "",
        "| process (with its children) | RSS at start (MiB) | RSS at end (MiB) | change |", "|---|---|---|---|", rows,
        "", f"Inbox depth (pushed, unfinished): peak {peak_inbox}, at the end {last['inbox']}. Redis queues: peak "
        f"{peak_queue} messages in all, at the end {sum(last['queues'].values())}.", "",
        "| minutes | events | p50 accepted → done (s) | p95 (s) |", "|---|---|---|---|", win, "",
        f"Errors: {errors} (refused pushes, non-2xx answers, rejected or dead events); answers {dict(log.answers)}.",
        "", "```", ledger.line(), "```",
    ])


if __name__ == "__main__":
    sys.exit(main())

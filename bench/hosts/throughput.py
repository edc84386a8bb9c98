"""Throughput by worker hosts: documents issued per second at steady state, against the design's bound.

Each worker host runs the Procfile's layout, small: a prefork worker on the CPU-bound queues
(``-Q ingest,pipeline,reconcile,notify --concurrency 1``) and a billing worker on a thread pool
(``-Q billing --pool threads --concurrency T``). Only the billing threads wait on Vendus, so with the
simulator at L seconds per call and one call per event the design's bound is ``T x hosts / L``.

Why not "events done per second, polled": an event is ``done`` when its ``sync`` task runs, and on
a queued backlog the prefork worker takes the ``sync`` tasks after the ``prepare`` tasks ahead of
them, so ``done`` arrives in bursts long after the document was issued. A window between 10 % and
90 % done then measures a burst (an earlier run reported 105 events/s for one process at 100 ms per
call). The rate here is read afterwards from the moment each document was recorded as issued
(``issuances.updated_at``, written right after the Vendus POST returned), and checked against the
number of documents the simulator holds more after the round.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bench.chaos.cluster import Cluster, WorkerSpec
from bench.chaos.e2e import API_KEY
from bench.chaos.ledger import read_documents
from bench.chaos.mix import make_story
from bench.chaos.senders import Endpoint, SendLog, deal, run_senders
from bench.common import machine_cpu, session_cpu
from bench.hosts.netns import Host
from kapta_vendus.db.models import Event, Issuance

PIPELINE_QUEUES = "ingest,pipeline,reconcile,notify"


def host_layout(host: Host, billing_threads: int, layout: str = "procfile") -> list[WorkerSpec]:
    """The Procfile's ``worker`` and ``billing`` processes of one host, sized small (see the module doc).

    ``single``: the earlier run's layout, one prefork process on every queue, kept to show its artefact.
    """
    if layout == "single":
        return [WorkerSpec(f"worker-{host.name}", ("--pool", "prefork", "--concurrency", "1"), host.exec)]
    return [
        WorkerSpec(f"worker-{host.name}", ("-Q", PIPELINE_QUEUES, "--pool", "prefork", "--concurrency", "1"),
                   host.exec),
        WorkerSpec(f"billing-{host.name}", ("-Q", "billing", "--pool", "threads", "--concurrency",
                                            str(billing_threads)), host.exec),
    ]


@dataclass
class RoundResult:
    hosts: int
    issued_rate: float  # documents issued per second between the 10 % and 90 % issuance marks
    done_rate: float  # the old measure, same window rule on events' finished_at: for comparison only
    issued: int
    events: int
    documents: int  # documents the simulator holds more after the round than before
    busy: float  # the machine's CPUs busy meanwhile, 0-1
    cpu_per_document: float  # CPU seconds of the round's worker processes per document, at steady state


def steady_rate(moments: list[datetime]) -> float:
    """Items per second between the moments 10 % and 90 % of them happened (start-up and tail left out)."""
    if len(moments) < 10:
        return 0.0
    ordered = sorted(moments)
    low, high = int(0.1 * len(ordered)), int(0.9 * len(ordered)) - 1
    seconds = (ordered[high] - ordered[low]).total_seconds()
    return (high - low) / seconds if seconds > 0 else float("inf")


def steady_cpu(samples: list[tuple[int, float]], k: int) -> float:
    """Worker CPU seconds per document between the polls at 10 % and 90 % issued (start-up left out)."""
    inside = [s for s in samples if 0.1 * k <= s[0] <= 0.9 * k]
    if len(inside) < 2 or inside[-1][0] == inside[0][0]:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def sim_documents(cluster: Cluster) -> int:
    """The documents the simulator holds (its ``/_sim/stats`` answers loopback only: read through the API)."""
    return len(read_documents(cluster.http, cluster.sim_url, API_KEY))


def moments(cluster: Cluster, ids: set[str]) -> tuple[list[datetime], list[datetime]]:
    """(issued moments, finished moments) of the round's events."""
    with Session(cluster.engine) as session:
        rows = session.execute(select(Event.external_id, Issuance.updated_at, Issuance.state, Event.finished_at)
                               .join(Issuance, Issuance.event_id == Event.id)
                               .where(Event.integration_id == cluster.integration_id)).all()
    mine = [row for row in rows if row[0] in ids]
    return ([r[1] for r in mine if r[2] == "issued"], [r[3] for r in mine if r[3] is not None])


def stop_workers(cluster: Cluster) -> None:
    for name in list(cluster.workers):
        cluster.workers.pop(name).stop()


def throughput_round(cluster: Cluster, hosts: list[Host], n: int, k: int, billing_threads: int,
                     rng: random.Random, endpoint: Endpoint, log: SendLog, stories: list,
                     layout: str = "procfile") -> RoundResult:
    stop_workers(cluster)
    # Paid anonymous sales only: one Vendus call each (an FS), so that the bound is threads x hosts / latency.
    batch = [make_story("paid", cluster.store_id, rng, f"H{n}") for _ in range(k)]
    stories.extend(batch)
    run_senders(lambda _: endpoint, deal([s.first[0] for s in batch], 4), log, deadline=time.monotonic() + 300)
    ids = {s.first[0]["id"] for s in batch}
    documents0 = sim_documents(cluster)
    busy0, total0 = machine_cpu()
    for host in hosts[:n]:
        for spec in host_layout(host, billing_threads, layout):
            cluster.start_worker_spec(spec, wait=False)
    deadline = time.monotonic() + 600
    samples: list[tuple[int, float]] = []  # (documents issued, the round's workers' CPU seconds), polled
    while time.monotonic() < deadline:
        issued, finished = moments(cluster, ids)
        samples.append((len(issued), sum(session_cpu(p.pid) for p in cluster.workers.values())))
        if len(finished) >= k:
            break
        time.sleep(0.5)
    busy1, total1 = machine_cpu()
    documents1 = sim_documents(cluster)
    issued, finished = moments(cluster, ids)
    result = RoundResult(n, steady_rate(issued), steady_rate(finished), len(issued), k, documents1 - documents0,
                         (busy1 - busy0) / max(total1 - total0, 1e-6), steady_cpu(samples, k))
    print(f"  {n} worker host(s): {result.issued_rate:.1f} documents/s issued ({result.issued}/{k}; the simulator "
          f"holds {result.documents} more documents); 'done' polled the old way "
          f"{result.done_rate:.1f}/s; workers {1000 * result.cpu_per_document:.0f} ms CPU/document; "
          f"CPUs {result.busy:.0%} busy", flush=True)
    return result

"""Fairness under a flood: a small tenant's latency while another integration floods the service.

Two integrations on one service, with the default limits (their own Vendus budget and
in-flight cap each; one simulator account behind both). First the small one sends ``few``
sales alone, at a steady 2 events/s; then the big one floods ``flood`` sales as fast as the
receiver takes them, and the small one sends ``few`` more at the same pace. Its p95 accepted →
done in the flood is compared with its p95 alone. The flood is not drained: the run stops once
the small tenant's events are done (the rest would only measure the machine's throughput).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos.cluster import FAST_RECOVERY, new_cluster, own_services
from bench.chaos.e2e import wait_until
from bench.chaos.ledger import event_statuses, latencies
from bench.chaos.mix import make_story
from bench.chaos.report import header
from bench.chaos.run import WORKERS
from bench.chaos.senders import Endpoint, SendLog, deal, run_senders
from bench.chaos.stages import nearest_rank, splits, table


@dataclass
class Fairness:
    flood: int
    few: int
    alone_p95: float
    flooded_p95: float
    alone_p50: float
    flooded_p50: float
    flood_done_when_small_done: int
    flood_accepted: int
    stages: list[str] = field(default_factory=list)  # where B's time went (``bench.chaos.stages.table``)

    @property
    def ratio(self) -> float:
        return self.flooded_p95 / self.alone_p95

    def line(self) -> str:
        return (f"fairness: small tenant p95 {self.alone_p95:.3f} s alone, {self.flooded_p95:.3f} s under a flood of "
                f"{self.flood_accepted} events (x{self.ratio:.2f}; p50 {self.alone_p50:.3f} → "
                f"{self.flooded_p50:.3f} s); the flood had {self.flood_done_when_small_done} done when the small "
                "tenant finished")

    def markdown(self) -> str:
        return "\n".join([
            "## Fairness under a flood (`bench/chaos --fairness`)", "", header(), "",
            f"Integration A floods {self.flood_accepted} sales (all accepted before B's second batch starts); "
            f"B sends {self.few} sales at 2 events/s alone, then {self.few} more during the flood. Same worker layout "
            "as the ledger run, which is the deployed one: a prefork worker (2 processes) on every queue but "
            "billing and a billing worker (8 threads), both with the slow lanes, and the express worker (prefork, "
            "2 processes) on the fast lane only.", "",
            "| B's accepted → done | alone | during A's flood | ratio |", "|---|---|---|---|",
            f"| p50 (s) | {self.alone_p50:.3f} | {self.flooded_p50:.3f} | {self.flooded_p50 / self.alone_p50:.2f} |",
            f"| p95 (s) | {self.alone_p95:.3f} | {self.flooded_p95:.3f} | {self.ratio:.2f} |", "",
            "Where B's time went, per part of its path (queued before a task, then the task's run), from "
            "its step runs:", "", *self.stages, "",
            f"A had {self.flood_done_when_small_done} of its events done when B's last one was: B did not wait "
            "for the flood. Goal: p95 within 10 % of alone (ratio ≤ 1.10)"
            f"{'; met' if self.ratio <= 1.10 else '; NOT met on this run'}.",
        ])


def run_fairness(log_dir: Path, *, flood: int, few: int) -> Fairness:
    log_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    with own_services(log_dir) as (redis_server, postgres):
        cluster = new_cluster(log_dir, postgres.create_database(), redis_server.url, **FAST_RECOVERY)
        try:
            cluster.start_simulator()
            cluster.start_receiver_fixed(workers=3)
            for spec in WORKERS:
                cluster.start_worker_spec(spec)
            cluster.create_integration(f"flood-{uuid.uuid4().hex[:6]}")
            big = Endpoint(cluster.receiver_url, cluster.integration_id, cluster.secret)
            cluster.create_integration(f"small-{uuid.uuid4().hex[:6]}")
            small = Endpoint(cluster.receiver_url, cluster.integration_id, cluster.secret)

            def send_small(tag: str) -> SendLog:
                log = SendLog()
                batch = [make_story("paid", cluster.store_id, rng, tag).first[0] for _ in range(few)]
                run_senders(lambda _: small, [batch], log, deadline=time.monotonic() + 600, rate=2.0)
                ids = set(log.accepted)
                wait_until(lambda: _all_done(cluster, small.integration_id, ids), timeout=600,
                           what=f"the small tenant's {tag} events", interval=0.5)
                return log

            alone = send_small("ALONE")
            flood_log = SendLog()
            flooding = [make_story("paid", cluster.store_id, rng, "FLOOD").first[0] for _ in range(flood)]
            run_senders(lambda _: big, deal(flooding, 8), flood_log, deadline=time.monotonic() + 900)
            flooded = send_small("FLOODED")
            flood_done = sum(1 for s in event_statuses(cluster.engine, [big.integration_id]).values() if s == "done")
            alone_times = latencies(cluster.engine, small.integration_id, alone.accepted)
            flooded_times = latencies(cluster.engine, small.integration_id, flooded.accepted)
            stages = table(splits(cluster.engine, small.integration_id, set(alone.accepted)),
                           splits(cluster.engine, small.integration_id, set(flooded.accepted)))
            return Fairness(flood, few, nearest_rank(alone_times, 0.95), nearest_rank(flooded_times, 0.95),
                            nearest_rank(alone_times, 0.5), nearest_rank(flooded_times, 0.5), flood_done,
                            len(flood_log.accepted), stages)
        finally:
            cluster.stop()


def _all_done(cluster, integration_id: str, ids: set[str]) -> bool:
    statuses = event_statuses(cluster.engine, [integration_id])
    return all(statuses.get(i) in ("done", "rejected", "dead") for i in ids)


__all__ = ["Fairness", "run_fairness"]

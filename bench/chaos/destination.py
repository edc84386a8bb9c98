"""A destination of the integration's outbound events, and its outage (only in builds that have them).

The sink is a small HTTP server in the suite's own process: it records each ``webhook-id`` it
is given and answers 503 while it is "down". Its ledger: every delivery row of the run is
``delivered`` at quiescence (none pending, none dead), each delivered ``webhook-id`` reached the
sink, and the sink saw no id the service never recorded. A webhook-id seen more than once is a
re-send after a lost answer or a killed worker, which the receiver deduplicates by that id
(reference/events.md, "Outbound events to destinations"): counted, not an error.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.chaos.cluster import Cluster

# Short retry spacing, so that deliveries held back by the outage go out within the run.
FAST_DELIVERY = {"KAPTA_DELIVERY_BACKOFF": "2", "KAPTA_DELIVERY_COOLDOWN": "5", "KAPTA_DELIVERY_SWEEP_INTERVAL": "5",
                 "KAPTA_DELIVERY_TIMEOUT": "3"}


def available() -> bool:
    try:
        import kapta_vendus.destinations.registry  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Sink:
    down: threading.Event = field(default_factory=threading.Event)
    seen: Counter = field(default_factory=Counter)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink.lock:
                    if sink.down.is_set():
                        sink.refused += 1
                        self.send_response(503)
                    else:
                        sink.seen[self.headers.get("webhook-id", "")] += 1
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


def add_destination(cluster: Cluster, url: str) -> None:
    out = cluster.cli("destinations", "add", "--integration", cluster.integration_id, "--name", "ledger-sink",
                      "--url", url, "--event", "document.issued").stdout
    if not re.search(r"whsec_", out):
        raise AssertionError(f"cannot add the destination:\n{out}")


@dataclass
class DeliveryLedger:
    deliveries: int
    delivered: int
    pending: int
    dead: int
    missing_at_sink: int
    unknown_at_sink: int
    resent: int

    @property
    def valid(self) -> bool:
        return self.deliveries > 0 and self.pending == self.dead == self.missing_at_sink == self.unknown_at_sink == 0

    def line(self) -> str:
        return (f"destination ledger {'VALID' if self.valid else 'VOID'}: deliveries={self.deliveries} "
                f"delivered={self.delivered} pending={self.pending} dead={self.dead} "
                f"missing_at_sink={self.missing_at_sink} unknown_at_sink={self.unknown_at_sink} "
                f"re-sent (same webhook-id)={self.resent}")


def pending_deliveries(cluster: Cluster) -> int:
    with Session(cluster.engine) as session:
        return int(session.execute(text("SELECT count(*) FROM deliveries WHERE status = 'pending'")).scalar() or 0)


def balance_deliveries(cluster: Cluster, sink: Sink) -> DeliveryLedger:
    with Session(cluster.engine) as session:
        rows = session.execute(text("SELECT webhook_id, status FROM deliveries")).all()
    statuses = Counter(status for _, status in rows)
    delivered = {webhook_id for webhook_id, status in rows if status == "delivered"}
    with sink.lock:
        seen = dict(sink.seen)
    return DeliveryLedger(
        deliveries=len(rows), delivered=statuses["delivered"], pending=statuses["pending"], dead=statuses["dead"],
        missing_at_sink=len(delivered - set(seen)), unknown_at_sink=len(set(seen) - {w for w, _ in rows}),
        resent=sum(n - 1 for n in seen.values() if n > 1))

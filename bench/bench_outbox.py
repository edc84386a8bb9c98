"""The cost of the outbox in an event's final transaction (destinations.outbox.record_outcome).

Each sample finishes one event that issued one document, in one transaction on PostgreSQL, as the
pipeline's sync step does. Baseline: the integration has no destination (the hook costs one indexed
query). Subject: it has two destinations wanting ``document.issued`` (two deliveries recorded). Rounds
alternate ABBA; the figure to read is the ratio of the medians (subject ÷ baseline), not the absolute
times, which depend on the machine's load. Nothing is sent: enqueueing is replaced by a no-op.

    .venv/bin/python -m bench.bench_outbox [--events 300 --rounds 6]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from contextlib import ExitStack

from bench.common import add_run_arguments, cafe_sale, enter_run, median, order_of_rounds
from kapta_vendus.db.models import Document, Event, Issuance, utcnow
from kapta_vendus.db.session import database_for
from kapta_vendus.destinations.outbox import record_outcome
from kapta_vendus.destinations.registry import DestinationSpec, upsert_destination
from kapta_vendus.integrations.service import create_integration
from kapta_vendus.tasks import dispatch


def _prepare(db, settings, name: str, destinations: int, events: int) -> list[int]:
    with db.unit_of_work() as session:
        integration, _ = create_integration(session, settings, name=name, vendus_url="http://127.0.0.1:9",
                                            api_key="bench", stores=[1])
        for n in range(destinations):
            upsert_destination(session, settings, integration.id, DestinationSpec(
                f"d{n}", f"http://127.0.0.1:9/{n}", ("document.issued",)))
        ids = []
        for n in range(events):
            envelope = cafe_sale(f"{name}-{n}", f"S-{n}", 1)
            event = Event(integration_id=integration.id, source="push", type="sale.completed",
                          dedup_key=envelope["id"], external_id=envelope["id"], store_id=1,
                          raw=json.dumps(envelope), status="in_flight")
            session.add(event)
            session.flush()
            vendus_id = 10_000_000 * (destinations + 1) + n
            session.add(Issuance(integration_id=integration.id, idempotency_key=f"k{n}", kind="issue_document",
                                 business_key=f"sale:1:S-{n}", event_id=event.id, state="issued",
                                 vendus_id=vendus_id, document_number=f"FS 01P2026/{n}"))
            session.add(Document(integration_id=integration.id, vendus_id=vendus_id, type="FS",
                                 number=f"FS 01P2026/{n}", issued_here=True,
                                 raw={"atcud": f"JFAAAAAA-{n}", "qrcode_data": "A:1*B:2"}))
            ids.append(event.id)
    return ids


def _finish(db, event_ids: list[int]) -> list[float]:
    times = []
    for event_id in event_ids:
        t0 = time.perf_counter()
        with db.unit_of_work() as session:
            event = session.get(Event, event_id)
            event.status, event.finished_at = "done", utcnow()
            record_outcome(session, event)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300, help="events finished per round")
    parser.add_argument("--rounds", type=int, default=6)
    add_run_arguments(parser)
    args = parser.parse_args()
    dispatch.enqueue_delivery = lambda _id: None
    dispatch.enqueue_email = lambda _id: None
    with ExitStack() as stack:
        _, _, _, settings = enter_run(stack, args)
        db = database_for(settings.database_url)
        samples: dict[str, list[float]] = {"baseline": [], "subject": []}
        pools = {"baseline": [], "subject": []}
        for index in range(args.rounds):
            pools["baseline"].append(_prepare(db, settings, f"base{index}", 0, args.events))
            pools["subject"].append(_prepare(db, settings, f"subj{index}", 2, args.events))
        ratios = []
        for index, order in enumerate(order_of_rounds(args.rounds)):
            medians = {}
            for kind in order:
                times = _finish(db, pools[kind][index])
                samples[kind].extend(times)
                medians[kind] = median(times)
            ratios.append(medians["subject"] / medians["baseline"])
        result = {"events_per_round": args.events, "rounds": args.rounds,
                  "baseline_median_ms": round(median(samples["baseline"]) * 1000, 3),
                  "subject_median_ms": round(median(samples["subject"]) * 1000, 3),
                  "ratio_median": round(median(ratios), 3), "ratio_range": [round(min(ratios), 3),
                                                                           round(max(ratios), 3)],
                  "load_average": os.getloadavg()}
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The ledger: every accepted event accounted for, and one Vendus document per business key.

Two books are balanced at quiescence:

- **Events.** Every event id a sender saw accepted (2xx) must be in the inbox, and every pushed
  inbox row is ``done``, ``rejected``, ``dead`` or still in flight (any other status: received,
  in flight, waiting): ``accepted = done + rejected + dead + in_flight``, with 0 unaccounted (accepted but not stored).
- **Documents**, read back from the simulator's API (every page, both modes). Documents are
  grouped by sale (the sale id named by ``external_reference``); each group must hold exactly
  the (type, gross amount) multiset its story plans: an FS/FR/FT for the sale total, an RG for a
  payment, an NC for the refunded line... A document too many is a duplicate, one too few is
  missing, a wrong amount is both. Stories with an event left ``dead`` are counted apart (a dead
  event is replayable, not lost), and their documents must still never be duplicated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bench.chaos.mix import Story
from kapta_vendus.db.models import Event
from kapta_vendus.pipeline.payloads import sale_id_from_reference

FINISHED = ("done", "rejected", "dead")  # anything else (received, in_flight, waiting...) is in flight


@dataclass
class Ledger:
    accepted: int = 0
    stored: int = 0
    done: int = 0
    rejected: int = 0
    dead: int = 0
    in_flight: int = 0
    unaccounted: int = 0  # accepted by the receiver, not in the inbox: lost
    refused: int = 0  # never accepted by the receiver (the sender gave up or got a 4xx)
    keys: int = 0  # business keys planned (documents expected)
    documents: int = 0
    duplicates: int = 0
    missing: int = 0
    wrong_totals: int = 0
    dead_keys: int = 0
    automatic_receipts: int = 0  # Vendus's own RG of an invoice paid at issue (no external reference)
    problems: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.accepted == self.done + self.rejected + self.dead + self.in_flight and self.unaccounted == 0

    @property
    def valid(self) -> bool:
        return (self.balanced and self.refused == 0 and self.in_flight == 0 and self.duplicates == 0
                and self.missing == 0 and self.wrong_totals == 0)

    def line(self) -> str:
        verdict = "VALID" if self.valid else "VOID"
        return (f"ledger {verdict}: accepted={self.accepted} = done={self.done} + rejected={self.rejected} + "
                f"dead={self.dead} + in_flight={self.in_flight}; unaccounted={self.unaccounted} "
                f"refused={self.refused} | business keys={self.keys} documents={self.documents} "
                f"duplicates={self.duplicates} missing={self.missing} wrong_totals={self.wrong_totals} "
                f"dead_keys={self.dead_keys} (+{self.automatic_receipts} automatic receipts)")


def event_statuses(engine: Engine, integration_ids: Sequence[str]) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.execute(select(Event.external_id, Event.status).where(
            Event.integration_id.in_(integration_ids), Event.source == "push"))
        return {row[0]: row[1] for row in rows}


def in_flight_count(engine: Engine, integration_ids: Sequence[str]) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count(Event.id)).where(
            Event.integration_id.in_(integration_ids), Event.source == "push", Event.status.not_in(FINISHED))) or 0)


def latencies(engine: Engine, integration_id: str, accepted: dict[str, float] | None = None) -> list[float]:
    """Seconds from acceptance to the end of each done event (the document is issued and synced).

    Both ends come from the database's clock: ``received_at`` is written in the same
    transaction as the 202, ``finished_at`` by the step that ends the event.
    """
    with Session(engine) as session:
        rows = session.execute(select(Event.external_id, Event.received_at,
                                      func.coalesce(Event.finished_at, Event.updated_at)).where(
            Event.integration_id == integration_id, Event.source == "push", Event.status == "done"))
        return [(done - received).total_seconds() for external_id, received, done in rows
                if accepted is None or external_id in accepted]


def finished_at(engine: Engine, integration_ids: Sequence[str]) -> datetime | None:
    with Session(engine) as session:
        return session.scalar(select(func.max(Event.updated_at)).where(
            Event.integration_id.in_(integration_ids), Event.source == "push"))


def read_documents(http: requests.Session, base_url: str, api_key: str) -> list[dict[str, Any]]:
    """Every document of the account, page by page, in normal and in test mode."""
    documents: list[dict[str, Any]] = []
    for mode in ("normal", "tests"):
        page = 1
        while True:
            reply = http.get(f"{base_url}/ws/v1.1/documents/", auth=(api_key, ""), timeout=60,
                             params={"per_page": 1000, "page": page, "mode": mode})
            if reply.status_code == 404:  # "No data": past the last page, or none at all
                break
            reply.raise_for_status()
            rows = reply.json()
            documents.extend(rows)
            if page >= int(reply.headers.get("X-Paginator-Pages", page)):
                break
            page += 1
    return documents


def _amount(value: Any) -> str:
    return f"{float(value):.2f}" if value is not None else "?"


def balance(stories: Iterable[Story], accepted: dict[str, float], refused: dict[str, str],
            statuses: dict[str, str], documents: Sequence[dict[str, Any]]) -> Ledger:
    ledger = Ledger(accepted=len(accepted), refused=len(refused), stored=len(statuses))
    for external_id in accepted:
        status = statuses.get(external_id)
        if status is None:
            ledger.unaccounted += 1
            ledger.problems.append(f"accepted but not in the inbox: {external_id}")
        elif status == "done":
            ledger.done += 1
        elif status in ("rejected", "dead"):
            setattr(ledger, status, getattr(ledger, status) + 1)
        else:
            ledger.in_flight += 1
    by_sale: dict[str, Counter] = {}
    for document in documents:
        if document.get("status") == "A":
            continue  # a cancelled document is no longer a live one
        reference = document.get("external_reference") or ""
        if document.get("type") == "RG" and not reference:
            # Vendus's automatic receipt of an invoice paid at issue (which types get one is the
            # simulator's assumption): it follows its invoice, which is what is counted.
            ledger.automatic_receipts += 1
            continue
        key = (str(document.get("type")), _amount(document.get("amount_gross")))
        by_sale.setdefault(sale_id_from_reference(reference), Counter())[key] += 1
    for story in stories:
        found = by_sale.pop(story.sale_id, Counter())
        ledger.keys += sum(story.expected.values())
        ledger.documents += sum(found.values())
        extra, short = found - story.expected, story.expected - found
        if any(statuses.get(e["id"]) == "dead" for e in story.envelopes):
            ledger.dead_keys += sum(short.values())  # replayable: counted apart, but never duplicated
            short = Counter()
        if extra and short:
            ledger.wrong_totals += sum(short.values())
            ledger.problems.append(f"{story.sale_id}: expected {dict(story.expected)}, found {dict(found)}")
        elif extra:
            ledger.duplicates += sum(extra.values())
            ledger.problems.append(f"{story.sale_id}: duplicate {dict(extra)}")
        elif short:
            ledger.missing += sum(short.values())
            ledger.problems.append(f"{story.sale_id}: missing {dict(short)} ({story.kind})")
    for sale_id, found in by_sale.items():  # documents no story asked for
        ledger.documents += sum(found.values())
        ledger.duplicates += sum(found.values())
        ledger.problems.append(f"documents for an unknown sale {sale_id!r}: {dict(found)}")
    return ledger

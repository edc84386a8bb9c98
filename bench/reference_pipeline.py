"""The pipeline benchmark's reference: the irreducible work of an event, in one Celery task.

One task per event, on the pipeline queue, doing only what any implementation must do: claim the
issuance (the idempotency key, stored before the call), POST the document to Vendus, record the
document and mark the event done, in three transactions. The payload is built by the product's own
pure functions (validate, normalise, map, payload: under 1 % of an event's cost), with the
integration and its Vendus client cached per process. No step runs, no mirror of links, no
fairness, no breaker, no notification: what the real pipeline adds on top is what is measured.

The split reference does the same work in three tasks where the product has its three (pipeline →
billing → pipeline), the claimed payload carried in the message: what it loses against the one-task
reference is what three Celery tasks cost by themselves.

Workers register these only when asked: ``kapta-vendus worker -I bench.reference_pipeline``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql

from kapta_vendus.config import get_settings
from kapta_vendus.db.models import Document, Event, Integration, Issuance, utcnow
from kapta_vendus.events.validation import validate_event
from kapta_vendus.integrations.clients import client_for
from kapta_vendus.pipeline.decide import sale_document_type
from kapta_vendus.pipeline.issuance import idempotency_key
from kapta_vendus.pipeline.mapping import IntegrationMapping, map_sale
from kapta_vendus.pipeline.normalise import normalise
from kapta_vendus.pipeline.payloads import build_document_payload
from kapta_vendus.tasks.app import app
from kapta_vendus.tasks.base import KaptaTask

TASK = "kapta.pipeline.bench_reference"
# Routed by name (celeryconfig.task_routes): the pipeline, billing and pipeline queues.
SPLIT = ("kapta.pipeline.bench_reference_claim", "kapta.billing.bench_reference_call",
         "kapta.pipeline.bench_reference_finish")
_integrations: dict[str, tuple] = {}


def _integration(session, integration_id: str):
    if integration_id not in _integrations:
        row = session.get(Integration, integration_id)
        mapping = IntegrationMapping.from_dict({"mode": row.mode, **(row.config.get("mapping") or {})})
        _integrations[integration_id] = (mapping, client_for(get_settings(), row))
    return _integrations[integration_id]


@dataclass(frozen=True)
class Claimed:
    """What the call needs, once the issuance is claimed. Carried in a message by the split
    reference (kombu's JSON keeps the payload's Decimals)."""

    event_id: int
    integration_id: str
    issuance_id: int
    key: str
    payload: dict


def claim(session, event_id: int) -> Claimed:
    """Transaction 1: read the event, build the payload with the product's pure functions, claim."""
    event = session.get(Event, event_id)
    mapping, _client = _integration(session, event.integration_id)
    sale = normalise(validate_event(json.loads(event.raw))).sale
    mapped = map_sale(sale, mapping)
    payload = build_document_payload(mapped, sale_document_type(sale, mapped.fs_limit) or "FT")
    key = idempotency_key(event.integration_id, f"sale:{sale.store_id}:{sale.sale_id}", "issue_document")
    issuance_id = session.execute(postgresql.insert(Issuance).values(
        integration_id=event.integration_id, idempotency_key=key, kind="issue_document",
        business_key=sale.sale_id, event_id=event_id, state="sent", document_type=payload["type"],
        attempts=1, created_at=utcnow(), updated_at=utcnow()).returning(Issuance.id)).scalar()
    return Claimed(event_id, event.integration_id, issuance_id, key, payload)


def call_and_record(task: KaptaTask, claimed: Claimed) -> None:
    """The call, then transaction 2: record the document."""
    mapping, client = _integrations[claimed.integration_id]
    reply = client.create_document({**claimed.payload, "tx_id": claimed.key})
    with task.unit_of_work() as session:
        session.execute(update(Issuance).where(Issuance.id == claimed.issuance_id).values(
            state="issued", vendus_id=int(reply["id"]), document_number=reply.get("number")))
        session.add(Document(integration_id=claimed.integration_id, vendus_id=int(reply["id"]), mode=mapping.mode,
                             type=claimed.payload["type"], number=str(reply.get("number") or ""), raw={},
                             issued_here=True, first_seen_at=utcnow()))


def finish(task: KaptaTask, event_id: int) -> None:
    """Transaction 3: mark the event done."""
    with task.unit_of_work() as session:
        session.execute(update(Event).where(Event.id == event_id).values(status="done", finished_at=utcnow()))


@app.task(bind=True, base=KaptaTask, name=TASK)
def reference(self, event_id: int) -> None:
    with self.unit_of_work() as session:
        claimed = claim(session, event_id)
    call_and_record(self, claimed)
    finish(self, event_id)


# The same work split across three tasks where the product splits it: pipeline → billing → pipeline.
# What it costs beyond the one-task reference is the price of three tasks alone, before anything
# the product adds (step runs, mirror, links, fairness, breaker): the ceiling of any three-task design.
@app.task(bind=True, base=KaptaTask, name=SPLIT[0])
def split_claim(self, event_id: int) -> None:
    with self.unit_of_work() as session:
        claimed = claim(session, event_id)
    app.signature(SPLIT[1], args=(asdict(claimed),)).apply_async()


@app.task(bind=True, base=KaptaTask, name=SPLIT[1])
def split_call(self, claimed: dict) -> None:
    if claimed["integration_id"] not in _integrations:  # this process's cache (the billing worker's)
        with self.unit_of_work() as session:
            _integration(session, claimed["integration_id"])
    call_and_record(self, Claimed(**claimed))
    app.signature(SPLIT[2], args=(claimed["event_id"],)).apply_async()


@app.task(bind=True, base=KaptaTask, name=SPLIT[2])
def split_finish(self, event_id: int) -> None:
    finish(self, event_id)


def done_count(session, ids: list[int]) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(Event).where(
        Event.id.between(ids[0], ids[-1]), Event.status == "done"))

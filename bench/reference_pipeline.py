"""The pipeline benchmark's reference: the irreducible work of an event, in one Celery task.

One task per event, on the pipeline queue, doing only what any implementation must do: claim the
issuance (the idempotency key, stored before the call), POST the document to Vendus, record the
document and mark the event done, in three transactions. The payload is built by the product's own
pure functions (validate, normalise, map, payload: under 1 % of an event's cost), with the
integration and its Vendus client cached per process. No step runs, no mirror of links, no
fairness, no breaker, no notification: what the real pipeline adds on top is what is measured.

A worker registers it only when asked: ``kapta-vendus worker -I bench.reference_pipeline``.
"""

from __future__ import annotations

import json

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
_integrations: dict[str, tuple] = {}


def _integration(session, integration_id: str):
    if integration_id not in _integrations:
        row = session.get(Integration, integration_id)
        mapping = IntegrationMapping.from_dict({"mode": row.mode, **(row.config.get("mapping") or {})})
        _integrations[integration_id] = (mapping, client_for(get_settings(), row))
    return _integrations[integration_id]


@app.task(bind=True, base=KaptaTask, name=TASK)
def reference(self, event_id: int) -> str:
    with self.unit_of_work() as session:  # 1: read the event, claim the issuance
        event = session.get(Event, event_id)
        mapping, client = _integration(session, event.integration_id)
        sale = normalise(validate_event(json.loads(event.raw))).sale
        mapped = map_sale(sale, mapping)
        payload = build_document_payload(mapped, sale_document_type(sale, mapped.fs_limit) or "FT")
        key = idempotency_key(event.integration_id, f"sale:{sale.store_id}:{sale.sale_id}", "issue_document")
        issuance_id = session.execute(postgresql.insert(Issuance).values(
            integration_id=event.integration_id, idempotency_key=key, kind="issue_document",
            business_key=sale.sale_id, event_id=event_id, state="sent", document_type=payload["type"],
            attempts=1, created_at=utcnow(), updated_at=utcnow()).returning(Issuance.id)).scalar()
        integration_id = event.integration_id
    reply = client.create_document({**payload, "tx_id": key})  # the call
    with self.unit_of_work() as session:  # 2: record the document
        session.execute(update(Issuance).where(Issuance.id == issuance_id).values(
            state="issued", vendus_id=int(reply["id"]), document_number=reply.get("number")))
        session.add(Document(integration_id=integration_id, vendus_id=int(reply["id"]), mode=mapping.mode,
                             type=payload["type"], number=str(reply.get("number") or ""), raw={},
                             issued_here=True, first_seen_at=utcnow()))
    with self.unit_of_work() as session:  # 3: mark the event done
        session.execute(update(Event).where(Event.id == event_id).values(status="done", finished_at=utcnow()))
    return str(reply.get("number"))


def done_count(session, ids: list[int]) -> int:
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(Event).where(
        Event.id.between(ids[0], ids[-1]), Event.status == "done"))

"""The outbox: deliveries are recorded in the transaction that gives the event its final state.

So a delivery exists if and only if the event's outcome was committed, and nothing is sent before
that: the send task is enqueued after the commit (and a beat sweeper sends anything whose enqueue
was lost). The body is frozen here, so every retry signs and sends the same bytes under the same
``webhook-id``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, Integration, utcnow
from kapta_vendus.db.session import enqueue_after_commit
from kapta_vendus.db.sync_models import Delivery, Destination
from kapta_vendus.destinations.active import ActiveDestination, active_destinations
from kapta_vendus.destinations.messages import OutboundMessage, messages_for


def new_webhook_id() -> str:
    return "out_" + uuid.uuid4().hex


def wants(destination: Destination | ActiveDestination, message: OutboundMessage) -> bool:
    if message.type not in (destination.event_types or []):
        return False
    stores = destination.store_ids or []
    return not stores or message.store_id in stores


def record_outcome(session: Session, event: Event) -> list[int]:
    """Record the deliveries (and customer emails) of an event that has just ended; ids recorded.

    Called from the pipeline inside the event's final transaction. Free when the integration has
    no destination: the answer is cached with the integration (``destinations.active``).
    """
    from kapta_vendus.email.outbox import record_emails

    record_emails(session, event)
    destinations = active_destinations(session, event.integration_id)
    if not destinations:
        return []
    messages = messages_for(session, event)
    if not messages:
        return []
    integration_name = session.scalar(select(Integration.name).where(Integration.id == event.integration_id))
    return enqueue_messages(session, event.integration_id, integration_name, destinations, messages,
                            source_event_id=event.id)


def enqueue_messages(session: Session, integration_id: str, integration_name: str,
                     destinations: Iterable[Destination | ActiveDestination], messages: list[OutboundMessage], *,
                     source_event_id: int | None = None) -> list[int]:
    created: list[Delivery] = []
    wanted = [(d, m) for d in destinations for m in messages if wants(d, m)]
    if not wanted:
        return []
    # One query for every destination: which of these facts each was already told of.
    rows = session.execute(select(Delivery.destination_id, Delivery.dedup_key).where(
        Delivery.destination_id.in_({d.id for d, _ in wanted}),
        Delivery.dedup_key.in_({m.dedup_key for _, m in wanted})))
    known = {(destination_id, dedup_key) for destination_id, dedup_key in rows}
    for destination, message in wanted:
        if (destination.id, message.dedup_key) in known:
            continue  # the same fact was already reported to this destination
        webhook_id = new_webhook_id()
        body = json.dumps({"id": webhook_id, "type": message.type, "occurred_at": utcnow().isoformat(),
                           "integration": integration_name, "store_id": message.store_id,
                           "data": message.data}, separators=(",", ":"), default=str)
        delivery = Delivery(integration_id=integration_id, destination_id=destination.id,
                            webhook_id=webhook_id, event_type=message.type, dedup_key=message.dedup_key,
                            source_event_id=source_event_id, body=body, next_attempt_at=utcnow(),
                            queued_at=utcnow())
        session.add(delivery)
        created.append(delivery)
    return enqueue_after_commit(session, created, _enqueue_delivery)


def _enqueue_delivery(row_id: int) -> None:
    from kapta_vendus.tasks.dispatch import enqueue_delivery  # lazily, as before: avoids an import cycle

    enqueue_delivery(row_id)

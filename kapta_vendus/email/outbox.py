"""Customer emails are recorded with the event's final state: one row per document and recipient.

The unique key (integration, document, recipient) makes sending exactly-once-recorded: a replayed
event, or a second event about the same sale, finds the row and adds nothing.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Event, Integration, Issuance
from kapta_vendus.db.session import enqueue_after_commit
from kapta_vendus.db.sync_models import CustomerEmail
from kapta_vendus.email.settings import email_settings

EMAILED_TYPES = ("FT", "FR", "FS", "NC", "RG")


def customer_email(event: Event) -> str | None:
    try:
        data = (json.loads(event.raw) or {}).get("data") or {}
    except (TypeError, ValueError, AttributeError):
        return None
    customer = data.get("customer") if isinstance(data, dict) else None
    email = customer.get("email") if isinstance(customer, dict) else None
    return email.strip() if isinstance(email, str) and "@" in email else None


def record_emails(session: Session, event: Event) -> list[int]:
    if event.status != "done":
        return []
    recipient = customer_email(event)
    if recipient is None:
        return []
    config = session.scalar(select(Integration.config).where(Integration.id == event.integration_id))
    settings = email_settings(config)
    if settings.by != "service":
        return []
    docs = session.execute(select(Document.vendus_id, Document.number, Document.mode).join(
        Issuance, (Issuance.vendus_id == Document.vendus_id) & (Issuance.integration_id == Document.integration_id))
        .where(Issuance.event_id == event.id, Issuance.state == "issued", Document.type.in_(EMAILED_TYPES))).all()
    created = []
    for vendus_id, number, mode in docs:
        exists = session.scalar(select(CustomerEmail.id).where(
            CustomerEmail.integration_id == event.integration_id, CustomerEmail.document_vendus_id == vendus_id,
            CustomerEmail.recipient == recipient))
        if exists is None:
            row = CustomerEmail(integration_id=event.integration_id, document_vendus_id=vendus_id,
                                document_number=number, mode=mode, recipient=recipient, language=settings.language)
            session.add(row)
            created.append(row)
    return enqueue_after_commit(session, created, _enqueue_email)


def _enqueue_email(row_id: int) -> None:
    from kapta_vendus.tasks.dispatch import enqueue_email  # lazily, as before: avoids an import cycle

    enqueue_email(row_id)

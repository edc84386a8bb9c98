"""Alerts of the sync capability: a customer email given up on, a delivery gone dead.

Each is recorded once (an ``Alert`` row per integration, kind and key) and then sent, best effort,
through the integration's alert channels (``notifications.channels`` whose ``events`` list "*",
"alerts" or the kind: ``email_failed`` or ``delivery_dead``).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from kapta_vendus.db.models import Alert, Integration, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.pipeline.notify import send_alert
from kapta_vendus.reconcile.dbutil import dialect_insert

log = logging.getLogger(__name__)
TITLES = {
    "email_failed": {"pt": "Documento não enviado ao cliente", "en": "Document not emailed to the customer"},
    "delivery_dead": {"pt": "Entrega a um destino desistida", "en": "Delivery to a destination given up"},
}


def raise_alert(db: Database, integration_id: str, kind: str, key: str, body: str, details: dict[str, Any]) -> bool:
    """Record the alert once and send it; returns whether it was new."""
    with db.unit_of_work() as session:
        new_id = session.execute(dialect_insert(session, Alert).values(
            integration_id=integration_id, kind=kind, key=key[:255], details=details, created_at=utcnow())
            .on_conflict_do_nothing().returning(Alert.id)).scalar()
        config = session.scalar(select(Integration.config).where(Integration.id == integration_id)) or {}
    if new_id is None:
        return False
    lang = str((config.get("notifications") or {}).get("language") or "pt")
    try:
        send_alert(config, kind, TITLES[kind].get(lang, TITLES[kind]["en"]), body)
    except Exception:  # a failing alert channel must not fail the outbound worker
        log.exception("%s alert could not be sent", kind)
    return True

"""An alert when a document was issued with a fiscal warning the integration chose to accept.

``buyer_identification: warn`` issues a consumer invoice of 1,000 EUR or more without the buyer's
name and address instead of refusing it (pt-invoicing-rules §3, CIVA 36). Someone must know: an
``Alert`` row (once per sale) and a message on the integration's alert channels, best effort.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from kapta_vendus.db.models import Alert, utcnow
from kapta_vendus.db.session import Database
from kapta_vendus.pipeline.notify import send_alert
from kapta_vendus.reconcile.dbutil import dialect_insert

log = logging.getLogger(__name__)
KIND = "fiscal_warning"
TITLES = {"pt": "Documento emitido com aviso fiscal", "en": "Document issued with a fiscal warning"}


def alert_fiscal_warning(db: Database, integration_id: str, config: dict[str, Any], *, key: str,
                         number: str, warnings: Sequence[str]) -> bool:
    """Record the alert (once per ``key``) and send it; returns whether it was new."""
    with db.unit_of_work() as session:
        new_id = session.execute(dialect_insert(session, Alert).values(
            integration_id=integration_id, kind=KIND, key=key[:255],
            details={"number": number, "warnings": list(warnings)}, created_at=utcnow())
            .on_conflict_do_nothing().returning(Alert.id)).scalar()
    if new_id is None:
        return False
    lang = str((config.get("notifications") or {}).get("language") or "pt")
    try:
        send_alert(config, KIND, TITLES.get(lang, TITLES["en"]), f"{number}: " + "; ".join(warnings))
    except Exception:  # an alert channel failing must never fail the billing step that already issued
        log.exception("fiscal warning alert for %s could not be sent", number)
    return True

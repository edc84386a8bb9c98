"""An integration's life: describe (without secrets), disable, enable, delete, and the guarded purge.

Deleting keeps the fiscal history. Portuguese law requires invoices and the records behind them
to be kept for 10 years (CIVA art. 52; DL 28/2019 art. 19), and an erasure request does not
override that (GDPR art. 17(3)(b)). Vendus keeps the documents themselves, but this service's
events, step runs, links and mirror are the audit trail of how each document came to be issued.
So ``delete`` only stops the integration (status ``deleted``, secrets expired, its tokens revoked)
and every row stays; ``purge_history`` erases them and must be acknowledged explicitly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kapta_vendus.config import Settings, get_settings
from kapta_vendus.db.models import (
    Alert,
    ApiToken,
    Document,
    Event,
    Integration,
    Issuance,
    Link,
    ReconciliationRun,
    StepRun,
    SyncCursor,
    utcnow,
)
from kapta_vendus.db.sync_models import SYNC_HISTORY
from kapta_vendus.integrations.channels import unseal
from kapta_vendus.integrations.config import limits_of
from kapta_vendus.integrations.diff import masked
from kapta_vendus.integrations.service import _aware

RETENTION_YEARS = 10
HISTORY = (StepRun, Issuance, Event, Link, Document, SyncCursor, ReconciliationRun, Alert, *SYNC_HISTORY)


class LifecycleError(ValueError):
    """The requested change does not apply to the integration in its current state."""


def secret_states(integration: Integration, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or utcnow()
    out = []
    for secret in integration.secrets:
        expires = _aware(secret.expires_at) if secret.expires_at else None
        state = "active" if expires is None else ("expiring" if expires > now else "expired")
        out.append({"id": secret.id, "created_at": secret.created_at, "expires_at": expires, "state": state})
    return out


def describe(session: Session, integration: Integration, settings: Settings | None = None) -> dict[str, Any]:
    """Everything an operator may see. Keys and secrets appear only as their state; a notification
    URL (stored encrypted) as its scheme and a fingerprint that changes when it does."""
    counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model).where(
        model.integration_id == integration.id)) for model in (Event, Document)}
    limits = limits_of(integration.config)
    return {
        "id": integration.id, "name": integration.name, "status": integration.status, "mode": integration.mode,
        "vendus_base_url": integration.vendus_base_url, "api_key": "set (encrypted at rest)",
        "stores": integration.store_ids,
        "config": masked(unseal(settings or get_settings(), integration.config)),
        "limits": {"vendus_requests_per_second": limits.vendus_requests_per_second,
                   "vendus_burst": limits.vendus_burst, "max_events_in_flight": limits.max_events_in_flight},
        "webhook_secrets": secret_states(integration), "counts": counts,
        "created_at": integration.created_at, "updated_at": integration.updated_at,
        "deleted_at": integration.deleted_at,
    }


def set_enabled(integration: Integration, enabled: bool) -> bool:
    """Returns whether anything changed. A deleted integration cannot come back."""
    if integration.status == "deleted":
        raise LifecycleError(f"integration {integration.name!r} is deleted and cannot be "
                             f"{'enabled' if enabled else 'disabled'}")
    wanted = "active" if enabled else "disabled"
    if integration.status == wanted:
        return False
    integration.status = wanted
    return True


def delete_integration(session: Session, integration: Integration, *, now: datetime | None = None) -> bool:
    """Stop the integration for good and keep its history. Returns whether anything changed."""
    if integration.status == "deleted":
        return False
    now = now or utcnow()
    integration.status, integration.deleted_at = "deleted", now
    for secret in integration.secrets:
        if secret.expires_at is None or _aware(secret.expires_at) > now:
            secret.expires_at = now  # nothing can post into a deleted integration
    session.execute(update(ApiToken).where(ApiToken.integration_id == integration.id,
                                           ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    return True


def purge_history(session: Session, integration: Integration, *, acknowledge_retention: bool) -> dict[str, int]:
    """Erase the integration and everything recorded for it. Irreversible; see the module docstring."""
    if not acknowledge_retention:
        raise LifecycleError(f"purging erases fiscal history that must be kept for {RETENTION_YEARS} years; "
                             "it needs an explicit acknowledgement")
    if integration.status != "deleted":
        delete_integration(session, integration)
    counts = {}
    for model in HISTORY:
        counts[model.__tablename__] = session.execute(
            delete(model).where(model.integration_id == integration.id)).rowcount or 0
    session.execute(delete(ApiToken).where(ApiToken.integration_id == integration.id))
    session.delete(integration)
    session.flush()
    return counts

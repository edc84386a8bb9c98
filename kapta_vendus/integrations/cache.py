"""What a worker process knows about each integration, cached and invalidated on change.

Every stage of every event needs its integration's mode, configuration and Vendus client. Reading
the row (and decrypting its API key) again for each of them was a good share of an event's round
trips, so a worker keeps a detached view per integration and re-reads it only when the row's
``updated_at`` moved: every change (``integrations apply``, key rotation, disable) bumps it. The
check is one indexed primary-key read inside a transaction the stage opens anyway.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Integration
from kapta_vendus.integrations.config import Limits, limits_of


@dataclass(frozen=True)
class IntegrationView:
    id: str
    status: str
    mode: str
    vendus_base_url: str
    api_key_enc: str  # still encrypted: decrypted only when a client is built
    config: dict[str, Any]
    limits: Limits
    updated_at: datetime


_views: dict[str, IntegrationView] = {}
_lock = threading.Lock()


def _view(row: Integration) -> IntegrationView:
    return IntegrationView(row.id, row.status, row.mode, row.vendus_base_url, row.vendus_api_key_enc,
                           dict(row.config or {}), limits_of(row.config), row.updated_at)


_STAMPS = "kapta_integration_stamps"  # session.info: updated_at values already read in this transaction


def note_stamp(session: Session, integration_id: str, stamp: datetime) -> None:
    """The integration's ``updated_at``, read by the caller in this transaction along with another row
    (the stage's event): the view check then needs no query of its own."""
    session.info.setdefault(_STAMPS, {})[integration_id] = stamp


def noted_stamp(session: Session, integration_id: str) -> datetime | None:
    """The integration's ``updated_at`` as read in this transaction by ``note_stamp``, if it was."""
    return session.info.get(_STAMPS, {}).get(integration_id)


def integration_view(session: Session, integration_id: str) -> IntegrationView | None:
    stamp = noted_stamp(session, integration_id)
    if stamp is None:
        stamp = session.scalar(select(Integration.updated_at).where(Integration.id == integration_id))
    if stamp is None:
        return None
    cached = _views.get(integration_id)
    if cached is not None and cached.updated_at == stamp:
        return cached
    row = session.get(Integration, integration_id, populate_existing=True)
    view = _view(row)
    with _lock:
        _views[integration_id] = view
    return view


def integration_config(session: Session, integration_id: str) -> dict[str, Any]:
    view = integration_view(session, integration_id)
    return view.config if view is not None else {}


def forget() -> None:
    """Drop every cached view (tests that rewrite integrations behind the ORM's back)."""
    with _lock:
        _views.clear()

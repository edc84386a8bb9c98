"""What reconciliation needs to know about one integration, read once per run."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Integration, IntegrationStore
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.clients import client_for
from kapta_vendus.integrations.service import find_integration
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.pipeline.model import region_timezone
from kapta_vendus.vendus import VendusClient

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    mode: str
    store_ids: tuple[int, ...]
    config: Mapping[str, Any]
    mapping: IntegrationMapping | None = field(default=None, compare=False)

    @property
    def api_mode(self) -> str | None:
        """The ``mode`` query parameter: test documents are only visible when asked for."""
        return "tests" if self.mode == "tests" else None

    @property
    def sale_sources(self) -> frozenset[str]:
        return self.mapping.sale_document_sources if self.mapping else frozenset()

    def timezone(self, store_id: int) -> tzinfo:
        return self.mapping.timezone_for(store_id) if self.mapping else region_timezone()

    def local_date(self, store_id: int, moment: datetime) -> date:
        return moment.astimezone(self.timezone(store_id)).date()

    def method_names(self) -> dict[int, str]:
        """Vendus payment-method id → the POS name the mapping gives it (first name wins)."""
        names: dict[int, str] = {}
        for name, method_id in (self.mapping.payment_methods.items() if self.mapping else ()):
            names.setdefault(method_id, name)
        return names

    def selects(self, event_type: str, store_id: int | None) -> bool:
        """Whether the integration's event selection takes this event (an unselected sale is not ours)."""
        selection = self.config.get("events") or {}
        types, stores = selection.get("types"), selection.get("stores")
        return not ((types and event_type not in types) or (stores and store_id not in stores))


def tenant_from(integration: Integration) -> Tenant:
    config = dict(integration.config or {})
    try:
        mapping = IntegrationMapping.from_dict({"mode": integration.mode, **(config.get("mapping") or {})})
    except Rejection as exc:
        # A broken mapping must not blind the poller: documents are still mirrored and linked.
        log.warning("integration %s: mapping unusable for reconciliation: %s", integration.id, exc)
        mapping = None
    return Tenant(integration.id, integration.name, integration.mode, tuple(integration.store_ids), config,
                  mapping)


def load_tenant(session: Session, ref: str) -> Tenant:
    """By id or name; raises ``IntegrationNotFound``."""
    return tenant_from(find_integration(session, ref))


def vendus_client(session: Session, settings: Settings, integration_id: str) -> VendusClient:
    return client_for(settings, session.get(Integration, integration_id))


def active_stores(session: Session) -> list[tuple[str, int]]:
    """(integration id, store id) of every active integration: what beat polls."""
    rows = session.execute(
        select(IntegrationStore.integration_id, IntegrationStore.store_id)
        .join(Integration, Integration.id == IntegrationStore.integration_id)
        .where(Integration.status == "active")
        .order_by(IntegrationStore.integration_id, IntegrationStore.store_id))
    return [(integration_id, int(store_id)) for integration_id, store_id in rows]


def active_integrations(session: Session) -> list[str]:
    return list(session.scalars(select(Integration.id).where(Integration.status == "active")
                                .order_by(Integration.id)))

"""What a step knows about its event, loaded once per step run and cached on the context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event
from kapta_vendus.events.validation import ValidatedEvent, validate_event
from kapta_vendus.integrations.cache import IntegrationView, integration_view
from kapta_vendus.integrations.clients import client_for_view
from kapta_vendus.pipeline.mapping import IntegrationMapping, MappedSale, map_sale
from kapta_vendus.pipeline.model import NormalisedEvent
from kapta_vendus.pipeline.normalise import normalise
from kapta_vendus.pipeline.rules import CompiledRule, compile_rules
from kapta_vendus.pipeline.runner import StepContext
from kapta_vendus.vendus import VendusClient


@dataclass(frozen=True)
class EventFacts:
    """A detached snapshot of the event row and its integration's configuration."""

    event_id: int
    integration_id: str
    type: str
    source: str
    store_id: int | None
    raw: str
    integration_mode: str
    config: dict[str, Any]
    received_at: datetime | None = None


def snapshot(event: Event, integration: IntegrationView) -> EventFacts:
    return EventFacts(event.id, event.integration_id, event.type, event.source, event.store_id, event.raw,
                      integration.mode, integration.config, event.received_at)


def prime(ctx: StepContext, session: Session, event: Event) -> None:
    """Fill the context from the rows the stage loaded in its own transaction (no extra round trip)."""
    view = integration_view(session, event.integration_id)
    ctx.cache["integration"] = view
    ctx.cache["facts"] = snapshot(event, view)


# What a worker derives from an integration's configuration (its mapping, its compiled rules), kept
# with the version of the integration it came from: each stage of each event needs it, and only a
# change of the integration (which moves updated_at, see integrations.cache) changes it.
_derived: dict[tuple[str, str], tuple[datetime, Any]] = {}


def _per_integration_version(ctx: StepContext, kind: str, build: Callable[[], Any]) -> Any:
    view = ctx.cache.get("integration")
    if view is None:
        return build()
    key = (kind, view.id)
    found = _derived.get(key)
    if found is None or found[0] != view.updated_at:
        found = (view.updated_at, build())  # a configuration error raises here, and is not kept
        _derived[key] = found
    return found[1]


def facts(ctx: StepContext) -> EventFacts:
    # The runner primes the cache from its own transaction; this reads them when it did not.
    if "facts" not in ctx.cache:
        with ctx.db.unit_of_work() as session:
            prime(ctx, session, session.get(Event, ctx.event_id))
    return ctx.cache["facts"]


def validated(ctx: StepContext) -> ValidatedEvent:
    if "validated" not in ctx.cache:
        ctx.cache["validated"] = validate_event(json.loads(facts(ctx).raw))
    return ctx.cache["validated"]


def normalised(ctx: StepContext) -> NormalisedEvent:
    if "normalised" not in ctx.cache:
        ctx.cache["normalised"] = normalise(validated(ctx))
    return ctx.cache["normalised"]


def mapping(ctx: StepContext) -> IntegrationMapping:
    if "mapping" not in ctx.cache:
        f = facts(ctx)
        # The integration's own mode is the default; a mapping may not silently contradict it.
        raw = {"mode": f.integration_mode, **(f.config.get("mapping") or {})}
        ctx.cache["mapping"] = _per_integration_version(ctx, "mapping", lambda: IntegrationMapping.from_dict(raw))
    return ctx.cache["mapping"]


def mapped_sale(ctx: StepContext) -> MappedSale:
    if "mapped" not in ctx.cache:
        ctx.cache["mapped"] = map_sale(normalised(ctx).sale, mapping(ctx))
    return ctx.cache["mapped"]


def rules(ctx: StepContext) -> tuple[CompiledRule, ...]:
    if "rules" not in ctx.cache:
        raw = facts(ctx).config.get("rules") or []
        ctx.cache["rules"] = _per_integration_version(ctx, "rules", lambda: compile_rules(raw))
    return ctx.cache["rules"]


def vendus(ctx: StepContext) -> VendusClient:
    """The integration's client, cached per worker thread and integration version (integrations.cache)."""
    if "client" not in ctx.cache:
        facts(ctx)
        ctx.cache["client"] = client_for_view(ctx.settings, ctx.cache["integration"])
    return ctx.cache["client"]

"""What a step knows about its event, loaded once per step run and cached on the context."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kapta_vendus.db.models import Event, Integration
from kapta_vendus.events.validation import ValidatedEvent, validate_event
from kapta_vendus.integrations.clients import client_for
from kapta_vendus.integrations.service import get_integration
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


def snapshot(event: Event, integration: Integration) -> EventFacts:
    return EventFacts(event.id, event.integration_id, event.type, event.source, event.store_id, event.raw,
                      integration.mode, dict(integration.config or {}))


def facts(ctx: StepContext) -> EventFacts:
    # run_step primes the cache from its own transaction; this reads them when it did not.
    if "facts" not in ctx.cache:
        with ctx.db.unit_of_work() as session:
            event = session.get(Event, ctx.event_id)
            ctx.cache["facts"] = snapshot(event, session.get(Integration, event.integration_id))
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
        ctx.cache["mapping"] = IntegrationMapping.from_dict(raw)
    return ctx.cache["mapping"]


def mapped_sale(ctx: StepContext) -> MappedSale:
    if "mapped" not in ctx.cache:
        ctx.cache["mapped"] = map_sale(normalised(ctx).sale, mapping(ctx))
    return ctx.cache["mapped"]


def rules(ctx: StepContext) -> tuple[CompiledRule, ...]:
    if "rules" not in ctx.cache:
        ctx.cache["rules"] = compile_rules(facts(ctx).config.get("rules") or [])
    return ctx.cache["rules"]


def vendus(ctx: StepContext) -> VendusClient:
    if "client" not in ctx.cache:
        with ctx.db.unit_of_work() as session:
            integration = get_integration(session, ctx.integration_id)
            ctx.cache["client"] = client_for(ctx.settings, integration)
    return ctx.cache["client"]

"""Destinations declared in an integration's YAML (its ``destinations:`` block), applied idempotently.

    destinations:
      - name: pos
        url: https://pos.example.pt/hooks/vendus
        events: [document.issued, sale.rejected]
        stores: [24994]              # optional: only these stores' events
        rate_limit_per_minute: 120   # optional

A new destination's secret is generated and shown once (like the integration's own). A YAML
destination no longer declared is disabled, not deleted: its delivery log stays. Destinations added
through the admin API are left alone. No ``destinations:`` block: nothing is touched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kapta_vendus.config import Settings
from kapta_vendus.destinations.registry import (
    DestinationError,
    DestinationSpec,
    list_destinations,
    set_destination_enabled,
    upsert_destination,
)
from kapta_vendus.integrations.diff import Change


def parse_declared(raw: Any) -> tuple[tuple[DestinationSpec, ...], list[str]]:
    if not isinstance(raw, list):
        return (), ["destinations: must be a list"]
    specs, problems, names = [], [], set()
    for index, item in enumerate(raw):
        try:
            spec = DestinationSpec.from_dict(item)
        except DestinationError as exc:
            problems.append(f"destinations[{index}]: {exc}")
            continue
        if spec.name in names:
            problems.append(f"destinations[{index}].name: {spec.name} declared twice")
        names.add(spec.name)
        specs.append(spec)
    return tuple(specs), problems


def apply_declared(session: Session, settings: Settings, integration_id: str | None,
                   specs: tuple[DestinationSpec, ...], *, dry_run: bool) -> tuple[list[Change], dict[str, str]]:
    """(changes, new secrets by destination name)."""
    current = {d.name: d for d in list_destinations(session, integration_id)} if integration_id else {}
    changes: list[Change] = []
    secrets: dict[str, str] = {}
    for spec in specs:
        row = current.get(spec.name)
        wanted = {"url": spec.url, "events": list(spec.event_types), "stores": list(spec.store_ids),
                  "rate_limit_per_minute": spec.rate_limit_per_minute}
        if row is None:
            changes.append(Change(f"destinations.{spec.name}", "added", new={**wanted, "secret": "<generated>"}))
        else:
            have = {"url": row.url, "events": list(row.event_types), "stores": list(row.store_ids),
                    "rate_limit_per_minute": row.rate_limit_per_minute}
            if have == wanted and row.status == "active":
                continue
            changes.append(Change(f"destinations.{spec.name}", "changed", have, wanted))
        if not dry_run and integration_id:
            destination, secret = upsert_destination(session, settings, integration_id, spec, declared_in="yaml")
            if row is not None and row.status != "active" and row.disabled_reason == "no longer declared":
                set_destination_enabled(destination, True)
            if secret:
                secrets[spec.name] = secret
    declared = {s.name for s in specs}
    for name, row in current.items():
        if row.declared_in == "yaml" and name not in declared and row.status == "active":
            changes.append(Change(f"destinations.{name}", "removed", old=row.url))
            if not dry_run:
                set_destination_enabled(row, False, "no longer declared")
    return changes, secrets

"""Destinations of an integration: declare, change, rotate their secret, disable, describe.

A destination's ``whsec_`` secret is generated here, stored encrypted and shown once. Rotation adds
a new secret and lets the old ones keep signing for an overlap, so a receiver can switch over
without rejecting anything (deliveries carry one signature per active secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from kapta_vendus.config import Settings
from kapta_vendus.db.models import utcnow
from kapta_vendus.db.sync_models import Delivery, Destination, DestinationSecret
from kapta_vendus.destinations.messages import OUTBOUND_TYPES
from kapta_vendus.integrations.crypto import encrypt
from kapta_vendus.integrations.service import _aware, live_secrets, new_webhook_secret, rotate_secret_rows


class DestinationError(ValueError):
    """A destination declaration or change that cannot be accepted; the message says why."""


class DestinationNotFound(LookupError):
    pass


@dataclass(frozen=True)
class DestinationSpec:
    name: str
    url: str
    event_types: tuple[str, ...]
    store_ids: tuple[int, ...] = ()
    rate_limit_per_minute: int | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DestinationSpec:
        if not isinstance(raw, dict):
            raise DestinationError("a destination must be a mapping with name, url and events")
        name, url = str(raw.get("name") or "").strip(), str(raw.get("url") or "").strip()
        if not name or len(name) > 100:
            raise DestinationError("destination name is required (at most 100 characters)")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise DestinationError(f"destination {name}: url must be an http(s):// URL")
        events = raw.get("events", raw.get("event_types")) or []
        if not isinstance(events, list) or not events:
            raise DestinationError(f"destination {name}: events must list at least one outbound event type")
        unknown = sorted(set(map(str, events)) - set(OUTBOUND_TYPES))
        if unknown:
            raise DestinationError(f"destination {name}: unknown event type(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(OUTBOUND_TYPES)}")
        stores = raw.get("stores", raw.get("store_ids")) or []
        if not isinstance(stores, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in stores):
            raise DestinationError(f"destination {name}: stores must be a list of store ids")
        limit = raw.get("rate_limit_per_minute", raw.get("rate_limit"))
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
            raise DestinationError(f"destination {name}: rate_limit_per_minute must be a positive integer")
        return cls(name, url, tuple(dict.fromkeys(map(str, events))), tuple(stores), limit)


def list_destinations(session: Session, integration_id: str) -> list[Destination]:
    return list(session.scalars(select(Destination).where(Destination.integration_id == integration_id)
                                .options(selectinload(Destination.secrets)).order_by(Destination.id)))


def get_destination(session: Session, integration_id: str, ref: str | int) -> Destination:
    query = select(Destination).where(Destination.integration_id == integration_id)
    text = str(ref)
    query = query.where(Destination.id == int(text)) if text.isdigit() else query.where(Destination.name == text)
    found = session.scalar(query.options(selectinload(Destination.secrets)))
    if found is None:
        raise DestinationNotFound(text)
    return found


def upsert_destination(session: Session, settings: Settings, integration_id: str, spec: DestinationSpec,
                       *, declared_in: str = "api") -> tuple[Destination, str | None]:
    """Create or change a destination; returns it and its new secret when it was created (else None)."""
    existing = session.scalar(select(Destination).where(Destination.integration_id == integration_id,
                                                        Destination.name == spec.name))
    secret = None
    if existing is None:
        secret = new_webhook_secret()
        existing = Destination(integration_id=integration_id, name=spec.name, declared_in=declared_in,
                               secrets=[DestinationSecret(secret_enc=encrypt(settings, secret))])
        session.add(existing)
    existing.url, existing.event_types = spec.url, list(spec.event_types)
    existing.store_ids, existing.rate_limit_per_minute = list(spec.store_ids), spec.rate_limit_per_minute
    session.flush()
    return existing, secret


def rotate_destination_secret(session: Session, settings: Settings, destination: Destination,
                              overlap: timedelta) -> str:
    return rotate_secret_rows(session, settings, destination.secrets, DestinationSecret, overlap)


def signing_secrets(settings: Settings, destination: Destination, now: datetime | None = None) -> list[str]:
    return live_secrets(settings, destination.secrets, now=now)


def set_destination_enabled(destination: Destination, enabled: bool, reason: str | None = None) -> None:
    destination.status = "active" if enabled else "disabled"
    destination.disabled_reason = None if enabled else (reason or "disabled by an operator")
    if enabled:
        destination.consecutive_failures, destination.circuit_open_until = 0, None


def describe_destination(session: Session, destination: Destination) -> dict[str, Any]:
    """What an operator may see: never the secret, only how many are active."""
    counts = dict(session.execute(select(Delivery.status, func.count()).where(
        Delivery.destination_id == destination.id).group_by(Delivery.status)).all())
    now = utcnow()
    return {
        "id": destination.id, "name": destination.name, "url": destination.url,
        "events": list(destination.event_types), "stores": list(destination.store_ids),
        "rate_limit_per_minute": destination.rate_limit_per_minute, "status": destination.status,
        "disabled_reason": destination.disabled_reason, "declared_in": destination.declared_in,
        "active_secrets": sum(1 for s in destination.secrets
                              if s.expires_at is None or _aware(s.expires_at) > now),
        "circuit_open_until": destination.circuit_open_until,
        "deliveries": {status: int(n) for status, n in counts.items()},
    }

"""Integrations as tenants: creation, secrets, and the Vendus client each one uses."""

from __future__ import annotations

import base64
import functools
import secrets as pysecrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Integration, IntegrationStore, WebhookSecret
from kapta_vendus.integrations.channels import seal
from kapta_vendus.integrations.crypto import decrypt, encrypt

MODES = ("normal", "tests")


class IntegrationNotFound(LookupError):
    pass


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(pysecrets.token_bytes(24)).decode()


def create_integration(session: Session, settings: Settings, *, name: str, vendus_url: str, api_key: str,
                       stores: list[int], mode: str = "normal",
                       config: dict[str, Any] | None = None) -> tuple[Integration, str]:
    """Create an integration; returns it and its first webhook secret (shown once, stored encrypted)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    if not stores:
        raise ValueError("an integration needs at least one store")
    if session.scalar(select(Integration.id).where(Integration.name == name)):
        raise ValueError(f"an integration named {name!r} already exists")
    secret = new_webhook_secret()
    integration = Integration(
        name=name,
        vendus_base_url=vendus_url.rstrip("/"),
        vendus_api_key_enc=encrypt(settings, api_key),
        mode=mode,
        config=seal(settings, config),
        stores=[IntegrationStore(store_id=int(s)) for s in dict.fromkeys(stores)],
        secrets=[WebhookSecret(secret_enc=encrypt(settings, secret))],
    )
    session.add(integration)
    session.flush()
    return integration, secret


def plausible_id(value: str) -> bool:
    """Could ``value`` be an integration id? Ids come from URLs: PostgreSQL refuses a NUL byte in any
    text, and an id is at most 36 characters, so anything else is simply not found (never an error)."""
    return isinstance(value, str) and 0 < len(value) <= 36 and "\x00" not in value


def get_integration(session: Session, integration_id: str, *, active_only: bool = False) -> Integration:
    if not plausible_id(integration_id):
        raise IntegrationNotFound(integration_id)
    integration = session.scalar(integration_query(), {"integration_id": integration_id})
    if integration is None or (active_only and integration.status != "active"):
        raise IntegrationNotFound(integration_id)
    return integration


@functools.cache
def integration_query():
    """An integration with its stores and secrets. Built once per process (or once before a fork,
    ``db.warm``): the first build computes the mappers' loader paths, a fraction of a second of CPU."""
    return (select(Integration).where(Integration.id == bindparam("integration_id"))
            .options(selectinload(Integration.stores), selectinload(Integration.secrets)))


def find_integration(session: Session, ref: str) -> Integration:
    """By id or by name: what an operator types on the command line."""
    if "\x00" in ref:
        raise IntegrationNotFound(ref)
    integration = (session.get(Integration, ref) if plausible_id(ref) else None) or session.scalar(
        select(Integration).where(Integration.name == ref))
    if integration is None:
        raise IntegrationNotFound(ref)
    return integration


def active_secrets(settings: Settings, integration: Integration, *, now: datetime | None = None) -> list[str]:
    return live_secrets(settings, integration.secrets, now=now)


def live_secrets(settings: Settings, rows, *, now: datetime | None = None) -> list[str]:
    """The plain values of secret rows (an integration's or a destination's) that have not expired."""
    now = now or datetime.now(UTC)
    return [decrypt(settings, s.secret_enc) for s in rows if s.expires_at is None or _aware(s.expires_at) > now]


def rotate_secret(session: Session, settings: Settings, integration: Integration,
                  overlap: timedelta) -> str:
    """Add a new secret; the current ones stay valid for ``overlap``, then expire."""
    return rotate_secret_rows(session, settings, integration.secrets, WebhookSecret, overlap)


def rotate_secret_rows(session: Session, settings: Settings, rows: list, row_type: type,
                       overlap: timedelta) -> str:
    """Append a new ``row_type`` secret to ``rows``; the live ones expire after ``overlap``.

    Shared by the inbound secrets of integrations and the signing secrets of destinations.
    """
    now = datetime.now(UTC)
    for old in rows:
        if old.expires_at is None or _aware(old.expires_at) > now + overlap:
            old.expires_at = now + overlap
    secret = new_webhook_secret()
    rows.append(row_type(secret_enc=encrypt(settings, secret)))
    session.flush()
    return secret


def api_key(settings: Settings, integration: Integration) -> str:
    return decrypt(settings, integration.vendus_api_key_enc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

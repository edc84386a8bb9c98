"""Re-encrypt every stored API key and webhook secret under the primary key (``keys rotate``).

The procedure: put the new key first in KAPTA_SECRET_KEYS, keeping the old one after it, and
restart every process; then rotate; then drop the old key and restart again. Between the steps
every process can read every value, so no request fails. Each integration is rotated in its own
short transaction (rows locked), so the service keeps running; running it twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Integration
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.channels import rotated
from kapta_vendus.integrations.crypto import SecretUnreadable, reencrypt


@dataclass
class RotationReport:
    api_keys: int = 0
    webhook_secrets: int = 0
    unreadable: list[str] = field(default_factory=list)  # integration names, never values


def rotate_all(db: Database, settings: Settings) -> RotationReport:
    report = RotationReport()
    with db.unit_of_work() as session:
        ids = list(session.scalars(select(Integration.id).order_by(Integration.name)))
    for integration_id in ids:
        with db.unit_of_work() as session:
            integration = session.scalar(select(Integration).where(Integration.id == integration_id)
                                         .options(selectinload(Integration.secrets)).with_for_update())
            if integration is None:
                continue
            try:
                # Everything of one integration or nothing: a half-rotated row set is harder to reason about.
                key = reencrypt(settings, integration.vendus_api_key_enc)
                secrets = [(s, reencrypt(settings, s.secret_enc)) for s in integration.secrets]
                config = rotated(settings, integration.config)
            except SecretUnreadable:
                report.unreadable.append(integration.name)
                continue
            integration.vendus_api_key_enc = key
            if config != (integration.config or {}):
                integration.config = config
            for secret, token in secrets:
                secret.secret_enc = token
            report.api_keys += 1
            report.webhook_secrets += len(secrets)
    return report

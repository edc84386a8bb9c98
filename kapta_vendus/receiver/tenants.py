"""What the receiver needs of an integration (secrets, stores, cap), cached for a few seconds.

Reading the integration with its stores and secrets, and decrypting the secrets, was most of an
accepted push's database work. The receiver keeps it in memory for ``KAPTA_RECEIVER_CACHE_TTL``
seconds (5 by default, 0 turns the cache off): a webhook secret rotation, an expiry, a store change
or a disable therefore applies to the receiver within that delay, per server process. A rotation
is unaffected in practice (the old secret keeps verifying during its overlap); a disabled
integration may still get its events accepted for those few seconds, which are kept in the inbox
and processed or refused by the pipeline as for any event of a disabled integration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from kapta_vendus.config import Settings
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.config import limits_of
from kapta_vendus.integrations.crypto import decrypt
from kapta_vendus.integrations.service import get_integration


@dataclass(frozen=True)
class ReceiverTenant:
    id: str
    secrets: tuple[tuple[str, datetime | None], ...]  # (secret, expires_at)
    stores: frozenset[int]
    cap: int

    def active_secrets(self, now: datetime | None = None) -> list[str]:
        now = now or datetime.now(UTC)
        return [s for s, expires in self.secrets if expires is None or _aware(expires) > now]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TenantCache:
    def __init__(self, db: Database, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self._entries: dict[str, tuple[float, ReceiverTenant]] = {}
        self._lock = threading.Lock()

    def get(self, integration_id: str) -> ReceiverTenant:
        """The integration's receiving facts; raises IntegrationNotFound, SecretUnreadable, SQLAlchemyError."""
        now = self.clock()
        entry = self._entries.get(integration_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        with self.db.unit_of_work() as session:
            integration = get_integration(session, integration_id, active_only=True)
            tenant = ReceiverTenant(
                integration.id,
                tuple((decrypt(self.settings, s.secret_enc), s.expires_at) for s in integration.secrets),
                frozenset(integration.store_ids), limits_of(integration.config).max_events_in_flight)
        if self.settings.receiver_cache_ttl > 0:
            with self._lock:
                if len(self._entries) > 10_000:  # bounded: ids come from URLs
                    self._entries.clear()
                self._entries[integration_id] = (now + self.settings.receiver_cache_ttl, tenant)
        return tenant

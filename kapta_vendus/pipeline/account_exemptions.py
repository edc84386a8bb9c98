"""The exemption reasons a Vendus account accepts, with their law texts (``GET taxes/exemptions/``).

Vendus refuses codes it does not list (M44 to M46 pass the AT table but not Vendus's list), and the
law printed on a document must be the legal article, which the account gives for each code
(pt-invoicing-rules §2). The list changes only when the AT table does, so it is cached per
integration, by default for an hour (``KAPTA_EXEMPTION_CACHE_SECONDS``): one call per worker and
hour, not one per exempt sale.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

CACHE_SECONDS = 3600.0

# Reverse charge (autoliquidação): the buyer pays the VAT, so it must be a Portuguese taxable
# person with a valid NIF (pt-invoicing-rules §2).
REVERSE_CHARGE_CODES = frozenset({"M30", "M31", "M32", "M33", "M34", "M40", "M41", "M42", "M43"})


@dataclass(frozen=True)
class AccountExemption:
    code: str
    text: str
    law: str


def parse_exemptions(rows: list[dict[str, Any]]) -> Mapping[str, AccountExemption]:
    found = {}
    for row in rows:
        code = str(row.get("id") or "").strip().upper()
        if code:
            found[code] = AccountExemption(code, str(row.get("text") or ""), str(row.get("law") or ""))
    return MappingProxyType(found)


class ExemptionCache:
    """Per-integration cache with an expiry; ``clock`` is injectable for tests."""

    def __init__(self, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl, self._clock = ttl, clock
        self._entries: dict[str, tuple[float, Mapping[str, AccountExemption]]] = {}  # (fetched at, list)
        self._lock = threading.Lock()

    def get(self, integration_id: str, fetch: Callable[[], list[dict[str, Any]]],
            ttl: float | None = None) -> Mapping[str, AccountExemption]:
        """The account's list, fetched again once it is ``ttl`` seconds old (default: the cache's own)."""
        now = self._clock()
        ttl = self._ttl if ttl is None else ttl
        with self._lock:
            entry = self._entries.get(integration_id)
            if entry is not None and now - entry[0] < ttl:
                return entry[1]
        exemptions = parse_exemptions(fetch())  # outside the lock: a slow account blocks no other
        with self._lock:
            self._entries[integration_id] = (now, exemptions)  # when it was fetched
        return exemptions

    def forget(self, integration_id: str | None = None) -> None:
        with self._lock:
            if integration_id is None:
                self._entries.clear()
            else:
                self._entries.pop(integration_id, None)


CACHE = ExemptionCache()

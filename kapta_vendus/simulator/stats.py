"""Request counters for ``GET /_sim/stats``: per account, by method and path template, plus totals.

Tests use them to assert "exactly one POST reached the API" and similar, so the counters record what
the emulated API saw (injected faults included), never the control endpoints.
"""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._total = 0
        self._by_route: Counter[str] = Counter()
        self._by_status: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._accounts: dict[str, dict] = {}

    def record(self, account: str | None, method: str, template: str, status: int | str) -> None:
        route = f"{method} {template}"
        with self._lock:
            self._total += 1
            self._by_route[route] += 1
            self._by_status[str(status)] += 1
            entry = self._accounts.setdefault(account or "anonymous", {"total": 0, "by_route": Counter()})
            entry["total"] += 1
            entry["by_route"][route] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "total": self._total,
                "by_route": dict(self._by_route),
                "by_status": dict(self._by_status),
                "faults": dict(self._faults),
                "accounts": {
                    name: {"total": entry["total"], "by_route": dict(entry["by_route"])}
                    for name, entry in self._accounts.items()
                },
            }

    def count(self, method: str | None = None, template: str | None = None, account: str | None = None) -> int:
        """Convenience for in-process tests: requests matching the given method/template/account."""
        with self._lock:
            routes = self._accounts.get(account, {}).get("by_route", {}) if account else self._by_route
            return sum(
                n
                for route, n in routes.items()
                if (method is None or route.split(" ", 1)[0] == method)
                and (template is None or route.split(" ", 1)[1] == template)
            )

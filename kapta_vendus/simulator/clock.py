"""An injectable clock so "today" (and the date rules that depend on it) can be controlled by tests.

The clock follows real time from an offset, or stands still when frozen. All times are aware UTC
datetimes; the account's time zone is applied by the caller.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, now: datetime | None = None, *, frozen: bool = False):
        self._lock = threading.Lock()
        self._real_base = time.time()
        self._sim_base = self._real_base
        self._frozen = False
        if now is not None:
            self.set(now, frozen=frozen)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), tz=UTC)

    def timestamp(self) -> float:
        with self._lock:
            if self._frozen:
                return self._sim_base
            return self._sim_base + (time.time() - self._real_base)

    def set(self, when: datetime, *, frozen: bool = False) -> None:
        """Jump to ``when`` (naive datetimes are taken as UTC); keep ticking unless ``frozen``."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        with self._lock:
            self._real_base = time.time()
            self._sim_base = when.timestamp()
            self._frozen = frozen

    def advance(self, seconds: float | timedelta) -> None:
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        with self._lock:
            self._sim_base += seconds

    def freeze(self) -> None:
        now = self.timestamp()
        with self._lock:
            self._sim_base, self._frozen = now, True

    def reset(self) -> None:
        """Back to the machine's real time."""
        with self._lock:
            self._real_base = self._sim_base = time.time()
            self._frozen = False

    def describe(self) -> dict:
        return {"now": self.now().isoformat(), "frozen": self._frozen}

"""Per-key rate limiting with the Vendus headers (``Rate-Limit-Limit/-Remaining/-Used/-Reset``).

Real quotas are not published (the docs' example is 100 credits per 20 s), so limiting is OFF unless
configured. Fixed windows per API key; each request costs ``cost`` credits; over budget -> 429.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class RateLimitConfig:
    credits: int
    window_seconds: float
    cost: int = 1

    @classmethod
    def parse(cls, text: str) -> RateLimitConfig:
        """``"100/20"`` -> 100 credits per 20 seconds."""
        credits, sep, seconds = text.partition("/")
        if not sep:
            raise ValueError("expected CREDITS/SECONDS, e.g. 100/20")
        return cls(int(credits), float(seconds))

    @classmethod
    def from_dict(cls, data: dict | None) -> RateLimitConfig | None:
        if not data or data.get("enabled") is False:
            return None
        return cls(int(data["credits"]), float(data["window_seconds"]), int(data.get("cost", 1)))


class RateLimiter:
    def __init__(self, config: RateLimitConfig | None = None, time_source: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._time = time_source
        self.config = config
        self._windows: dict[str, list[float]] = {}  # key -> [window start, credits used]

    def configure(self, config: RateLimitConfig | None) -> None:
        with self._lock:
            self.config = config
            self._windows.clear()

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def consume(self, key: str) -> tuple[bool, dict[str, str]]:
        """Charge one request to ``key``. Returns (allowed, headers); no headers when limiting is off."""
        with self._lock:
            config = self.config
            if config is None:
                return True, {}
            now = self._time()
            window = self._windows.get(key)
            if window is None or now >= window[0] + config.window_seconds:
                window = self._windows[key] = [now, 0]
            allowed = window[1] + config.cost <= config.credits
            if allowed:
                window[1] += config.cost
            used = int(window[1])
            reset = max(0, math.ceil(window[0] + config.window_seconds - now))
        return allowed, {
            "Rate-Limit-Limit": str(config.credits),
            "Rate-Limit-Remaining": str(max(0, config.credits - used)),
            "Rate-Limit-Used": str(used),
            "Rate-Limit-Reset": str(reset),
        }

    def describe(self) -> dict | None:
        c = self.config
        return None if c is None else {"credits": c.credits, "window_seconds": c.window_seconds, "cost": c.cost}

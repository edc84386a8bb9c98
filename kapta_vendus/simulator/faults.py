"""Seedable fault injection for the emulated API (never for the ``/_sim`` control endpoints).

Configuration (JSON, also accepted by ``--faults`` and ``POST /_sim/faults``)::

    {"seed": 42,
     "rules": [
       {"methods": ["POST"], "paths": ["documents"], "commit_then_drop_rate": 0.2},
       {"latency_ms": [5, 50]},
       {"errors": {"503": 0.05, "500": 0.01}},
       {"drop_rate": 0.01},
       {"paths": ["documents"], "slow_page_ms": 200},
       {"methods": ["POST"], "errors": {"502": 1.0}, "max_hits": 2}
     ]}

A config without ``rules`` is read as one rule (``{"latency_ms": 100}``). Scopes: ``methods``, and
``paths`` (prefixes of the resource path without version, e.g. ``documents`` also covers
``documents/123``) or ``templates`` (exact, e.g. ``documents/{id}``). ``max_hits`` retires a rule after
it fired that many times. Random draws come from one ``random.Random(seed)`` in a fixed order, so
the same config and the same request sequence give the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

ERROR_STATUSES = (429, 500, 502, 503, 504)
RULE_KEYS = frozenset(
    {
        "name",
        "methods",
        "paths",
        "templates",
        "latency_ms",
        "errors",
        "drop_rate",
        "commit_then_drop_rate",
        "drop_delay_ms",
        "slow_page_ms",
        "max_hits",
    }
)


def _range(value) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        low, high = float(value[0]), float(value[1])
        return (min(low, high), max(low, high))
    return (float(value), float(value))


@dataclass
class FaultRule:
    name: str = ""
    methods: list[str] | None = None
    paths: list[str] | None = None
    templates: list[str] | None = None
    latency_ms: tuple[float, float] | None = None
    errors: dict[int, float] = field(default_factory=dict)
    drop_rate: float = 0.0
    commit_then_drop_rate: float = 0.0
    drop_delay_ms: float = 0.0
    slow_page_ms: tuple[float, float] | None = None
    max_hits: int | None = None
    hits: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> FaultRule:
        unknown = set(data) - RULE_KEYS
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        errors = {int(status): float(rate) for status, rate in (data.get("errors") or {}).items()}
        if any(status not in ERROR_STATUSES for status in errors):
            raise ValueError(f"error statuses must be among {ERROR_STATUSES}")
        return cls(
            name=str(data.get("name", "")),
            methods=[m.upper() for m in data["methods"]] if data.get("methods") else None,
            paths=[p.strip("/") for p in data["paths"]] if data.get("paths") else None,
            templates=[t.strip("/") for t in data["templates"]] if data.get("templates") else None,
            latency_ms=_range(data.get("latency_ms")),
            errors=errors,
            drop_rate=float(data.get("drop_rate", 0)),
            commit_then_drop_rate=float(data.get("commit_then_drop_rate", 0)),
            drop_delay_ms=float(data.get("drop_delay_ms", 0)),
            slow_page_ms=_range(data.get("slow_page_ms")),
            max_hits=int(data["max_hits"]) if data.get("max_hits") is not None else None,
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "methods": self.methods,
            "paths": self.paths,
            "templates": self.templates,
            "latency_ms": list(self.latency_ms) if self.latency_ms else None,
            "errors": {str(k): v for k, v in self.errors.items()},
            "drop_rate": self.drop_rate,
            "commit_then_drop_rate": self.commit_then_drop_rate,
            "drop_delay_ms": self.drop_delay_ms,
            "slow_page_ms": list(self.slow_page_ms) if self.slow_page_ms else None,
            "max_hits": self.max_hits,
            "hits": self.hits,
        }

    def matches(self, method: str, path: str, template: str) -> bool:
        if self.max_hits is not None and self.hits >= self.max_hits:
            return False
        if self.methods and method not in self.methods:
            return False
        if self.templates and template not in self.templates:
            return False
        return not self.paths or any(path == p or path.startswith(p + "/") or not p for p in self.paths)


@dataclass
class FaultDecision:
    latency_s: float = 0.0
    error_status: int | None = None
    drop_before: bool = False
    drop_after: bool = False
    drop_delay_s: float = 0.0
    slow_page_s: float = 0.0

    @property
    def outcome(self) -> str | None:
        if self.drop_before:
            return "drop"
        if self.error_status:
            return f"error_{self.error_status}"
        return "commit_then_drop" if self.drop_after else None


class FaultInjector:
    def __init__(self, config: dict | None = None, seed: int | None = None):
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self.rules: list[FaultRule] = []
        if config:
            self.configure(config)

    def configure(self, config: dict | None) -> None:
        """Replace the rules (and reseed when the config carries a ``seed``)."""
        config = dict(config or {})
        seed = config.pop("seed", None)
        raw_rules = config.pop("rules", None)
        if raw_rules is None:
            raw_rules = [config] if config else []
        elif config:
            raise ValueError(f"unknown fault config keys: {sorted(config)}")
        rules = [FaultRule.from_dict(rule) for rule in raw_rules]
        with self._lock:
            self.rules = rules
            if seed is not None:
                self._seed = int(seed)
                self._rng = random.Random(self._seed)

    def add_rule(self, **rule) -> FaultRule:
        """In-process API, e.g. drop the next POST to documents:

        ``state.faults.add_rule(methods=["POST"], paths=["documents"], drop_rate=1, max_hits=1)``
        """
        parsed = FaultRule.from_dict(rule)
        with self._lock:
            self.rules.append(parsed)
        return parsed

    def clear(self) -> None:
        with self._lock:
            self.rules = []
            self._rng = random.Random(self._seed)

    def to_dict(self) -> dict:
        with self._lock:
            return {"seed": self._seed, "rules": [rule.to_dict() for rule in self.rules]}

    def decide(self, method: str, path: str, template: str, is_list: bool) -> FaultDecision:
        decision = FaultDecision()
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path, template):
                    continue
                fired = False
                if rule.latency_ms:
                    decision.latency_s += self._rng.uniform(*rule.latency_ms) / 1000
                    fired = True
                if rule.slow_page_ms and is_list:
                    decision.slow_page_s += self._rng.uniform(*rule.slow_page_ms) / 1000
                    fired = True
                outcome_taken = decision.outcome is not None
                if rule.drop_rate and self._rng.random() < rule.drop_rate and not outcome_taken:
                    decision.drop_before, fired, outcome_taken = True, True, True
                for status in sorted(rule.errors):
                    if self._rng.random() < rule.errors[status] and not outcome_taken:
                        decision.error_status, fired, outcome_taken = status, True, True
                if rule.commit_then_drop_rate and self._rng.random() < rule.commit_then_drop_rate and not outcome_taken:
                    decision.drop_after, fired = True, True
                if fired and (decision.drop_before or decision.drop_after):
                    decision.drop_delay_s = max(decision.drop_delay_s, rule.drop_delay_ms / 1000)
                if fired:
                    rule.hits += 1
        return decision

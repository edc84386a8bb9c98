"""The typed decision ``prepare`` hands to ``bill``: the planned actions, with Decimal money.

It is stored as the output of the ``rules`` step run (the audit trail and the hand-over are one
row), serialised explicitly: money becomes a plain decimal string on the way out, and on the way
back every action goes through ``decide.make_action`` again, which validates its parameters and
turns amounts back into ``Decimal``. A stored decision that no longer validates (a release that
changed an action's parameters) is therefore refused loudly instead of being executed half-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kapta_vendus.pipeline.decide import Action, ActionKind, make_action

FORMAT = 1  # bumped if the stored shape ever changes


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    matched: tuple[str, ...] = ()
    used_defaults: bool = False

    @property
    def billing(self) -> tuple[Action, ...]:
        """The actions ``bill`` executes (everything but notifications), in order."""
        return tuple(a for a in self.actions if a.kind != ActionKind.NOTIFY)

    @property
    def notices(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(a.params for a in self.actions if a.kind == ActionKind.NOTIFY)

    @property
    def label(self) -> str:
        rules = ", ".join(self.matched) if self.matched else "defaults"
        return f"{rules}: {', '.join(str(a.kind) for a in self.actions) or 'no action'}"

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "matched": list(self.matched), "used_defaults": self.used_defaults,
                "actions": [{"kind": str(a.kind), "params": _plain(dict(a.params))} for a in self.actions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        if data.get("format", FORMAT) != FORMAT:
            raise ValueError(f"decision format {data.get('format')!r} is not {FORMAT}")
        actions = tuple(make_action(item["kind"], item.get("params") or {}) for item in data.get("actions", ()))
        return cls(actions, tuple(data.get("matched") or ()), bool(data.get("used_defaults")))

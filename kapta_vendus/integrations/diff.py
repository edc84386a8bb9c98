"""Readable differences between an integration as stored and as declared, with nothing secret in them.

Nested configuration is flattened to paths (``mapping.payment_methods.card``, ``rules[0].when``)
so that a change reads as one line. Values that may carry credentials (notification URLs such as
``slack://token/…`` or ``mailto://user:password@…``) are shown only as their scheme and a short
fingerprint: enough to see that they changed, never what they are.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

_SECRET_PATH = re.compile(r"(^|\.)notifications\.channels\[\d+\]\.url$|(^|\.)url$")
_ENCRYPTED_PATH = re.compile(r"(^|\.)url_encrypted$")


@dataclass(frozen=True)
class Change:
    path: str
    kind: str  # added|removed|changed
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.path}: {_show(self.new)}"
        if self.kind == "removed":
            return f"- {self.path}: {_show(self.old)}"
        return f"~ {self.path}: {_show(self.old)} → {_show(self.new)}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value if value.startswith("<") and value.endswith(">") else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def mask_url(url: Any) -> str:
    """``slack://…#3f2a9c`` — the scheme, and a fingerprint that changes when the URL does."""
    text = str(url or "")
    scheme = text.split("://", 1)[0] if "://" in text else "url"
    return f"<{scheme}://…#{hashlib.sha256(text.encode()).hexdigest()[:6]}>"


def masked(config: Any, path: str = "") -> Any:
    """A copy of a configuration with every credential-bearing URL masked."""
    if isinstance(config, dict):
        return {k: masked(v, f"{path}.{k}" if path else str(k)) for k, v in config.items()}
    if isinstance(config, list):
        return [masked(v, f"{path}[{i}]") for i, v in enumerate(config)]
    if _ENCRYPTED_PATH.search(path):
        return "<encrypted>"
    return mask_url(config) if _SECRET_PATH.search(path) else config


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in value:
            out.update(flatten(value[key], f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{path}[{index}]"))
        return out
    return {path: value}


def diff(old: Any, new: Any, prefix: str = "") -> list[Change]:
    """Changes from ``old`` to ``new``, leaf by leaf, in the order of ``new`` then removals."""
    before, after = flatten(masked(old, prefix), prefix), flatten(masked(new, prefix), prefix)
    for side in (before, after):  # an absent or empty section is "nothing", not a value of its own
        if side.get(prefix, 0) in (None, {}, []):
            del side[prefix]
    changes = []
    for path, value in after.items():
        if path not in before:
            changes.append(Change(path, "added", new=value))
        elif before[path] != value:
            changes.append(Change(path, "changed", before[path], value))
    changes.extend(Change(path, "removed", old=value) for path, value in before.items() if path not in after)
    return changes

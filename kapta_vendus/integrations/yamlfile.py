"""Reading configuration YAML without YAML 1.1's surprises.

PyYAML follows YAML 1.1, where ``on``, ``off``, ``yes``, ``no`` (and ``y``/``n``) are booleans. In an
integration file that turns ``notifications.channels[].on: [rejected, dead]`` into the key ``True``,
so the outcome filter silently disappears and every sale is notified. This loader resolves only
``true`` and ``false`` as booleans (YAML 1.2's core schema) and keeps every other word a string.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kapta_vendus.events.errors import Rejection


class StrictBoolLoader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (any case), as in YAML 1.2."""


StrictBoolLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictBoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=StrictBoolLoader)  # noqa: S506 - a SafeLoader subclass


def read_yaml(path: str | Path) -> Any:
    """The document in ``path``; a Rejection naming the file when it cannot be read or parsed."""
    try:
        return parse_yaml(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise Rejection([f"{path}: not valid YAML: {exc}"]) from None
    except OSError as exc:
        raise Rejection([f"{path}: cannot be read ({exc.strerror})"]) from None

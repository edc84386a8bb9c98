"""An integration's configuration: mapping, rules, notifications and event selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kapta_vendus.events.catalogue import EVENT_TYPES
from kapta_vendus.events.errors import Rejection
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.pipeline.rules import compile_rules

SECTIONS = ("mapping", "rules", "notifications", "events")


def load_config_file(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as exc:
        raise Rejection([f"{path}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise Rejection([f"{path}: must be a mapping of {', '.join(SECTIONS)}"])
    return data


def validate_config(config: dict[str, Any]) -> None:
    """Raise Rejection with every problem, each naming its field."""
    problems = [f"{key}: unknown section (expected {', '.join(SECTIONS)})" for key in config if key not in SECTIONS]
    if "mapping" in config:
        try:
            IntegrationMapping.from_dict(config["mapping"])
        except Rejection as exc:
            problems.extend(f"mapping.{r}" for r in exc.reasons)
    try:
        compile_rules(config.get("rules") or [])
    except Rejection as exc:
        problems.extend(f"rules: {r}" for r in exc.reasons)
    selection = config.get("events") or {}
    for event_type in selection.get("types") or []:
        if event_type not in EVENT_TYPES:
            problems.append(f"events.types: unknown event type {event_type!r}")
    for i, channel in enumerate((config.get("notifications") or {}).get("channels") or []):
        if not isinstance(channel, dict) or not channel.get("url"):
            problems.append(f"notifications.channels[{i}].url: required")
    if problems:
        raise Rejection(problems)

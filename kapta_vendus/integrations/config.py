"""An integration's configuration: mapping, rules, notifications, event selection and limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kapta_vendus.events.catalogue import EVENT_TYPES
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.yamlfile import read_yaml
from kapta_vendus.pipeline.mapping import IntegrationMapping
from kapta_vendus.pipeline.rules import compile_rules

SECTIONS = ("mapping", "rules", "notifications", "events", "limits", "email")
SELECTION_KEYS = ("types", "stores", "registers")
NOTIFICATION_KEYS = ("language", "channels")
# ``url`` in a file; ``url_encrypted`` as stored (integrations/channels.py encrypts it at rest).
CHANNEL_KEYS = ("url", "url_encrypted", "events", "on")
OUTCOMES = ("done", "rejected", "dead")
ALERT_KINDS = ("alerts", "drift", "deadline")  # reconciliation alerts a channel may subscribe to


@dataclass(frozen=True)
class Limits:
    """An integration's share of the shared resources (guarantee 6: tenants are isolated).

    Vendus publishes no quota, so the request budget is a conservative default that operators
    raise per account. ``max_events_in_flight`` is the fair-scheduling cap: how many of this
    integration's events may be in the worker queues at once; the rest wait their turn.
    """

    vendus_requests_per_second: float = 5.0
    vendus_burst: int = 10
    max_events_in_flight: int = 8


LIMIT_BOUNDS = {"vendus_requests_per_second": (0.1, 1000.0), "vendus_burst": (1, 10000),
                "max_events_in_flight": (1, 1000)}


def limits_of(config: dict[str, Any] | None) -> Limits:
    raw = (config or {}).get("limits") or {}
    defaults = Limits()
    return Limits(
        vendus_requests_per_second=float(raw.get("vendus_requests_per_second", defaults.vendus_requests_per_second)),
        vendus_burst=int(raw.get("vendus_burst", defaults.vendus_burst)),
        max_events_in_flight=int(raw.get("max_events_in_flight", defaults.max_events_in_flight)),
    )


def skip_reason(config: dict[str, Any], envelope: dict[str, Any]) -> str | None:
    """Why the integration's event selection skips this event, or None when it is selected.

    The register filter applies to events that name a register; the others (payments, refunds)
    follow their sale, which the filter already decided on.
    """
    if not isinstance(envelope, dict):
        return None  # not an envelope: the validate step rejects it with the reason
    selection = config.get("events") or {}
    data = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
    if selection.get("types") and envelope.get("type") not in selection["types"]:
        return f"type {envelope.get('type')} is not selected"
    if selection.get("stores") and envelope.get("store_id") not in selection["stores"]:
        return f"store {envelope.get('store_id')} is not selected"
    register = data.get("register_id")
    if selection.get("registers") and register is not None and register not in selection["registers"]:
        return f"register {register} is not selected"
    return None


def load_config_file(path: str | Path) -> dict[str, Any]:
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise Rejection([f"{path}: must be a mapping of {', '.join(SECTIONS)}"])
    return data


def validate_config(config: dict[str, Any], *, mode: str | None = None) -> None:
    """Raise Rejection with every problem, each naming its field.

    ``mode`` is the integration's document mode: the pipeline fills a mapping's missing ``mode``
    from it, so validation does the same, and refuses a mapping that contradicts it.
    """
    problems = [f"{key}: unknown section (expected {', '.join(SECTIONS)})" for key in config if key not in SECTIONS]
    if "mapping" in config:
        mapping = config["mapping"]
        if mode is not None and isinstance(mapping, dict):
            if mapping.get("mode", mode) != mode:
                problems.append(f"mapping.mode: {mapping['mode']!r} contradicts the integration's mode {mode!r}")
            mapping = {"mode": mode, **mapping}
        try:
            IntegrationMapping.from_dict(mapping)
        except Rejection as exc:
            problems.extend(f"mapping.{r}" for r in exc.reasons)
    try:
        compile_rules(config.get("rules") or [])
    except Rejection as exc:
        problems.extend(f"rules: {r}" for r in exc.reasons)
    problems.extend(_selection_problems(config.get("events")))
    problems.extend(_notification_problems(config.get("notifications")))
    problems.extend(_limit_problems(config.get("limits")))
    from kapta_vendus.email.settings import email_problems

    problems.extend(email_problems(config.get("email")))
    if problems:
        raise Rejection(problems)


def _selection_problems(selection: Any) -> list[str]:
    if selection is None:
        return []
    if not isinstance(selection, dict):
        return ["events: must be a mapping with types, stores and registers"]
    problems = [f"events.{key}: unknown key (expected {', '.join(SELECTION_KEYS)})"
                for key in selection if key not in SELECTION_KEYS]
    for event_type in selection.get("types") or []:
        if event_type not in EVENT_TYPES:
            problems.append(f"events.types: unknown event type {event_type!r}")
    for key in ("stores", "registers"):
        for value in selection.get(key) or []:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"events.{key}: {value!r} is not a positive integer id")
    return problems


def _limit_problems(limits: Any) -> list[str]:
    if limits is None:
        return []
    if not isinstance(limits, dict):
        return ["limits: must be a mapping"]
    problems = []
    for key, value in limits.items():
        if key not in LIMIT_BOUNDS:
            problems.append(f"limits.{key}: unknown limit (expected {', '.join(LIMIT_BOUNDS)})")
            continue
        low, high = LIMIT_BOUNDS[key]
        whole = isinstance(low, int)
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            problems.append(f"limits.{key}: must be a{' whole' if whole else ''} number (got {value!r})")
        elif not low <= value <= high:
            problems.append(f"limits.{key}: must be between {low} and {high} (got {value})")
    return problems


def _notification_problems(notifications: Any) -> list[str]:
    """Unknown keys are refused: ``notifications: {urls: [...]}`` was once accepted and sent nothing."""
    if notifications is None:
        return []
    if not isinstance(notifications, dict):
        return ["notifications: must be a mapping with language and channels"]
    problems = [f"notifications.{key}: unknown key (expected {', '.join(NOTIFICATION_KEYS)})"
                for key in notifications if key not in NOTIFICATION_KEYS]
    if notifications.get("language", "pt") not in ("pt", "en"):
        problems.append(f"notifications.language: must be pt or en (got {notifications['language']!r})")
    channels = notifications.get("channels", [])
    if not isinstance(channels, list):
        return [*problems, "notifications.channels: must be a list of {url, events, on}"]
    for i, channel in enumerate(channels):
        field = f"notifications.channels[{i}]"
        if not isinstance(channel, dict):
            problems.append(f"{field}: must be a mapping with url, events and on")
            continue
        problems.extend(f"{field}.{key}: unknown key (expected url, url_env or url_encrypted, events, on)"
                        for key in channel if key not in CHANNEL_KEYS)
        if not channel.get("url") and not channel.get("url_encrypted"):
            problems.append(f"{field}.url: required")
        problems.extend(_list_problems(channel, "on", f"{field}.on", set(OUTCOMES)))
        problems.extend(_list_problems(channel, "events", f"{field}.events",
                                       set(EVENT_TYPES) | {"*", *ALERT_KINDS}))
    return problems


def _list_problems(channel: dict[str, Any], key: str, field: str, allowed: set[str]) -> list[str]:
    if key not in channel:
        return []
    values = channel[key]
    if not isinstance(values, list) or not values:
        return [f"{field}: must be a non-empty list"]
    return [f"{field}: unknown value {value!r} (expected {', '.join(sorted(allowed))})"
            for value in values if value not in allowed]

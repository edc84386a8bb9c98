"""``validate_event``: a raw envelope in, a :class:`ValidatedEvent` or readable reasons out.

Reasons are qualified by a JSON-style path with 0-based list indexes, e.g.
``data.lines[1].exemption: required when tax is ISE``, so the sender can find the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import ValidationError

from kapta_vendus.events.catalogue import EventType, is_known_type
from kapta_vendus.events.errors import EventInvalid
from kapta_vendus.events.schemas import DATA_SCHEMAS, EnvelopeSchema

# marshmallow's stock messages, reworded to read well after a field path.
_REWORDED = {
    "Missing data for required field.": "is required",
    "Field may not be null.": "must not be null",
    "Not a valid string.": "must be a string",
    "Not a valid list.": "must be a list",
    "Invalid input type.": "must be a JSON object",
    "Not a valid mapping type.": "must be a JSON object",
    "Unknown field.": "unknown field",
}


# One instance of each schema, reused: building a marshmallow schema (and its nested ones) costs
# several times more than loading with it, and the pipeline validates every event in five steps.
# They hold no per-load state, so sharing them between threads is safe.
_ENVELOPE = EnvelopeSchema()
_DATA = {event_type: schema() for event_type, schema in DATA_SCHEMAS.items()}


@dataclass(frozen=True)
class ValidatedEvent:
    id: str
    type: EventType
    occurred_at: datetime
    store_id: int
    data: Mapping[str, Any]  # the loaded payload: Decimal money, aware datetimes, defaults applied
    raw: Mapping[str, Any]  # the envelope exactly as received (unknown fields included)


def validate_event(envelope: Any) -> ValidatedEvent:
    """Validate an envelope and its payload against the wire contract; raise EventInvalid."""
    if not isinstance(envelope, Mapping):
        raise EventInvalid(["envelope: must be a JSON object"])
    errors: list[str] = []
    try:
        head = _ENVELOPE.load(envelope)
    except ValidationError as exc:
        errors.extend(flatten_errors(exc.messages))
        head = None

    data: Mapping[str, Any] | None = None
    event_type, raw_data = envelope.get("type"), envelope.get("data")
    # The payload is checked even when the envelope has other problems: one round trip, all reasons.
    if is_known_type(event_type) and isinstance(raw_data, Mapping):
        try:
            data = _DATA[EventType(event_type)].load(raw_data)
        except ValidationError as exc:
            errors.extend(flatten_errors(exc.messages, "data"))
    if errors or head is None or data is None:
        raise EventInvalid(errors or ["envelope: invalid"])
    return ValidatedEvent(
        id=head["id"],
        type=EventType(head["type"]),
        occurred_at=head["occurred_at"],
        store_id=head["store_id"],
        data=data,
        raw=envelope,
    )


def flatten_errors(messages: Any, path: str = "") -> list[str]:
    """Turn marshmallow's nested error dict into ``"path: reason"`` lines, in a stable order."""
    if isinstance(messages, Mapping):
        out: list[str] = []
        for key in sorted(messages, key=_key_order):
            out.extend(flatten_errors(messages[key], _join(path, key)))
        return out
    if isinstance(messages, list | tuple):
        out = []
        for item in messages:
            out.extend(flatten_errors(item, path))
        return out
    text = _REWORDED.get(str(messages), str(messages))
    return [f"{path or 'envelope'}: {text}"]


def _key_order(key: Any) -> tuple[int, int, str]:
    if key == "_schema":
        return (0, 0, "")
    if isinstance(key, int):
        return (1, key, "")
    return (2, 0, str(key))


def _join(path: str, key: Any) -> str:
    if key == "_schema":
        return path
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)

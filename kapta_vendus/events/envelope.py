"""The receiver's envelope check: known type, id present, store of this integration.

The payload itself is validated later, by the pipeline's validate step, so that a well-formed
envelope with a bad payload is still accepted, recorded and rejected with readable reasons.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from marshmallow import ValidationError

from kapta_vendus.events.schemas import EnvelopeSchema
from kapta_vendus.events.validation import flatten_errors

_SCHEMA = EnvelopeSchema()  # built once: it keeps no per-load state


def envelope_errors(envelope: Any, *, store_ids: Collection[int], webhook_id: str | None = None) -> list[str]:
    if not isinstance(envelope, dict):
        return ["envelope: must be a JSON object"]
    try:
        loaded = _SCHEMA.load(envelope)
    except ValidationError as exc:
        return flatten_errors(exc.messages)
    errors: list[str] = []
    if webhook_id is not None and webhook_id != loaded["id"]:
        errors.append("id: must equal the webhook-id header")
    if loaded["store_id"] not in store_ids:
        errors.append(f"store_id: store {loaded['store_id']} does not belong to this integration")
    return errors

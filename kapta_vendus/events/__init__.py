"""The event catalogue and the wire contract: envelope and payload schemas, validation."""

from kapta_vendus.events.catalogue import (
    CATALOGUE,
    DOCUMENT_EVENT_TYPES,
    EVENT_TYPES,
    EventType,
    carries_document,
    dedup_key,
    polled_dedup_key,
    push_dedup_key,
)
from kapta_vendus.events.errors import EventInvalid, Rejection
from kapta_vendus.events.validation import ValidatedEvent, validate_event

__all__ = [
    "CATALOGUE",
    "DOCUMENT_EVENT_TYPES",
    "EVENT_TYPES",
    "EventInvalid",
    "EventType",
    "Rejection",
    "ValidatedEvent",
    "carries_document",
    "dedup_key",
    "polled_dedup_key",
    "push_dedup_key",
    "validate_event",
]

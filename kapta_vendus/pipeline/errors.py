"""Rejections raised by the pure pipeline steps. All carry ``reasons``, a list of readable strings."""

from __future__ import annotations

from kapta_vendus.events.errors import EventInvalid, Rejection


class MappingError(Rejection):
    """The integration's mapping cannot express this event (unknown payment method, no register...)."""


class MappingConfigError(Rejection):
    """The mapping configuration itself is invalid; reasons name the field."""


class FiscalRejection(Rejection):
    """Sending this document would break a Portuguese invoicing rule (ARCHITECTURE guarantee 5)."""


class RuleConfigError(Rejection):
    """A rule does not compile or names an unknown symbol, event type or action."""


class RuleEvaluationError(Rejection):
    """A compiled rule failed on an actual context (e.g. a type the expression did not expect)."""


__all__ = [
    "EventInvalid",
    "FiscalRejection",
    "MappingConfigError",
    "MappingError",
    "Rejection",
    "RuleConfigError",
    "RuleEvaluationError",
]

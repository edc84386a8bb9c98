"""Rejections: input that can never succeed, however often it is retried.

Every rejection carries human-readable reasons, because an event that ends ``rejected`` must tell
operations staff what to fix. Tasks catch :class:`Rejection` to end an event without retrying.
"""

from __future__ import annotations


class Rejection(Exception):
    """Base of every permanent, explainable failure of the pipeline."""

    def __init__(self, reasons: list[str] | tuple[str, ...] | str):
        if isinstance(reasons, str):
            reasons = [reasons]
        self.reasons: list[str] = list(reasons)
        super().__init__("; ".join(self.reasons))


class EventInvalid(Rejection):
    """The envelope or its payload breaks the wire contract (reference/events.md)."""

    @property
    def errors(self) -> list[str]:
        return self.reasons

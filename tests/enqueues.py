"""Enqueues recorded instead of published, for integration tests that run without a broker.

It lives next to the top-level conftest.py, whose folder pytest puts on ``sys.path`` for every run,
so any test imports it as ``from enqueues import record_enqueues``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from kapta_vendus.tasks import dispatch

R = TypeVar("R")


def record_enqueues(monkeypatch: Any, recorder: R) -> R:
    """Route every enqueue to ``recorder``: its ``event(event_id, *, start_at=None)`` and ``notification(event_id)``."""
    from kapta_vendus.receiver import views

    monkeypatch.setattr(dispatch, "enqueue_event", recorder.event)
    monkeypatch.setattr(views, "enqueue_event", recorder.event)  # the receiver imported it by name
    monkeypatch.setattr(dispatch, "enqueue_notification", recorder.notification)
    return recorder

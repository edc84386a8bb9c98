"""Outages are waited out, not turned into dead events.

An event whose Vendus is unreachable, rate-limited or behind an open breaker, or whose payment or
refund waits for its sale's invoice, is *parked*: status ``waiting``, out of the queues, its fair
scheduling slot given back, its attempts untouched. ``resume_waiting`` (a beat job) puts parked
events back, oldest first: while the integration is down only its oldest one goes, as a probe,
and only once the breaker lets calls through; once Vendus answers, the rest follow in inbox order
through the fairness gate and the request budget. An event goes ``dead`` only when it has waited
longer than ``KAPTA_RETRY_HORIZON`` (or for an error that retrying cannot fix, elsewhere).

The operator hears of an integration's outage once (an ``Alert`` row ``vendus_down`` claims it)
and of its recovery once (the first success after the breaker tripped deletes the row).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Alert, Event, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.integrations.cache import integration_view
from kapta_vendus.pipeline.runner import FINISHED, Finished, _finish, error_text, task_of_step
from kapta_vendus.vendus import OutcomeUnknown, RateLimited, VendusUnavailable

log = logging.getLogger(__name__)

DOWN = "vendus_down"


def waits(exc: BaseException) -> bool:
    """Errors that mean "not now": waiting them out does not count as an attempt.

    An unknown outcome is not one of them: the document may exist, and a quick retry (which looks
    it up before sending again) settles it; it is retried in place, then parked like the rest.
    """
    from kapta_vendus.pipeline.actions import InvoiceNotReady

    return isinstance(exc, VendusUnavailable | RateLimited | InvoiceNotReady) and not isinstance(exc, OutcomeUnknown)


def park(db: Database, settings: Settings, event_id: int, exc: BaseException, *, breaker_open: bool,
         on_finished: Finished | None = None) -> str:
    """Park the event (or end it dead past the horizon); returns its new status."""
    now = utcnow()
    with db.unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is None or event.status in FINISHED:
            return event.status if event is not None else "missing"
        if now - event.received_at > timedelta(seconds=settings.retry_horizon):
            _finish(session, event, "dead", f"waited longer than the retry horizon: {error_text(exc)}",
                    on_finished)
            return "dead"
        # Due again at the next look of the resumer (or when a rate limit says), which probes a
        # down integration with one event at a time: short waits cost nothing.
        delay = max(float(getattr(exc, "reset_after", None) or 0), float(settings.resume_interval))
        event.status, event.retry_at, event.last_error = "waiting", now + timedelta(seconds=delay), error_text(exc)
        integration_id = event.integration_id
        if breaker_open:
            _claim_down(session, settings, integration_id, exc)
        on_commit(session, lambda: on_finished and on_finished(integration_id, event_id))
    return "waiting"


def _claim_down(session, settings: Settings, integration_id: str, exc: BaseException) -> None:
    from kapta_vendus.reconcile.dbutil import dialect_insert

    claimed = session.execute(dialect_insert(session, Alert).values(
        integration_id=integration_id, kind=DOWN, key="vendus", details={"error": error_text(exc)},
        created_at=utcnow()).on_conflict_do_nothing().returning(Alert.id)).scalar()
    if claimed is not None:
        config = integration_view(session, integration_id).config
        on_commit(session, lambda: _tell(config, settings, down=True, detail=error_text(exc)))


def recovered(db: Database, settings: Settings, integration_id: str, resume: Callable[[str], None]) -> None:
    """The first success after an outage: announce it once and resume the waiting events now."""
    with db.unit_of_work() as session:
        gone = session.execute(delete(Alert).where(Alert.integration_id == integration_id, Alert.kind == DOWN)
                               .returning(Alert.id)).first()
        config = integration_view(session, integration_id).config
    if gone is not None:
        _tell(config, settings, down=False, detail="")
    resume(integration_id)


TEXTS = {
    True: {"pt": ("Vendus indisponível", "O Vendus desta integração não responde ({detail}). Os eventos "
                  "ficam em espera e retomam sozinhos quando voltar."),
           "en": ("Vendus unreachable", "This integration's Vendus is not answering ({detail}). Its events "
                  "wait and resume by themselves when it is back.")},
    False: {"pt": ("Vendus disponível de novo", "O Vendus voltou a responder; os eventos em espera retomam."),
            "en": ("Vendus is back", "Vendus answers again; the waiting events are resuming.")},
}


def _tell(config: dict, settings: Settings, *, down: bool, detail: str) -> None:
    from kapta_vendus.pipeline.notify import send_alert

    lang = (config.get("notifications") or {}).get("language") or settings.language
    title, body = TEXTS[down].get(lang, TEXTS[down]["en"])
    try:
        send_alert(config, DOWN, title, body.format(detail=detail), urgent=down)
    except Exception:  # a chat service failing must not stop the pipeline
        log.exception("could not send the %s alert", "outage" if down else "recovery")


Enqueue = Callable[..., None]  # tasks.dispatch.enqueue_event(event_id, start_at=stage)
IsOpen = Callable[[str], float]  # Breaker.open_for


def resume_waiting(db: Database, settings: Settings, *, enqueue: Enqueue, breaker_open: IsOpen,
                   integration_id: str | None = None, batch: int = 200) -> list[int]:
    """Put due waiting events back in the queues, oldest first (see the module docstring)."""
    now = utcnow()
    resumed: list[int] = []
    with db.unit_of_work() as session:
        due = (select(Event.integration_id).where(Event.status == "waiting", Event.retry_at <= now)
               .group_by(Event.integration_id))
        if integration_id is not None:
            due = due.where(Event.integration_id == integration_id)
        integrations = list(session.scalars(due))
        down = set(session.scalars(select(Alert.integration_id).where(Alert.kind == DOWN)))
        for current in integrations:
            if breaker_open(current) > 0:
                continue  # still paused: nothing would reach Vendus
            limit = 1 if current in down else batch  # a probe first while it is known to be down
            query = (select(Event.id, Event.current_step).where(
                Event.integration_id == current, Event.status == "waiting", Event.retry_at <= now)
                .order_by(Event.id).limit(limit))
            if not db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                continue
            ids = [r[0] for r in rows]
            # Back to "received": if the message is lost (Redis), the sweeper enqueues it again.
            session.execute(update(Event).where(Event.id.in_(ids)).values(
                status="received", retry_at=None, updated_at=now))
            starts = [(r[0], task_of_step(r[1])) for r in rows]
            on_commit(session, lambda starts=starts: [enqueue(e, start_at=s) for e, s in starts])
            resumed.extend(ids)
        _clear_stale_alerts(session, down - set(integrations))
    return resumed


def _clear_stale_alerts(session, integrations: set[str]) -> None:
    """A down mark with nothing waiting any more: its recovery was missed (Redis lost the mark)."""
    for current in integrations:
        waiting = session.scalar(select(func.count(Event.id)).where(
            Event.integration_id == current, Event.status == "waiting"))
        if not waiting:
            session.execute(delete(Alert).where(Alert.integration_id == current, Alert.kind == DOWN))

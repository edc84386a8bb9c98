"""Rules over imported events, only when an operator asks: a dry run that tells, or a replay that does.

Imported events are recorded ``imported`` and never run by themselves. ``--replay-rules --dry-run``
evaluates the integration's rules on each and counts the actions they would take, touching nothing.
``--replay-rules`` hands them to the pipeline as if they had just been polled (status back to
``received``, chain enqueued after commit): whatever the rules decide then happens, notifications
included. Events are read in id batches, so a large import replays in constant memory.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update

from kapta_vendus.db.models import Event, utcnow
from kapta_vendus.db.session import Database, on_commit
from kapta_vendus.events.errors import Rejection
from kapta_vendus.events.validation import validate_event
from kapta_vendus.integrations.service import get_integration
from kapta_vendus.pipeline.normalise import normalise
from kapta_vendus.pipeline.rules import compile_rules, plan_actions
from kapta_vendus.reconcile.tenant import tenant_from


@dataclass
class ReplayReport:
    dry_run: bool
    events: int = 0
    actions: Counter[str] = field(default_factory=Counter)  # action kind → events that would take it
    rules: Counter[str] = field(default_factory=Counter)  # rule name (or "defaults") → events
    invalid: Counter[str] = field(default_factory=Counter)  # reason → events the chain would reject
    enqueued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "events": self.events, "actions": dict(self.actions),
                "rules": dict(self.rules), "invalid": dict(self.invalid), "enqueued": self.enqueued}


def replay_imported(db: Database, integration_id: str, *, dry_run: bool, since: date | None = None,
                    until: date | None = None, store_id: int | None = None,
                    enqueue: Callable[[int], None] | None = None, batch: int = 500) -> ReplayReport:
    if not dry_run and enqueue is None:
        raise ValueError("a replay needs an enqueue function")
    with db.unit_of_work() as session:
        tenant = tenant_from(get_integration(session, integration_id))
    if tenant.mapping is None:
        raise Rejection(["the integration's mapping is invalid: fix it before replaying rules"])
    rules = compile_rules(tenant.config.get("rules") or [])
    report = ReplayReport(dry_run)
    query = select(Event.id, Event.raw).where(Event.integration_id == integration_id, Event.source == "import",
                                              Event.status == "imported")
    if since is not None:
        query = query.where(Event.occurred_at >= datetime.combine(since, time.min, UTC))
    if until is not None:
        query = query.where(Event.occurred_at < datetime.combine(until + timedelta(days=1), time.min, UTC))
    if store_id is not None:
        query = query.where(Event.store_id == store_id)
    last = 0
    while True:
        with db.unit_of_work() as session:
            rows = session.execute(query.where(Event.id > last).order_by(Event.id).limit(batch)).all()
            if not rows:
                return report
            last = rows[-1].id
            report.events += len(rows)
            if dry_run:
                for row in rows:
                    _plan(row.raw, rules, tenant.mapping, report)
            else:
                ids = [row.id for row in rows]
                session.execute(update(Event).where(Event.id.in_(ids)).values(status="received", updated_at=utcnow()))
                on_commit(session, lambda ids=ids: [enqueue(event_id) for event_id in ids])
                report.enqueued += len(ids)


def _plan(raw: str, rules, mapping, report: ReplayReport) -> None:
    try:
        outcome = plan_actions(normalise(validate_event(json.loads(raw))), rules, mapping)
    except Rejection as exc:
        report.invalid["; ".join(exc.reasons)[:200]] += 1
        return
    for name in outcome.matched or ["defaults"]:
        report.rules[name] += 1
    for action in outcome.actions or ():
        report.actions[str(action.kind)] += 1

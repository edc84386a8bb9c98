"""Health per integration: the console's overview, `integrations health`, doctor and the metrics share it.

Everything here is read from the state database (and the breaker's shared state), never from
Vendus, so that it is cheap enough for every page view and every scrape. The one judgement made
is ``problems``: plain sentences an operator acts on; an integration with problems sorts first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kapta_vendus.config import Settings
from kapta_vendus.db.models import Alert, Event, Integration, Link, ReconciliationRun, StepRun, utcnow

UNFINISHED = ("received", "in_flight", "waiting")  # waiting: parked until Vendus answers again
RECENT_ERRORS = timedelta(minutes=15)  # step errors this recent make Vendus "degraded"
DEADLINE_WINDOW = timedelta(days=14)  # deadline alerts this recent, for sales still without a document


@dataclass(frozen=True)
class StorePoll:
    store_id: int
    last_ok: datetime | None
    lag_seconds: float | None  # None: never polled successfully


@dataclass
class IntegrationHealth:
    id: str
    name: str
    status: str
    last_hour: dict[str, int]
    last_day: dict[str, int]
    oldest_unfinished_seconds: float | None
    dead: int
    vendus_state: str  # ok | degraded | down
    breaker_open: bool
    recent_errors: int
    polls: list[StorePoll]
    drift_open: int
    deadline_sales: int
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["polls"] = [{**asdict(p), "last_ok": p.last_ok.isoformat() if p.last_ok else None} for p in self.polls]
        out["healthy"] = self.healthy
        return out


def _counts_since(session: Session, integration_id: str, since: datetime) -> dict[str, int]:
    rows = session.execute(select(Event.status, func.count()).where(
        Event.integration_id == integration_id, Event.received_at >= since).group_by(Event.status))
    return {str(status): int(count) for status, count in rows}


def _polls(session: Session, integration: Integration, now: datetime) -> list[StorePoll]:
    last = dict(session.execute(select(ReconciliationRun.store_id, func.max(ReconciliationRun.finished_at)).where(
        ReconciliationRun.integration_id == integration.id, ReconciliationRun.kind == "poll",
        ReconciliationRun.status == "ok").group_by(ReconciliationRun.store_id)).all())
    out = []
    for store_id in integration.store_ids:
        moment = last.get(store_id)
        out.append(StorePoll(store_id, moment, (now - moment).total_seconds() if moment else None))
    return out


def _drift_open(session: Session, integration_id: str) -> int:
    """Findings of the latest drift check (a clean check closes them)."""
    counts = session.scalar(select(ReconciliationRun.counts).where(
        ReconciliationRun.integration_id == integration_id, ReconciliationRun.kind == "drift",
        ReconciliationRun.status == "ok").order_by(ReconciliationRun.id.desc()).limit(1)) or {}
    from kapta_vendus.reconcile.drift import KINDS

    return sum(int(counts.get(kind, 0)) for kind in KINDS)


def _sales_near_deadline(session: Session, integration_id: str, now: datetime) -> int:
    """Sales the deadline watchdog raised recently that still have no fiscal document linked."""
    details = session.scalars(select(Alert.details).where(
        Alert.integration_id == integration_id, Alert.kind == "deadline",
        Alert.created_at >= now - DEADLINE_WINDOW)).all()
    # A sale's links start from ``<store>:<sale_id>`` (pipeline/references.py).
    keys = {f"{d['store_id']}:{d['sale_id']}" if d.get("store_id") is not None else str(d["sale_id"])
            for d in details if isinstance(d, dict) and d.get("sale_id")}
    if not keys:
        return 0
    invoiced = set(session.scalars(select(Link.from_key).where(
        Link.integration_id == integration_id, Link.from_kind == "sale", Link.from_key.in_(keys),
        Link.to_kind == "document")))
    return len(keys - invoiced)


def integration_health(session: Session, settings: Settings, integration: Integration, *,
                       now: datetime | None = None, breaker_open: bool = False) -> IntegrationHealth:
    now = now or utcnow()
    iid = integration.id
    oldest = session.scalar(select(func.min(Event.received_at)).where(
        Event.integration_id == iid, Event.status.in_(UNFINISHED)))
    dead = session.scalar(select(func.count()).select_from(Event).where(
        Event.integration_id == iid, Event.status == "dead")) or 0
    errors = session.scalar(select(func.count()).select_from(StepRun).where(
        StepRun.integration_id == iid, StepRun.status == "failed", StepRun.summary == "error",
        StepRun.started_at >= now - RECENT_ERRORS)) or 0
    deadline = _sales_near_deadline(session, iid, now)
    state = "down" if breaker_open else ("degraded" if errors else "ok")
    health = IntegrationHealth(
        id=iid, name=integration.name, status=integration.status,
        last_hour=_counts_since(session, iid, now - timedelta(hours=1)),
        last_day=_counts_since(session, iid, now - timedelta(days=1)),
        oldest_unfinished_seconds=(now - oldest).total_seconds() if oldest else None, dead=dead,
        vendus_state=state, breaker_open=breaker_open, recent_errors=errors,
        polls=_polls(session, integration, now), drift_open=_drift_open(session, iid), deadline_sales=deadline)
    health.problems = problems_of(health, settings)
    return health


def problems_of(health: IntegrationHealth, settings: Settings) -> list[str]:
    if health.status != "active":
        return []
    problems = []
    if health.vendus_state != "ok":
        problems.append(f"Vendus {health.vendus_state}" + (" (breaker open)" if health.breaker_open else
                                                          f" ({health.recent_errors} step error(s) in 15 min)"))
    if health.oldest_unfinished_seconds is not None and health.oldest_unfinished_seconds > settings.event_sla:
        waited = age_text(health.oldest_unfinished_seconds)
        problems.append(f"an event has waited {waited} (SLA {age_text(settings.event_sla)})")
    if health.dead:
        problems.append(f"{health.dead} dead event(s)")
    stale = settings.reconcile_interval * 3
    for poll in health.polls:
        if poll.lag_seconds is None:
            problems.append(f"store {poll.store_id} never polled successfully")
        elif poll.lag_seconds > stale:
            problems.append(f"store {poll.store_id} last polled {age_text(poll.lag_seconds)} ago")
    if health.drift_open:
        problems.append(f"{health.drift_open} drift finding(s)")
    if health.deadline_sales:
        problems.append(f"{health.deadline_sales} sale(s) near their legal deadline")
    return problems


def age_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def breaker_states(settings: Settings, integration_ids: list[str]) -> dict[str, bool]:
    """Whether each integration's circuit breaker is open now; unknown (no Redis answer) counts as closed."""
    from kapta_vendus.integrations.breaker import breaker_for

    store = breaker_for(settings).store
    out = {}
    for iid in integration_ids:
        try:
            out[iid] = store.open_for(f"kapta:breaker:{iid}") > 0
        except Exception:  # noqa: BLE001 - a health view must not fail because Redis does
            out[iid] = False
    return out


def overview(session: Session, settings: Settings, *, integration_ids: list[str] | None = None,
             include_deleted: bool = False, now: datetime | None = None) -> list[IntegrationHealth]:
    """One row per integration, problems first (most problems first), then by name."""
    query = select(Integration).order_by(Integration.name)
    if integration_ids is not None:
        query = query.where(Integration.id.in_(integration_ids))
    if not include_deleted:
        query = query.where(Integration.status != "deleted")
    rows = list(session.scalars(query))
    breakers = breaker_states(settings, [r.id for r in rows])
    healths = [integration_health(session, settings, r, now=now, breaker_open=breakers[r.id]) for r in rows]
    return sorted(healths, key=lambda h: (-len(h.problems), h.name))

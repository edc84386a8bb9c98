"""Charts drawn on the server as inline SVG: no script, no library, nothing fetched by the browser.

Colours come from the stylesheet (classes ``s-<status>``), so the SVG carries no inline style and
passes the console's Content-Security-Policy. Each bar has a ``<title>``: hovering shows its numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Event, Integration, StepRun

STATUS_ORDER = ("done", "imported", "received", "in_flight", "waiting", "rejected", "dead")
VENDUS_STEPS = ("actions",)  # the steps that call Vendus to issue (billing)
WIDTH, HEIGHT, PAD = 720, 160, 28


@dataclass(frozen=True)
class HourlySeries:
    start: datetime  # the first hour shown
    hours: int
    counts: dict[int, Counter]  # hour index → status → events


def _hour(moment: datetime, start: datetime) -> int:
    return int((moment - start).total_seconds() // 3600)


def events_per_hour(session: Session, integration_ids: list[str] | None, now: datetime,
                    hours: int = 48) -> HourlySeries:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    query = select(Event.received_at, Event.status).where(Event.received_at >= start)
    if integration_ids is not None:
        query = query.where(Event.integration_id.in_(integration_ids))
    counts: dict[int, Counter] = defaultdict(Counter)
    for received_at, status in session.execute(query):
        counts[_hour(received_at, start)][status] += 1
    return HourlySeries(start, hours, dict(counts))


def _frame(title: str, body: list[str], peak: float, unit: str) -> Markup:
    label = f"{peak:g} {unit}".strip()
    # Every text put in is escaped here; the body holds only numbers and formatted dates.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH}" y2="{HEIGHT - PAD}"/>'
        f'<text class="tick" x="2" y="{PAD - 8}">{escape(label)}</text>'
        f'<text class="tick" x="{PAD}" y="{HEIGHT - 8}">-48 h</text>'
        f'<text class="tick" x="{WIDTH - 40}" y="{HEIGHT - 8}">now</text>'
        + "".join(body) + "</svg>")


def stacked_status_bars(series: HourlySeries) -> Markup:
    peak = max((sum(c.values()) for c in series.counts.values()), default=0) or 1
    slot = (WIDTH - PAD) / series.hours
    scale = (HEIGHT - 2 * PAD) / peak
    body = []
    for index in range(series.hours):
        counts = series.counts.get(index, Counter())
        y = HEIGHT - PAD
        hour = (series.start + timedelta(hours=index)).strftime("%d %b %H:00")
        for status in STATUS_ORDER:
            n = counts.get(status, 0)
            if not n:
                continue
            height = n * scale
            y -= height
            body.append(f'<rect class="s-{status}" x="{PAD + index * slot + 1:.1f}" y="{y:.1f}" '
                        f'width="{slot - 2:.1f}" height="{height:.1f}"><title>{hour} UTC: {n} {status}</title></rect>')
    return _frame("Events per hour by status, last 48 hours", body, peak, "events/h")


@dataclass(frozen=True)
class VendusSeries:
    integration: str
    latency_ms: dict[int, float]  # hour → mean duration of the billing step
    errors: dict[int, int]  # hour → failed billing steps (not rejections)
    hours: int
    start: datetime


def vendus_by_integration(session: Session, integration_ids: list[str] | None, now: datetime,
                          hours: int = 48) -> list[VendusSeries]:
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    query = (select(StepRun.integration_id, StepRun.started_at, StepRun.duration_ms, StepRun.status,
                    StepRun.summary).where(StepRun.step.in_(VENDUS_STEPS), StepRun.started_at >= start))
    if integration_ids is not None:
        query = query.where(StepRun.integration_id.in_(integration_ids))
    durations: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    errors: dict[str, Counter] = defaultdict(Counter)
    for iid, started, duration, status, summary in session.execute(query):
        hour = _hour(started, start)
        durations[iid][hour].append(duration or 0)
        if status == "failed" and summary == "error":
            errors[iid][hour] += 1
    names: dict[str, str] = {}
    if durations or errors:
        for iid, name in session.execute(select(Integration.id, Integration.name).where(
                Integration.id.in_(set(durations) | set(errors)))):
            names[iid] = name
    return [VendusSeries(names.get(iid, iid), {h: sum(v) / len(v) for h, v in durations[iid].items()},
                         dict(errors[iid]), hours, start) for iid in sorted(names, key=lambda i: names[i])]


def latency_and_errors(series: VendusSeries) -> Markup:
    peak = max(series.latency_ms.values(), default=0) or 1
    slot = (WIDTH - PAD) / series.hours
    scale = (HEIGHT - 2 * PAD) / peak
    points = " ".join(f"{PAD + (h + 0.5) * slot:.1f},{HEIGHT - PAD - ms * scale:.1f}"
                      for h, ms in sorted(series.latency_ms.items()))
    body = [f'<polyline class="latency" points="{points}"/>'] if points else []
    for h, ms in sorted(series.latency_ms.items()):
        hour = (series.start + timedelta(hours=h)).strftime("%d %b %H:00")
        body.append(f'<circle class="latency-dot" cx="{PAD + (h + 0.5) * slot:.1f}" '
                    f'cy="{HEIGHT - PAD - ms * scale:.1f}" r="2.5">'
                    f"<title>{hour} UTC: {ms:.0f} ms mean</title></circle>")
    for h, n in sorted(series.errors.items()):
        hour = (series.start + timedelta(hours=h)).strftime("%d %b %H:00")
        bar = 6 * min(n, 10)
        body.append(f'<rect class="s-dead" x="{PAD + h * slot + 1:.1f}" y="{HEIGHT - PAD - bar:.1f}" '
                    f'width="{slot - 2:.1f}" height="{bar:.1f}"><title>{hour} UTC: {n} error(s)</title></rect>')
    return _frame(f"Vendus latency (mean ms per hour) and errors: {series.integration}", body, round(peak), "ms")

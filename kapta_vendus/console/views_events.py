"""Console pages about events: the filtered list (and its CSV), one event, replay, dead letters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from kapta_vendus.admin.event_filter import SOURCES, STATUSES, EventFilter, as_csv, page
from kapta_vendus.admin.queries import event_detail
from kapta_vendus.admin.replay import NotReplayable, replay_event
from kapta_vendus.console.auth import bp, db, may_see, requires, visible_ids
from kapta_vendus.console.present import redacted_payload, sale_chain
from kapta_vendus.db.models import Event, Integration

PAGE_SIZE = 50
CSV_LIMIT = 100_000


def _enqueue(event_id: int, *, start_at: str | None = None) -> None:
    from kapta_vendus.tasks import dispatch

    dispatch.enqueue_event(event_id, start_at=start_at)  # looked up at call time (tests replace it)


def _day(value: str, *, end: bool) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)


def _integrations(session) -> list[Integration]:
    query = select(Integration).order_by(Integration.name)
    ids = visible_ids()
    if ids is not None:
        query = query.where(Integration.id.in_(ids))
    return list(session.scalars(query))


def _filter_from(args, integrations: list[Integration]) -> tuple[EventFilter, dict[str, Any]]:
    """The filter in the query string; what was not understood is ignored and shown as unset."""
    form = {k: (args.get(k) or "").strip() for k in ("integration", "status", "type", "store", "source", "from",
                                                    "to", "sale")}
    by_name = {i.name: i.id for i in integrations} | {i.id: i.id for i in integrations}
    visible = tuple(i.id for i in integrations)
    if not form["integration"]:
        chosen = visible
    else:  # a name this token cannot see finds nothing, exactly like one that does not exist
        chosen = (by_name[form["integration"]],) if form["integration"] in by_name else ()
    status = form["status"] if form["status"] in STATUSES else ""
    f = EventFilter(
        integration_ids=chosen, statuses=(status,) if status else (), types=(form["type"],) if form["type"] else (),
        stores=(int(form["store"]),) if form["store"].isdigit() else (),
        sources=(form["source"],) if form["source"] in SOURCES else (),
        received_from=_day(form["from"], end=False), received_to=_day(form["to"], end=True),
        sale_id=form["sale"] or None, include_imported=args.get("imported") == "1")
    form["imported"] = args.get("imported") == "1"
    return f, form


@bp.get("/events")
def events():
    page_number = max(1, request.args.get("page", 1, type=int) or 1)
    with db().unit_of_work() as session:
        integrations = _integrations(session)
        f, form = _filter_from(request.args, integrations)
        found = page(session, f, page_number, PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page"}
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    return render_template("events.html", found=found, form=form, integrations=integrations, statuses=STATUSES,
                           sources=SOURCES, args=args, pages=pages)


@bp.get("/events.csv")
def events_csv():
    with db().unit_of_work() as session:
        f, _form = _filter_from(request.args, _integrations(session))
        rows = page(session, f, 1, CSV_LIMIT)["items"]
    return Response(as_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=events.csv"})


def _event_or_404(session, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or not may_see(event.integration_id):
        abort(404)
    return event


@bp.get("/events/<int:event_id>")
def event(event_id: int):
    with db().unit_of_work() as session:
        row = _event_or_404(session, event_id)
        detail = event_detail(session, row)
        integration = session.get(Integration, row.integration_id)
        return render_template("event.html", event=row, detail=detail, integration=integration,
                               payload=redacted_payload(row.raw), chain=sale_chain(session, row))


@bp.post("/events/<int:event_id>/replay")
@requires("operate")
def replay(event_id: int):
    with db().unit_of_work() as session:
        try:
            done = replay_event(session, _event_or_404(session, event_id), _enqueue)
            flash(f"Event {event_id} replayed from {done.from_step}.", "ok")
        except NotReplayable as exc:
            flash(str(exc), "error")
    return redirect(url_for("console.event", event_id=event_id))


@bp.get("/dead")
def dead():
    with db().unit_of_work() as session:
        integrations = _integrations(session)
        found = page(session, EventFilter(integration_ids=tuple(i.id for i in integrations), statuses=("dead",)),
                     1, 500)
    return render_template("dead.html", found=found)


@bp.post("/dead/replay")
@requires("operate")
def replay_dead():
    ids = sorted({int(v) for v in request.form.getlist("event_id") if v.isdigit()})
    if not ids:
        flash("Select at least one event to replay.", "error")
        return redirect(url_for("console.dead"))
    replayed, refused = [], []
    with db().unit_of_work() as session:
        for event_id in ids:
            row = session.get(Event, event_id)
            if row is None or not may_see(row.integration_id):
                refused.append(f"event {event_id}: not found")
                continue
            try:
                replayed.append(replay_event(session, row, _enqueue).event_id)
            except NotReplayable as exc:
                refused.append(str(exc))
    if replayed:
        flash(f"Replayed {len(replayed)} event(s): {', '.join(map(str, replayed))}.", "ok")
    for reason in refused:
        flash(reason, "error")
    return redirect(url_for("console.dead"))

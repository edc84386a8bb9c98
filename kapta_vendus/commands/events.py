"""`kapta-vendus events list|show|replay`: what happened to an event, step by step, and replaying it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from kapta_vendus.admin.event_filter import SOURCES, STATUSES, EventFilter, as_csv, integration_ids_for, page, summary
from kapta_vendus.commands.common import console, database
from kapta_vendus.db.models import Event, Integration, StepRun


@click.group()
def events() -> None:
    """The inbox: every event received, polled or imported, and its outcome."""


def _moment(value: str | None, *, end: bool) -> datetime | None:
    """A date (the whole day, UTC) or an ISO datetime; naive times are UTC."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (2024-05-31) or a date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@events.command("list")
@click.option("--integration", "integrations", multiple=True, help="Only this integration (name or id; repeatable).")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Repeatable.")
@click.option("--type", "types", multiple=True, help="Event type, e.g. sale.completed (repeatable).")
@click.option("--store", "stores", multiple=True, type=int, help="Vendus store id (repeatable).")
@click.option("--source", "sources", multiple=True, type=click.Choice(SOURCES), help="Repeatable.")
@click.option("--since", help="Received on or after this date (2024-05-31) or time.")
@click.option("--until", help="Received before the end of this date, or before this time.")
@click.option("--sale", "sale_id", help="Events of this sale id.")
@click.option("--include-imported", is_flag=True, help="Also list imported history (hidden by default).")
@click.option("--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--csv", "as_csv_", is_flag=True, help="CSV on standard output.")
def list_(integrations, statuses, types, stores, sources, since, until, sale_id, include_imported, limit,
          as_json, as_csv_) -> None:
    """List events, newest first, with their integration."""
    with database().unit_of_work() as session:
        try:
            ids = integration_ids_for(session, integrations) if integrations else None
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        found = page(session, EventFilter(
            integration_ids=ids, statuses=statuses, types=types, stores=stores, sources=sources,
            received_from=_moment(since, end=False), received_to=_moment(until, end=True), sale_id=sale_id,
            include_imported=include_imported), 1, limit)
    rows = found["items"]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if as_csv_:
        click.echo(as_csv(rows), nl=False)
        return
    table = Table("id", "integration", "type", "status", "source", "store", "business key", "step", "received",
                  "last error", title=f"{len(rows)} of {found['total']} event(s)")
    for r in rows:
        table.add_row(str(r["id"]), escape(r["integration"]), r["type"], r["status"], r["source"],
                      str(r["store_id"] or ""), escape(r["business_key"] or ""), r["current_step"] or "",
                      r["received_at"][:19], escape((r["last_error"] or "")[:60]))
    console.print(table)


@events.command("show")
@click.argument("event_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(event_id: int, as_json: bool) -> None:
    with database().unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is None:
            raise click.ClickException(f"no event {event_id}")
        detail = summary(event, session.get(Integration, event.integration_id).name)
        detail["steps"] = [
            {"step": s.step, "attempt": s.attempt, "status": s.status, "duration_ms": s.duration_ms,
             "summary": s.summary, "error": s.error}
            for s in session.scalars(select(StepRun).where(StepRun.event_id == event_id).order_by(StepRun.id))]
        detail["documents"] = _documents(session, event)
    if as_json:
        click.echo(json.dumps(detail, indent=2, default=str))
        return
    console.print(f"[bold]event {detail['id']}[/] of {escape(detail['integration'])}: {detail['type']} "
                  f"({detail['source']}) → [bold]{detail['status']}[/]")
    if detail["last_error"]:
        console.print(f"last error: {escape(detail['last_error'])}")
    steps = Table("step", "attempt", "status", "ms", "summary", "error")
    for s in detail["steps"]:
        steps.add_row(s["step"], str(s["attempt"]), s["status"], str(s["duration_ms"]), escape(s["summary"]),
                      escape((s["error"] or "")[:80]))
    console.print(steps)
    docs = Table("type", "number", "status", "gross", "vendus id")
    for d in detail["documents"]:
        docs.add_row(d["type"], d["number"], d["status"], d["amount_gross"], str(d["vendus_id"]))
    console.print(docs)


def _documents(session, event: Event) -> list[dict]:
    """Documents issued for this event, plus those linked to its business key."""
    from kapta_vendus.admin.queries import event_relations

    _issuances, _links, docs = event_relations(session, event)
    return [{"type": d.type, "number": d.number, "status": d.status, "amount_gross": str(d.amount_gross),
             "vendus_id": d.vendus_id} for d in docs]

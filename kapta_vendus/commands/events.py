"""`kapta-vendus events list|show`: what happened to an event, step by step."""

from __future__ import annotations

import json

import click
from rich.table import Table
from sqlalchemy import select

from kapta_vendus.commands.common import console, database
from kapta_vendus.db.models import Event, StepRun


@click.group()
def events() -> None:
    """The inbox: every event received, polled or imported, and its outcome."""


@events.command("list")
@click.option("--integration", "integration_id", help="Only this integration (id).")
@click.option("--status", type=click.Choice(
    ["received", "in_flight", "waiting", "done", "rejected", "dead", "imported"]))
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_(integration_id: str | None, status: str | None, limit: int, as_json: bool) -> None:
    query = select(Event).order_by(Event.id.desc()).limit(limit)
    if integration_id:
        query = query.where(Event.integration_id == integration_id)
    if status:
        query = query.where(Event.status == status)
    with database().unit_of_work() as session:
        rows = [_summary(e) for e in session.scalars(query)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "type", "status", "source", "business key", "step", "received", "last error")
    for r in rows:
        table.add_row(str(r["id"]), r["type"], r["status"], r["source"], r["business_key"] or "",
                      r["current_step"] or "", r["received_at"][:19], (r["last_error"] or "")[:60])
    console.print(table)


@events.command("show")
@click.argument("event_id", type=int)
@click.option("--json", "as_json", is_flag=True)
def show(event_id: int, as_json: bool) -> None:
    with database().unit_of_work() as session:
        event = session.get(Event, event_id)
        if event is None:
            raise click.ClickException(f"no event {event_id}")
        detail = _summary(event)
        detail["steps"] = [
            {"step": s.step, "attempt": s.attempt, "status": s.status, "duration_ms": s.duration_ms,
             "summary": s.summary, "error": s.error}
            for s in session.scalars(select(StepRun).where(StepRun.event_id == event_id).order_by(StepRun.id))]
        detail["documents"] = _documents(session, event)
    if as_json:
        click.echo(json.dumps(detail, indent=2, default=str))
        return
    console.print(f"[bold]event {detail['id']}[/] {detail['type']} ({detail['source']}) → [bold]{detail['status']}[/]")
    if detail["last_error"]:
        console.print(f"last error: {detail['last_error']}")
    steps = Table("step", "attempt", "status", "ms", "summary", "error")
    for s in detail["steps"]:
        steps.add_row(s["step"], str(s["attempt"]), s["status"], str(s["duration_ms"]), s["summary"],
                      (s["error"] or "")[:80])
    console.print(steps)
    docs = Table("type", "number", "status", "gross", "vendus id")
    for d in detail["documents"]:
        docs.add_row(d["type"], d["number"], d["status"], d["amount_gross"], str(d["vendus_id"]))
    console.print(docs)


def _summary(e: Event) -> dict:
    return {"id": e.id, "integration_id": e.integration_id, "type": e.type, "status": e.status,
            "source": e.source, "external_id": e.external_id, "business_key": e.business_key,
            "store_id": e.store_id, "current_step": e.current_step, "attempts": e.attempts,
            "received_at": e.received_at.isoformat(), "last_error": e.last_error}


def _documents(session, event: Event) -> list[dict]:
    """Documents issued for this event, plus those linked to its business key."""
    from kapta_vendus.admin.queries import event_relations

    _issuances, _links, docs = event_relations(session, event)
    return [{"type": d.type, "number": d.number, "status": d.status, "amount_gross": str(d.amount_gross),
             "vendus_id": d.vendus_id} for d in docs]

"""`kapta-vendus events list|show`: what happened to an event, step by step."""

from __future__ import annotations

import json

import click
from rich.table import Table
from sqlalchemy import or_, select

from kapta_vendus.commands.common import console, database
from kapta_vendus.db.models import Document, Event, Issuance, Link, StepRun


@click.group()
def events() -> None:
    """The inbox: every event received, polled or imported, and its outcome."""


@events.command("list")
@click.option("--integration", "integration_id", help="Only this integration (id).")
@click.option("--status", type=click.Choice(["received", "in_flight", "done", "rejected", "dead", "imported"]))
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
    vendus_ids = set(session.scalars(select(Issuance.vendus_id).where(
        Issuance.event_id == event.id, Issuance.vendus_id.is_not(None))))
    local_ids: set[int] = set()
    if event.business_key:
        kind, _, key = event.business_key.partition(":")
        from_keys = {key}
        if kind == "document" and key.isdigit():
            # A document event's key is the Vendus id of its own document; links between documents
            # (finalized_as) start from the mirror row id, not from the Vendus id.
            own = set(session.scalars(select(Document.id).where(
                Document.integration_id == event.integration_id, Document.vendus_id == int(key))))
            local_ids |= own
            from_keys = {str(i) for i in own}
        local_ids |= {int(k) for k in session.scalars(select(Link.to_key).where(
            Link.integration_id == event.integration_id, Link.from_kind == kind, Link.from_key.in_(from_keys),
            Link.to_kind == "document"))}
    docs = session.scalars(select(Document).where(
        Document.integration_id == event.integration_id,
        or_(Document.vendus_id.in_(vendus_ids), Document.id.in_(local_ids))).order_by(Document.id))
    return [{"type": d.type, "number": d.number, "status": d.status, "amount_gross": str(d.amount_gross),
             "vendus_id": d.vendus_id} for d in docs]

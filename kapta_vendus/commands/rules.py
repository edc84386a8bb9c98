"""`kapta-vendus rules test`: which rules match, which actions run, what would be sent. Dry run."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from kapta_vendus.commands.common import console, database
from kapta_vendus.db.models import Event, StepRun
from kapta_vendus.integrations.dryrun import dry_run
from kapta_vendus.integrations.service import IntegrationNotFound, find_integration


@click.group()
def rules() -> None:
    """An integration's rules."""


def _bound(text: str, *, end: bool) -> tuple[str, Any]:
    text = text.strip()
    if not text:
        return "open", None
    if text.isdigit():
        return "id", int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither an event id nor a date (2026-11-25 or 2026-11-25T10:00+00:00)",
                                 param_hint="--replay") from None
    if len(text) == 10:  # a date: the whole day, inclusive at both ends
        moment = datetime.combine(date.fromisoformat(text), time(), UTC) + (timedelta(days=1) if end else timedelta())
    return "time", moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_range(text: str) -> tuple[tuple[str, Any], tuple[str, Any]]:
    """``FROM..TO``: event ids (``120..180``) or dates/datetimes (``2026-11-01..2026-11-30``); a side may be empty."""
    low, sep, high = text.partition("..")
    if not sep:
        raise click.BadParameter("use FROM..TO, e.g. 2026-11-01..2026-11-30 or 120..180", param_hint="--replay")
    return _bound(low, end=False), _bound(high, end=True)


def _events_in(session, integration_id: str, bounds, limit: int) -> list[Event]:
    when = func.coalesce(Event.occurred_at, Event.received_at)
    query = select(Event).where(Event.integration_id == integration_id).order_by(Event.id).limit(limit)
    (low_kind, low), (high_kind, high) = bounds
    if low_kind == "id":
        query = query.where(Event.id >= low)
    elif low_kind == "time":
        query = query.where(when >= low)
    if high_kind == "id":
        query = query.where(Event.id <= high)
    elif high_kind == "time":
        query = query.where(when < high)
    return list(session.scalars(query))


def _decided(session, event: Event) -> list[str]:
    output = session.scalar(select(StepRun.output).where(
        StepRun.integration_id == event.integration_id, StepRun.event_id == event.id, StepRun.step == "rules",
        StepRun.status == "ok").order_by(StepRun.id.desc()).limit(1))
    return [_label(a) for a in (output or {}).get("actions", [])]


def _label(action: dict[str, Any]) -> str:
    """``issue_document FT``: the kind, and the document type when there is one."""
    doc_type = (action.get("params") or {}).get("document_type")
    return f"{action['kind']} {doc_type}" if doc_type else action["kind"]


def _show(report: dict[str, Any]) -> None:
    event = report["event"]
    console.print(f"[bold]{escape(str(event['type']))}[/] {escape(str(event['id']))} (store {event['store_id']})")
    if report["skipped"]:
        console.print(f"skipped by the integration's event selection: {escape(report['skipped'])}")
        return
    table = Table("rule", "applies to this event", "matches", "stop", title="rules, in order")
    for rule in report["rules"]:
        table.add_row(escape(rule["name"]), "yes" if rule["applies"] else "no",
                      "[green]yes[/]" if rule["matches"] else "no", "yes" if rule["stop"] else "")
    if report["rules"]:
        console.print(table)
    if report["rejected"]:
        console.print("[red]rejected:[/] " + escape("; ".join(report["rejected"])))
        return
    console.print("matched: " + (", ".join(map(escape, report["matched"])) or "none")
                  + ("  (default workflow applies)" if report["used_defaults"] else ""))
    for action in report["actions"]:
        console.print(f"[bold]→ {action['kind']}[/] {escape(json.dumps(action['params']))}")
        if action["note"]:
            console.print(f"   {escape(action['note'])}")
        if action["rejected"]:
            console.print("   [red]would be rejected:[/] " + escape("; ".join(action["rejected"])))
        if action["payload"] is not None:
            console.print("   payload that would be sent to Vendus (POST documents/):")
            console.print_json(json.dumps(action["payload"]))
    if not report["actions"]:
        console.print("no action")


@rules.command("test")
@click.option("--integration", "ref", required=True, help="Integration id or name.")
@click.option("--event", "event_file", type=click.Path(exists=True, dir_okay=False),
              help="A JSON file with one event envelope (or a list of them).")
@click.option("--replay", "span",
              help="Stored events FROM..TO: event ids (120..180) or dates (2026-11-01..2026-11-30).")
@click.option("--limit", type=int, default=1000, show_default=True, help="At most this many stored events.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def test(ref: str, event_file: str | None, span: str | None, limit: int, as_json: bool) -> None:
    """Dry run: nothing is sent to Vendus and nothing is written."""
    if bool(event_file) == bool(span):
        raise click.UsageError("give exactly one of --event FILE or --replay FROM..TO")
    bounds = parse_range(span) if span else None
    with database().unit_of_work() as session:
        try:
            integration = find_integration(session, ref)
        except IntegrationNotFound:
            raise click.ClickException(f"no integration {ref!r}") from None
        if event_file:
            try:
                loaded = json.loads(Path(event_file).read_text())
            except ValueError as exc:
                raise click.ClickException(f"{event_file}: not valid JSON ({exc})") from None
            reports = [dry_run(session, integration, e) for e in (loaded if isinstance(loaded, list) else [loaded])]
            rows = []
        else:
            events = _events_in(session, integration.id, bounds, limit)
            reports, rows = [], []
            for event in events:
                report = dry_run(session, integration, json.loads(event.raw))
                reports.append(report)
                rows.append((event, _decided(session, event), report))
    if as_json:
        click.echo(json.dumps(reports, indent=2, default=str))
    elif event_file:
        for report in reports:
            _show(report)
    else:
        _summary(rows)


def _summary(rows) -> None:
    table = Table("event", "type", "status", "decided then", "would now", "", title="replay (dry run)")
    changed, outcomes = 0, Counter()
    for event, then, report in rows:
        now = ["rejected"] if report["rejected"] else (
            ["skipped"] if report["skipped"] else [_label(a) for a in report["actions"]])
        differs = bool(then) and then != now
        changed += differs
        outcomes.update(now or ["no action"])
        table.add_row(str(event.id), event.type, event.status, ", ".join(then), ", ".join(now),
                      "[yellow]changed[/]" if differs else "")
    console.print(table)
    console.print(f"{len(rows)} event(s); {changed} would be decided differently now. "
                  + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))

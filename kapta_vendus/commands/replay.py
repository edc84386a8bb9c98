"""`kapta-vendus events replay ID… | --dead [--integration N]`: the admin API's replay, from the shell."""

from __future__ import annotations

import click
from rich.markup import escape
from sqlalchemy import select

from kapta_vendus.admin.event_filter import integration_ids_for
from kapta_vendus.admin.replay import NotReplayable, replay_event
from kapta_vendus.commands.common import console, database
from kapta_vendus.commands.events import events
from kapta_vendus.db.models import Event


def _enqueue(event_id: int, *, start_at: str | None = None) -> None:
    from kapta_vendus.tasks import dispatch

    dispatch.enqueue_event(event_id, start_at=start_at)


@events.command("replay")
@click.argument("event_ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Replay every dead event (of --integration, or of all).")
@click.option("--integration", "integrations", multiple=True, help="With --dead: only this integration (name or id).")
@click.option("--limit", type=click.IntRange(1, 10000), default=500, show_default=True, help="With --dead: at most.")
def replay(event_ids: tuple[int, ...], dead: bool, integrations: tuple[str, ...], limit: int) -> None:
    """Replay dead or rejected events from the step where they stopped (never a second document)."""
    if bool(event_ids) == dead:
        raise click.UsageError("give event ids, or --dead (optionally with --integration)")
    if integrations and not dead:
        raise click.UsageError("--integration goes with --dead")
    refused = []
    replayed = []
    with database().unit_of_work() as session:
        if dead:
            try:
                ids = integration_ids_for(session, integrations) if integrations else None
            except LookupError as exc:
                raise click.ClickException(str(exc)) from None
            query = select(Event).where(Event.status == "dead").order_by(Event.id).limit(limit)
            if ids is not None:
                query = query.where(Event.integration_id.in_(ids))
            targets = list(session.scalars(query))
        else:
            targets = []
            for event_id in event_ids:
                event = session.get(Event, event_id)
                if event is None:
                    refused.append(f"event {event_id}: not found")
                else:
                    targets.append(event)
        for event in targets:
            try:
                replayed.append(replay_event(session, event, _enqueue))
            except NotReplayable as exc:
                refused.append(str(exc))
    for item in replayed:
        console.print(f"event {item.event_id}: replayed from {item.from_step}")
    for reason in refused:
        console.print(f"[red]{escape(reason)}[/]")
    console.print(f"{len(replayed)} replayed, {len(refused)} refused")
    if refused:
        raise SystemExit(1)

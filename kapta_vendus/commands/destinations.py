"""`kapta-vendus destinations list|add|rotate-secret|disable|enable|deliveries|replay`."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.destinations.registry import (
    DestinationError,
    DestinationNotFound,
    DestinationSpec,
    describe_destination,
    get_destination,
    list_destinations,
    rotate_destination_secret,
    set_destination_enabled,
    upsert_destination,
)
from kapta_vendus.integrations.service import IntegrationNotFound, find_integration
from kapta_vendus.integrations.spec import parse_duration

INTEGRATION = click.option("--integration", "ref", required=True, help="Integration id or name.")


def _integration_id(session, ref: str) -> str:
    try:
        return find_integration(session, ref).id
    except IntegrationNotFound:
        raise click.ClickException(f"no integration {ref!r}") from None


def _destination(session, integration_id: str, ref: str):
    try:
        return get_destination(session, integration_id, ref)
    except DestinationNotFound:
        raise click.ClickException(f"no destination {ref!r} in this integration") from None


@click.group()
def destinations() -> None:
    """Other systems told what happened: signed outbound events, their deliveries and replay."""


@destinations.command("list")
@INTEGRATION
@click.option("--json", "as_json", is_flag=True)
def list_(ref: str, as_json: bool) -> None:
    """Destinations of an integration with their delivery counts (never their secrets)."""
    db = database()
    with db.unit_of_work() as session:
        rows = [describe_destination(session, d) for d in list_destinations(session, _integration_id(session, ref))]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("id", "name", "url", "events", "status", "deliveries")
    for row in rows:
        table.add_row(str(row["id"]), escape(row["name"]), escape(row["url"]), ", ".join(row["events"]),
                      row["status"], ", ".join(f"{k} {v}" for k, v in sorted(row["deliveries"].items())))
    console.print(table)


@destinations.command("add")
@INTEGRATION
@click.option("--name", required=True)
@click.option("--url", required=True)
@click.option("--event", "events", multiple=True, required=True, help="An outbound event type (repeatable).")
@click.option("--store", "stores", type=int, multiple=True, help="Only events of this store (repeatable).")
@click.option("--rate-limit", type=click.IntRange(1), help="Deliveries per minute at most.")
def add(ref: str, name: str, url: str, events: tuple[str, ...], stores: tuple[int, ...],
        rate_limit: int | None) -> None:
    """Add (or change) a destination; a new one's whsec_ secret is printed once."""
    settings = load_settings()
    db = database(settings)
    try:
        spec = DestinationSpec.from_dict({"name": name, "url": url, "events": list(events), "stores": list(stores),
                                          "rate_limit_per_minute": rate_limit})
    except DestinationError as exc:
        raise click.ClickException(str(exc)) from None
    with db.unit_of_work() as session:
        destination, secret = upsert_destination(session, settings, _integration_id(session, ref), spec)
        dest_id = destination.id
    console.print(f"destination [bold]{escape(name)}[/] (id {dest_id}) saved")
    if secret:
        console.print("signing secret (shown once; give it to the receiver):")
        click.echo(secret)


@destinations.command("rotate-secret")
@INTEGRATION
@click.argument("destination")
@click.option("--overlap", default="24h", show_default=True, help="How long the old secret keeps signing too.")
def rotate(ref: str, destination: str, overlap: str) -> None:
    """Add a new signing secret and print it once; deliveries carry both signatures during the overlap."""
    settings = load_settings()
    try:
        window = parse_duration(overlap)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--overlap") from None
    db = database(settings)
    with db.unit_of_work() as session:
        secret = rotate_destination_secret(session, settings, _destination(session, _integration_id(session, ref),
                                                                         destination), window)
    click.echo(secret)


@destinations.command("disable")
@INTEGRATION
@click.argument("destination")
def disable(ref: str, destination: str) -> None:
    """Stop delivering to a destination (pending deliveries end dead, replayable)."""
    with database().unit_of_work() as session:
        set_destination_enabled(_destination(session, _integration_id(session, ref), destination), False)
    console.print("disabled")


@destinations.command("enable")
@INTEGRATION
@click.argument("destination")
def enable(ref: str, destination: str) -> None:
    """Deliver to a destination again (after a 410 or a manual disable); its circuit is closed."""
    with database().unit_of_work() as session:
        set_destination_enabled(_destination(session, _integration_id(session, ref), destination), True)
    console.print("enabled")


@destinations.command("deliveries")
@INTEGRATION
@click.option("--destination", "dest_ref", help="Only this destination (id or name).")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def deliveries(ref: str, dest_ref: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """The delivery log: status, attempts, last response code and a short excerpt of its body."""
    from kapta_vendus.destinations.log import list_deliveries

    db = database()
    with db.unit_of_work() as session:
        integration_id = _integration_id(session, ref)
        dest_id = _destination(session, integration_id, dest_ref).id if dest_ref else None
    rows = list_deliveries(db, integration_id, destination_id=dest_id, status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
        return
    table = Table("id", "destination", "type", "status", "tries", "code", "response / error", "webhook-id")
    for r in rows:
        table.add_row(str(r.id), escape(r.destination), r.event_type, r.status, str(r.attempts),
                      str(r.last_status_code or "-"), escape((r.last_response_excerpt or r.last_error or "")[:60]),
                      r.webhook_id)
    console.print(table)


@destinations.command("replay")
@INTEGRATION
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--destination", "dest_ref", help="Every dead delivery of this destination.")
@click.option("--all-dead", is_flag=True, help="Every dead delivery of the integration.")
def replay(ref: str, delivery_ids: tuple[int, ...], dest_ref: str | None, all_dead: bool) -> None:
    """Send dead deliveries again (same webhook-id and body), one by one or in bulk."""
    from kapta_vendus.destinations.log import replay_dead
    from kapta_vendus.tasks.dispatch import enqueue_delivery

    if not (delivery_ids or dest_ref or all_dead):
        raise click.UsageError("give delivery ids, --destination or --all-dead")
    db = database()
    with db.unit_of_work() as session:
        integration_id = _integration_id(session, ref)
        dest_id = _destination(session, integration_id, dest_ref).id if dest_ref else None
    replayed = replay_dead(db, integration_id, delivery_ids=list(delivery_ids) or None, destination_id=dest_id,
                           enqueue=enqueue_delivery)
    console.print(f"{len(replayed)} dead deliver{'y' if len(replayed) == 1 else 'ies'} queued again")

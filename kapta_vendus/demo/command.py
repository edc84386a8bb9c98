"""The ``demo`` click command: drive the scenario and print the outcome."""

from __future__ import annotations

import secrets
import time
from contextlib import ExitStack

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from kapta_vendus.config import ConfigError, get_settings
from kapta_vendus.db.models import Document, Event, Issuance, Link
from kapta_vendus.db.session import database_for
from kapta_vendus.demo import scenario
from kapta_vendus.demo.runner import (
    DemoError,
    Processes,
    clean_up,
    create_demo_integration,
    demo_settings,
    start_stack,
)
from kapta_vendus.receiver.sender import send_event

# Wide enough for the table even when the output is piped (rich assumes 80 columns then).
console = Console(width=None if Console().is_terminal else 120)
FINISHED = ("done", "rejected", "dead")


def wait_finished(settings, event_ids: list[int], processes: Processes, timeout: float = 120.0) -> None:
    db = database_for(settings.database_url)
    deadline = time.monotonic() + timeout
    with console.status("processing events…") as status:
        while time.monotonic() < deadline:
            processes.check_alive()
            with db.unit_of_work() as session:
                states = list(session.scalars(select(Event.status).where(Event.id.in_(event_ids))))
            finished = sum(s in FINISHED for s in states)
            status.update(f"processing events… {finished}/{len(event_ids)} finished")
            if finished == len(event_ids):
                return
            time.sleep(0.3)
    raise DemoError(f"events not finished after {timeout:.0f}s; see the logs in {settings.data_dir}/logs")


def send_wave(web_url: str, integration_id: str, secret: str, wave) -> list[tuple[str, int]]:
    sent = []
    for label, envelope in wave:
        reply = send_event(web_url, integration_id, secret, envelope)
        if reply.status_code not in (200, 202):
            raise DemoError(f"{label}: receiver answered {reply.status_code} {reply.text}")
        sent.append((label, reply.json()["event_id"]))
    return sent


def outcome_table(settings, integration_id: str, sent: list[tuple[str, int]]) -> Table:
    table = Table(title="What was issued in Vendus (simulator)")
    for column in ("event", "status", "issued", "gross €", "documents of the sale"):
        table.add_column(column, overflow="fold")
    with database_for(settings.database_url).unit_of_work() as session:
        for label, event_id in sent:
            event = session.get(Event, event_id)
            issued = session.scalars(
                select(Document).join(Issuance, (Issuance.vendus_id == Document.vendus_id)
                                      & (Issuance.integration_id == Document.integration_id))
                .where(Issuance.event_id == event_id).order_by(Document.id)).all()
            sale = (event.business_key or "").partition(":")[2]
            local_ids = [int(k) for k in session.scalars(select(Link.to_key).where(
                Link.integration_id == integration_id, Link.from_kind == "sale", Link.from_key == sale,
                Link.to_kind == "document"))]
            linked = session.scalars(select(Document.number).where(Document.id.in_(local_ids))
                                     .order_by(Document.id)).all()
            rows = issued or [None]
            for i, doc in enumerate(rows):
                first = i == 0
                table.add_row(f"{label} ({event.type})" if first else "", event.status if first else "",
                              doc.number if doc else (event.last_error or "-")[:60],
                              str(doc.amount_gross) if doc else "", ", ".join(linked) if first else "")
    return table


@click.command()
@click.option("--keep", is_flag=True, help="Keep the temporary data dir (logs, SQLite files) for a look.")
def demo(keep: bool) -> None:
    """Run the whole product end to end against the simulator and print what was issued."""
    try:
        base = get_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    run = secrets.token_hex(3)
    started = time.monotonic()
    integration_id = None
    with demo_settings(base, keep) as settings, ExitStack() as stack:
        if not settings.embedded:
            # Registered first, so it runs last: after the worker and beat have stopped.
            stack.callback(lambda: console.print("clean-up: " + "; ".join(clean_up(settings, integration_id))))
        try:
            where = "embedded default" if settings.embedded else "configured servers"
            console.print(f"[bold]kapta-vendus demo[/] ({where})")
            sim_url, web_url, processes = start_stack(stack, settings)
            console.print(f"simulator {sim_url}  receiver {web_url}  worker + beat running")
            integration_id, secret, stores = create_demo_integration(settings, sim_url)
            console.print(f"integration {integration_id} for stores {stores}")
            first = send_wave(web_url, integration_id, secret, scenario.first_wave(run, stores[0], stores[-1]))
            wait_finished(settings, [e for _, e in first], processes)
            second = send_wave(web_url, integration_id, secret, scenario.second_wave(run, stores[0]))
            wait_finished(settings, [e for _, e in second], processes)
            console.print(outcome_table(settings, integration_id, first + second))
        except DemoError as exc:
            raise click.ClickException(str(exc)) from None
        console.print(f"done in {time.monotonic() - started:.1f}s"
                      + (f"; data kept in {settings.data_dir}" if keep and settings.embedded else ""))

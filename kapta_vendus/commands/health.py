"""`kapta-vendus integrations health [NAME]`: the console's overview as a table or JSON."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.table import Table

from kapta_vendus.admin.overview import IntegrationHealth, age_text, overview
from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.commands.integrations import integrations
from kapta_vendus.integrations.service import IntegrationNotFound, find_integration

STATE_STYLE = {"ok": "green", "degraded": "yellow", "down": "red"}


def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"


def _polls(health: IntegrationHealth) -> str:
    return ", ".join(f"{p.store_id}: {age_text(p.lag_seconds) + ' ago' if p.lag_seconds is not None else 'never'}"
                     for p in health.polls)


@integrations.command("health")
@click.argument("integration", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def health(integration: str | None, as_json: bool) -> None:
    """Health of every integration (or of one, by name or id); exit 1 when one has problems."""
    settings = load_settings()
    with database(settings).unit_of_work() as session:
        ids = None
        if integration:
            try:
                ids = [find_integration(session, integration).id]
            except IntegrationNotFound:
                raise click.ClickException(f"no integration {integration!r}") from None
        rows = overview(session, settings, integration_ids=ids, include_deleted=bool(integration))
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
    else:
        table = Table("integration", "status", "last hour", "last day", "oldest unfinished", "dead", "vendus",
                      "last poll", "drift", "deadline", "problems", title="integrations health")
        for r in rows:
            style = "red" if r.problems else "green"
            table.add_row(f"[{style}]{escape(r.name)}[/]", r.status, _counts(r.last_hour), _counts(r.last_day),
                          age_text(r.oldest_unfinished_seconds) if r.oldest_unfinished_seconds is not None else "-",
                          str(r.dead), f"[{STATE_STYLE[r.vendus_state]}]{r.vendus_state}[/]", _polls(r),
                          str(r.drift_open), str(r.deadline_sales), escape("; ".join(r.problems)) or "ok")
        console.print(table)
    if any(r.problems for r in rows):
        sys.exit(1)

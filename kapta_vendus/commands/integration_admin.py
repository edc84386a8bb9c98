"""`kapta-vendus integrations apply|rotate-secret|disable|enable|delete`."""

from __future__ import annotations

import click
from rich.markup import escape

from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.commands.integrations import integrations
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.apply import ApplyResult, apply_specs
from kapta_vendus.integrations.lifecycle import (
    RETENTION_YEARS,
    LifecycleError,
    delete_integration,
    describe,
    purge_history,
    set_enabled,
)
from kapta_vendus.integrations.preflight import VendusCheckFailed, prepare_specs
from kapta_vendus.integrations.service import IntegrationNotFound, find_integration, rotate_secret
from kapta_vendus.integrations.spec import load_specs, parse_duration

STYLE = {"added": "green", "removed": "red", "changed": "yellow"}
RETENTION_NOTE = (f"Portuguese law requires invoices and their records to be kept for {RETENTION_YEARS} years "
                  "(CIVA art. 52; DL 28/2019 art. 19)")


def _find(session, ref: str):
    try:
        return find_integration(session, ref)
    except IntegrationNotFound:
        raise click.ClickException(f"no integration {ref!r}") from None


def _render(result: ApplyResult, dry_run: bool) -> None:
    for plan in result.plans:
        if plan.action == "unchanged":
            console.print(f"[dim]  {escape(plan.name)}: no change[/]")
            continue
        console.print(f"[bold]{escape(plan.name)}[/] ({'will be ' if dry_run else ''}"
                      f"{'created' if plan.action == 'create' else 'changed'})")
        for change in plan.changes:
            console.print(f"    [{STYLE[change.kind]}]{escape(change.describe())}[/]")
    counts = {a: sum(p.action == a for p in result.plans) for a in ("create", "update", "unchanged")}
    verb = "Plan" if dry_run else "Applied"
    console.print(f"{verb}: {counts['create']} to create, {counts['update']} to change, "
                  f"{counts['unchanged']} unchanged." if dry_run else
                  f"{verb}: {counts['create']} created, {counts['update']} changed, {counts['unchanged']} unchanged.")
    for plan in result.plans:
        if plan.action == "create" and plan.integration_id:
            console.print(f"integration [bold]{escape(plan.name)}[/]: id [bold]{plan.integration_id}[/]  "
                          f"endpoint POST /v1/integrations/{plan.integration_id}/events")
    for name, secret in result.new_secrets.items():
        console.print(f"webhook secret of [bold]{escape(name)}[/]: [bold]{secret}[/]  "
                      "(shown once: store it in the sender now)")


@integrations.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--offline", is_flag=True, help="Do not ask Vendus: skip the API key check and the mapping proposal.")
def apply(file: str, dry_run: bool, offline: bool) -> None:
    """Create or update the integrations declared in FILE (YAML). Applying twice changes nothing.

    Each integration's API key is checked against Vendus first (unless --offline), and one that
    declares no mapping gets the one its Vendus account proposes, as `integrations create` does.
    """
    settings = load_settings()
    try:
        specs = prepare_specs(settings, load_specs(file, settings), offline=offline)
        with database(settings).unit_of_work() as session:
            result = apply_specs(session, settings, specs, dry_run=dry_run)
    except Rejection as exc:
        console.print(f"[red]{escape(file)} is not valid; nothing was applied:[/]")
        for reason in exc.reasons:
            console.print(f"  [red]•[/] {escape(reason)}")
        raise SystemExit(1) from None
    except VendusCheckFailed as exc:
        raise click.ClickException(f"nothing was applied: {exc}") from None
    _render(result, dry_run)


@integrations.command("rotate-secret")
@click.argument("integration")
@click.option("--overlap", default="24h", show_default=True,
              help="How long the current secret(s) keep verifying (30m, 24h, 7d), so senders can switch.")
def rotate(integration: str, overlap: str) -> None:
    """Add a new webhook signing secret and print it once; the old ones expire after the overlap."""
    try:
        window = parse_duration(overlap)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--overlap") from None
    settings = load_settings()
    with database(settings).unit_of_work() as session:
        row = _find(session, integration)
        if row.status == "deleted":
            raise click.ClickException(f"integration {row.name!r} is deleted")
        secret = rotate_secret(session, settings, row, window)
        name = row.name
    console.print(f"new webhook secret of [bold]{escape(name)}[/]: [bold]{secret}[/]  (shown once)")
    console.print(f"the previous secret(s) keep verifying for {overlap}; switch the sender within that time")


def _set_enabled(integration: str, enabled: bool) -> None:
    with database().unit_of_work() as session:
        row = _find(session, integration)
        try:
            changed = set_enabled(row, enabled)
        except LifecycleError as exc:
            raise click.ClickException(str(exc)) from None
        name, status = row.name, row.status
    console.print(f"{escape(name)}: {status}" + ("" if changed else " (unchanged)"))


@integrations.command("disable")
@click.argument("integration")
def disable(integration: str) -> None:
    """Stop accepting events for an integration (the receiver answers 404); keep everything."""
    _set_enabled(integration, False)


@integrations.command("enable")
@click.argument("integration")
def enable(integration: str) -> None:
    """Accept events for a disabled integration again."""
    _set_enabled(integration, True)


def _confirm(question: str) -> None:
    """Ask; with no answer (a script with nothing on standard input) nothing is deleted."""
    if not click.confirm(question, default=False):
        raise click.ClickException("not deleted (answer y, or add --yes)")


@integrations.command("delete")
@click.argument("integration")
@click.option("--purge-history", "purge", is_flag=True,
              help="Also erase its events, step runs, documents and links (refused without the next flag).")
@click.option("--i-understand-10-year-retention", "acknowledged", is_flag=True,
              help=f"Acknowledge that {RETENTION_NOTE}, and that the history is archived elsewhere.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete(integration: str, purge: bool, acknowledged: bool, yes: bool) -> None:
    """Delete an integration. Its fiscal history is kept unless purged explicitly."""
    if acknowledged and not purge:
        raise click.UsageError("--i-understand-10-year-retention only goes with --purge-history")
    if purge and not acknowledged:
        raise click.ClickException(f"refusing to purge: {RETENTION_NOTE}. Keep the history (delete without "
                                   "--purge-history), or archive it and add --i-understand-10-year-retention")
    with database().unit_of_work() as session:
        row = _find(session, integration)
        name = row.name
        if not purge and not yes:
            _confirm(f"Delete integration {name!r}? It stops receiving and polling; its history is kept")
        if purge:
            if not yes:
                _confirm(f"Erase every record of {name!r} kept here? This cannot be undone")
            counts = purge_history(session, row, acknowledge_retention=True)
            console.print(f"{escape(name)}: deleted and purged ({', '.join(f'{v} {k}' for k, v in counts.items())})")
            return
        changed = delete_integration(session, row)
        counts = describe(session, row)["counts"]
    console.print(f"{escape(name)}: deleted{'' if changed else ' (already)'}; its secrets no longer verify and its "
                  f"tokens are revoked. Kept: {counts['events']} events, {counts['documents']} documents "
                  f"({RETENTION_NOTE}).")

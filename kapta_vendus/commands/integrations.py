"""`kapta-vendus integrations create|list|show` (apply and the lifecycle commands: integration_admin.py)."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.db.models import Integration
from kapta_vendus.events.errors import Rejection
from kapta_vendus.integrations.config import load_config_file, validate_config
from kapta_vendus.integrations.lifecycle import describe
from kapta_vendus.integrations.service import IntegrationNotFound, create_integration, find_integration


def _checked_mapping(settings, url: str, key: str, stores: list[int], mode: str, discover: bool) -> dict | None:
    """Ask Vendus before anything is stored: a wrong key or store is refused in one line."""
    from kapta_vendus.integrations.preflight import VendusCheckFailed, check_account

    try:
        mapping = check_account(settings, url, key, stores, mode, discover=discover)
    except VendusCheckFailed as exc:
        raise click.ClickException(str(exc)) from None
    if mapping is not None:
        console.print(f"mapping proposed from the Vendus account: {len(mapping['payment_methods'])} payment "
                      f"method(s), registers {[s.get('register_id') for s in mapping['stores'].values()]}")
    return mapping


@click.group()
def integrations() -> None:
    """Integrations: one per Vendus account and set of stores."""


@integrations.command("create")
@click.option("--name", required=True)
@click.option("--vendus-url", help="Vendus API base URL (default: KAPTA_VENDUS_BASE_URL).")
@click.option("--vendus-api-key", required=True, envvar="KAPTA_NEW_VENDUS_API_KEY",
              help="The account's API key (or set KAPTA_NEW_VENDUS_API_KEY); stored encrypted.")
@click.option("--store", "stores", type=int, multiple=True, required=True, help="Vendus store id (repeatable).")
@click.option("--mode", type=click.Choice(["normal", "tests"]), default="normal", show_default=True)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML with mapping, rules, notifications and event selection.")
@click.option("--discover/--no-discover", default=True, show_default=True,
              help="Without a mapping in --config, propose one from the Vendus account (payment methods, registers).")
@click.option("--offline", is_flag=True, help="Do not ask Vendus: skip the API key check and the mapping proposal.")
def create(name: str, vendus_url: str | None, vendus_api_key: str, stores: tuple[int, ...], mode: str,
           config_file: str | None, discover: bool, offline: bool) -> None:
    """Create an integration and print its id and webhook signing secret (shown once)."""
    settings = load_settings()
    vendus_url = vendus_url or settings.vendus_base_url
    try:
        config = load_config_file(config_file) if config_file else {}
    except Rejection as exc:
        raise click.ClickException(str(exc)) from None
    if not offline:
        mapping = _checked_mapping(settings, vendus_url, vendus_api_key, list(stores), mode,
                                   discover and "mapping" not in config)
        if mapping is not None:
            config["mapping"] = mapping
    elif "mapping" not in config:
        config["mapping"] = {"mode": mode}
    try:
        validate_config(config)
        with database(settings).unit_of_work() as session:
            integration, secret = create_integration(
                session, settings, name=name, vendus_url=vendus_url, api_key=vendus_api_key,
                stores=list(stores), mode=mode, config=config)
            integration_id = integration.id
    except (ValueError, Rejection) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"integration id:  [bold]{integration_id}[/]")
    console.print(f"webhook secret:  [bold]{secret}[/]  (shown once: store it in the sender now)")
    console.print(f"endpoint:        POST /v1/integrations/{integration_id}/events")


@integrations.command("list")
def list_() -> None:
    """List integrations (never prints secrets)."""
    with database().unit_of_work() as session:
        rows = session.scalars(select(Integration).order_by(Integration.name)).all()
        table = Table("id", "name", "status", "mode", "stores", "vendus url")
        for row in rows:
            table.add_row(row.id, row.name, row.status, row.mode, ", ".join(map(str, row.store_ids)),
                          row.vendus_base_url)
    console.print(table)


@integrations.command("show")
@click.argument("integration")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def show(integration: str, as_json: bool) -> None:
    """Show an integration (by id or name): configuration, limits, secret states. Never a secret."""
    with database().unit_of_work() as session:
        try:
            row = find_integration(session, integration)
        except IntegrationNotFound:
            raise click.ClickException(f"no integration {integration!r}") from None
        detail = describe(session, row)
    if as_json:
        click.echo(json.dumps(detail, indent=2, default=str))
        return
    console.print(f"[bold]{escape(detail['name'])}[/] {detail['id']}  status [bold]{detail['status']}[/]  "
                  f"mode {detail['mode']}")
    console.print(f"vendus: {escape(detail['vendus_base_url'])}  api key: {detail['api_key']}")
    console.print(f"stores: {', '.join(map(str, detail['stores']))}  limits: {detail['limits']}")
    console.print(f"events: {detail['counts']['events']}  documents: {detail['counts']['documents']}")
    secrets = Table("webhook secret", "state", "created", "expires", title="webhook secrets (values never shown)")
    for s in detail["webhook_secrets"]:
        secrets.add_row(f"#{s['id']}", s["state"], str(s["created_at"])[:19], str(s["expires_at"] or "")[:19])
    console.print(secrets)
    console.print_json(json.dumps(detail["config"], default=str))

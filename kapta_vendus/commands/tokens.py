"""`kapta-vendus tokens create|list|revoke`: bearer tokens of the admin API."""

from __future__ import annotations

import click
from rich.markup import escape
from rich.table import Table

from kapta_vendus.commands.common import console, database
from kapta_vendus.integrations.tokens import SCOPES, TokenError, create_token, list_tokens, revoke_token


@click.group()
def tokens() -> None:
    """Admin API tokens: read (GET), operate (read + replay), admin (everything, every integration)."""


@tokens.command("create")
@click.option("--name", required=True, help="Who or what uses it (shown in lists).")
@click.option("--scope", "scopes", type=click.Choice(SCOPES), multiple=True, required=True,
              help="read, operate or admin (repeatable).")
@click.option("--integration", "integration", help="Integration id or name a read/operate token is bound to.")
def create(name: str, scopes: tuple[str, ...], integration: str | None) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    try:
        with database().unit_of_work() as session:
            row, token = create_token(session, name=name, scopes=list(scopes), integration_id=integration)
            token_id, bound = row.id, row.integration_id
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"token #{token_id} ({escape(name)}, {', '.join(scopes)}, "
                  f"{'integration ' + bound if bound else 'every integration'}):")
    click.echo(token)
    console.print("shown once: it cannot be recovered, only revoked and replaced")


@tokens.command("list")
def list_() -> None:
    """List tokens (never the tokens themselves)."""
    with database().unit_of_work() as session:
        table = Table("id", "name", "scopes", "integration", "created", "last used", "revoked")
        for row in list_tokens(session):
            table.add_row(str(row.id), escape(row.name), ", ".join(row.scopes or []), row.integration_id or "(all)",
                          str(row.created_at)[:19], str(row.last_used_at or "")[:19], str(row.revoked_at or "")[:19])
    console.print(table)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token at once."""
    try:
        with database().unit_of_work() as session:
            changed = revoke_token(session, token_id)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"token #{token_id} revoked" + ("" if changed else " (already)"))

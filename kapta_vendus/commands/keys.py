"""`kapta-vendus keys rotate|encrypt`: the encryption keys of stored API keys and webhook secrets."""

from __future__ import annotations

import sys

import click

from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.integrations.crypto import encrypt
from kapta_vendus.integrations.keyring import rotate_all


@click.group()
def keys() -> None:
    """Encryption at rest (KAPTA_SECRET_KEYS: the first key encrypts, every key decrypts)."""


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored API key and webhook secret under the first (primary) key.

    Order: put the new key first in KAPTA_SECRET_KEYS with the old one after it, restart every
    process, run this, then remove the old key and restart again.
    """
    settings = load_settings()
    report = rotate_all(database(settings), settings)
    console.print(f"re-encrypted under the primary key: {report.api_keys} API key(s), "
                  f"{report.webhook_secrets} webhook secret(s)")
    if report.unreadable:
        console.print("[red]not readable with any configured key (left as they are):[/] "
                      + ", ".join(report.unreadable))
        sys.exit(1)


@keys.command("encrypt")
@click.option("--value", prompt="Secret to encrypt", hide_input=True,
              help="The secret (prompted without echo when omitted; or pipe it on standard input).")
def encrypt_value(value: str) -> None:
    """Print a value encrypted under the primary key, for `api_key_encrypted` in an integrations file."""
    click.echo(encrypt(load_settings(), value.strip()))

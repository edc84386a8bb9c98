"""What the command modules share: settings, the database and a console."""

from __future__ import annotations

import click
from rich.console import Console

from kapta_vendus.config import ConfigError, Settings, get_settings
from kapta_vendus.db.session import Database, database_for

console = Console()


def load_settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def database(settings: Settings | None = None) -> Database:
    return database_for((settings or load_settings()).database_url)

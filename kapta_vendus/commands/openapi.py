"""`kapta-vendus openapi`: print or write the OpenAPI document (committed as docs/openapi.json)."""

from __future__ import annotations

from pathlib import Path

import click

from kapta_vendus.commands.common import load_settings


@click.command()
@click.option("--output", type=click.Path(dir_okay=False), help="Write to this file instead of printing.")
def openapi(output: str | None) -> None:
    """The OpenAPI document of the admin API and the receiver."""
    from kapta_vendus.admin import spec_json
    from kapta_vendus.web import create_app

    text = spec_json(create_app(load_settings()))
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)

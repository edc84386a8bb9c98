"""`kapta-vendus …`: the operator's command line. Each capability adds its own commands here."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from kapta_vendus import __version__
from kapta_vendus.commands.common import console, load_settings
from kapta_vendus.config import VARIABLES, get_settings


class OperatorGroup(click.Group):
    """Turns the errors an operator can meet in any command into one clear line and exit code 1.

    A Vendus error (a wrong key, Vendus down) or an unreadable stored secret is something to fix,
    not a bug: no traceback, and nothing secret in the line (the client's messages never hold the key).
    """

    def invoke(self, ctx: click.Context):
        from kapta_vendus.integrations.crypto import SecretUnreadable
        from kapta_vendus.vendus import VendusAuthError, VendusError

        try:
            return super().invoke(ctx)
        except VendusAuthError as exc:
            raise click.ClickException(f"Vendus refused the integration's API key ({exc}); "
                                       "set the right key with `integrations apply`") from None
        except VendusError as exc:
            raise click.ClickException(f"Vendus: {exc}") from None
        except SecretUnreadable as exc:
            raise click.ClickException(f"{exc}: check KAPTA_SECRET_KEYS") from None


@click.group(cls=OperatorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kapta-vendus")
def main() -> None:
    """Turn POS and operational events into Portuguese fiscal documents in Vendus, exactly once."""


@main.group()
def db() -> None:
    """The state database schema (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from kapta_vendus.db import migrate
    from kapta_vendus.tasks.embedded_broker import declare_queues

    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    declare_queues(settings.broker_url)  # the embedded broker's tables, before the processes race for them
    console.print(f"database at revision [bold]{migrate.current_revision(settings.database_url)}[/]")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (use 'base' for an empty schema)."""
    from kapta_vendus.db import migrate

    settings = load_settings()
    migrate.downgrade(settings.database_url, revision)
    console.print(f"database at revision [bold]{migrate.current_revision(settings.database_url)}[/]")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    from kapta_vendus.db import migrate

    console.print(migrate.current_revision(load_settings().database_url) or "(empty)")


@main.command()
def doctor() -> None:
    """Check the configuration, the database and the broker, and print what is wrong."""
    from kapta_vendus.doctor import run_checks

    checks = run_checks(get_settings)
    table = Table(title="kapta-vendus doctor")
    table.add_column("check")
    table.add_column("status")
    table.add_column("detail")
    for check in checks:
        status = "[green]ok[/]" if check.ok and not check.warning else (
            "[yellow]ok (warning)[/]" if check.ok else "[red]FAIL[/]")
        table.add_row(check.name, status, check.detail)
    console.print(table)
    if not all(c.ok for c in checks):
        console.print("[red]unhealthy[/]: fix the failed checks above")
        sys.exit(1)
    console.print("[green]healthy[/]")


@main.command("config")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "env"]), default="table")
def config_cmd(fmt: str) -> None:
    """Print every configuration variable with its default and purpose."""
    if fmt == "markdown":
        click.echo("| Variable | Default | Purpose |\n|---|---|---|")
        for v in VARIABLES:
            default = f"`{v.default}`" if v.default else "(empty)"
            click.echo(f"| `{v.env}` | {default} | {v.doc} |")
    elif fmt == "env":
        for v in VARIABLES:
            click.echo(f"# {v.doc}\n{v.env}={v.default}\n")
    else:
        table = Table("variable", "default", "purpose")
        for v in VARIABLES:
            table.add_row(v.env, v.default, v.doc)
        console.print(table)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--fast-lane-only", is_flag=True,
              help="Consume the fast lane of the -Q queues only (the express worker); by default a worker "
                   "consumes each queue's slow lane too.")
@click.pass_context
def worker(ctx: click.Context, fast_lane_only: bool) -> None:
    """A Celery worker (every queue unless -Q says otherwise); extra arguments go to Celery.

    Each queue named with -Q comes with its slow lane (fair scheduling), unless --fast-lane-only.
    Exits with Celery's exit code: non-zero when the worker stopped on an error, so that a
    process manager restarts it.
    """
    from kapta_vendus.metrics import default_multiproc_dir, use_multiproc_dir

    settings = load_settings()
    # Before anything imports prometheus-client: the prefork children write their samples there,
    # and the web process of this host reads them for /metrics (kapta_vendus/metrics.py).
    use_multiproc_dir(default_multiproc_dir(settings.data_dir))
    import celeryconfig
    from kapta_vendus.tasks import process
    from kapta_vendus.tasks.app import app
    from kapta_vendus.tasks.lanes import worker_queues

    asked, rest = _split_queues(ctx.args)
    if fast_lane_only and not asked:
        raise click.UsageError("--fast-lane-only needs -Q with the queues whose fast lane to consume")
    queues = worker_queues(asked, fast_lane_only=fast_lane_only) if asked else list(celeryconfig.QUEUES)
    argv = ["worker", "-Q", ",".join(queues), "--loglevel", settings.log_level, *rest]
    ctx.exit(process.celery_main(app, argv))


def _split_queues(args: list[str]) -> tuple[list[str], list[str]]:
    """The queues named by -Q/--queues (in any of Celery's spellings) and the other arguments."""
    queues: list[str] = []
    rest: list[str] = []
    values = iter(args)
    for arg in values:
        if arg in ("-Q", "--queues"):
            value = next(values, "")
        elif arg.startswith("--queues="):
            value = arg.partition("=")[2]
        elif arg.startswith("-Q"):
            value = arg[2:]
        else:
            rest.append(arg)
            continue
        queues += [name for name in value.split(",") if name]
    return queues, rest


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def beat(ctx: click.Context) -> None:
    """Celery beat (RedBeat on Redis): the inbox sweeper, resumes and store polls. Outlives Redis restarts."""
    from kapta_vendus.tasks import process
    from kapta_vendus.tasks.app import app

    settings = load_settings()
    ctx.exit(process.run_beat(app, ["beat", "--loglevel", settings.log_level, *ctx.args]))


def _register_commands() -> None:
    # Capabilities own their commands; the root group only collects them.
    # These add subcommands to their groups (integrations apply/health/…, events replay).
    from kapta_vendus.commands import health, integration_admin, replay  # noqa: F401
    from kapta_vendus.commands.destinations import destinations
    from kapta_vendus.commands.events import events
    from kapta_vendus.commands.imports import import_group
    from kapta_vendus.commands.integrations import integrations
    from kapta_vendus.commands.keys import keys
    from kapta_vendus.commands.metrics import metrics_server
    from kapta_vendus.commands.openapi import openapi
    from kapta_vendus.commands.reconcile import reconcile
    from kapta_vendus.commands.rules import rules
    from kapta_vendus.commands.serve import serve
    from kapta_vendus.commands.tokens import tokens
    from kapta_vendus.demo.command import demo
    from kapta_vendus.simulator.cli import simulator

    for command in (demo, destinations, events, import_group, integrations, keys, metrics_server, openapi, reconcile,
                    rules, serve, simulator, tokens):
        main.add_command(command)


_register_commands()

"""`kapta-vendus import history|customers|products`.

``import history`` is the historical import from Vendus (reconcile); ``import`` with its options
and no subcommand still means ``import history``, as before. ``import customers|products FILE``
sends master data into Vendus through the same path as ``customer.upserted``/``product.upserted``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.commands.reconcile import import_ as history
from kapta_vendus.integrations.service import IntegrationNotFound, find_integration


class ImportGroup(click.Group):
    """Subcommands, and the old form: ``import --integration N --since …`` runs ``history``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["history", *args]
        return super().parse_args(ctx, args)


@click.group("import", cls=ImportGroup)
def import_group() -> None:
    """Import history from Vendus (``history``), or customers/products from a file into Vendus."""


import_group.add_command(history, "history")


def _run_event(db, settings):
    from kapta_vendus.integrations.breaker import breaker_for
    from kapta_vendus.pipeline import runner, steps

    def run(event_id: int) -> str:
        for stage in runner.STAGES:  # prepare, bill, sync: the chain, in order, as its tasks run it
            try:
                outcome = runner.run_stage(db, settings, stage, steps.STEPS, event_id,
                                           guard=breaker_for(settings).guard)
            except Exception as exc:  # noqa: BLE001 - reported on the row; the sweeper retries the event
                return f"will be retried ({type(exc).__name__})"
            if outcome.stop:
                return outcome.summary
        return "done"

    return run


def _file_command(kind: str):
    @click.command(kind, help=f"Send {kind} from a CSV or JSON file into Vendus, as {kind[:-1]}.upserted events "
                              "(resumable; bad rows reported by line number).")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--integration", "ref", required=True, help="Integration id or name.")
    @click.option("--store", type=int, help="Store the events are recorded for (default: the first).")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable report (no progress bar).")
    def command(path: Path, ref: str, store: int | None, as_json: bool) -> None:
        from kapta_vendus.masterdata.importer import ImportFileError, import_file, read_rows

        settings = load_settings()
        db = database(settings)
        with db.unit_of_work() as session:
            try:
                integration = find_integration(session, ref)
            except IntegrationNotFound:
                raise click.ClickException(f"no integration {ref!r}") from None
            integration_id, stores = integration.id, integration.store_ids
        store_id = store or stores[0]
        try:
            total = sum(1 for _ in read_rows(path))
            with Progress(TextColumn(f"{kind}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console, disable=as_json) as progress:
                task = progress.add_task(kind, total=total)
                report = import_file(db, settings, integration_id, store_id, kind, path, _run_event(db, settings),
                                     progress=lambda n: progress.advance(task, n))
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            click.echo(json.dumps(report.as_dict(), indent=2))
        else:
            console.print(f"{report.total} row(s): {report.applied} applied, {report.skipped} already done "
                          f"(resumed), {len(report.failed)} failed")
            for line, reason in report.failed:
                console.print(f"  line {line}: {escape(reason)}")
        if report.failed:
            raise SystemExit(1)

    return command


import_group.add_command(_file_command("customers"))
import_group.add_command(_file_command("products"))

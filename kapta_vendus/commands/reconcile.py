"""`kapta-vendus reconcile` (one poll now, the beat job's code) and `kapta-vendus import` (history)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from kapta_vendus.commands.common import console, database, load_settings
from kapta_vendus.integrations.service import IntegrationNotFound
from kapta_vendus.reconcile.tenant import Tenant, load_tenant

RESOURCES = ("documents", "clients", "products")


def _tenant(db, ref: str) -> Tenant:
    try:
        with db.unit_of_work() as session:
            return load_tenant(session, ref)
    except IntegrationNotFound:
        raise click.ClickException(f"no integration {ref!r} (give its id or name)") from None


def _stores(tenant: Tenant, wanted: tuple[int, ...]) -> list[int]:
    unknown = [s for s in wanted if s not in tenant.store_ids]
    if unknown:
        raise click.ClickException(f"store(s) {unknown} are not stores of {tenant.name}: {list(tenant.store_ids)}")
    return list(wanted) or list(tenant.store_ids)


def _enqueue_event(event_id: int) -> None:
    from kapta_vendus.tasks.dispatch import enqueue_event

    enqueue_event(event_id)


@click.command("reconcile")
@click.option("--integration", "ref", required=True, help="Integration id or name.")
@click.option("--store", "stores", type=int, multiple=True, help="Only this store (repeatable).")
@click.option("--drift/--no-drift", default=True, show_default=True, help="Also check drift and deadlines.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def reconcile(ref: str, stores: tuple[int, ...], drift: bool, as_json: bool) -> None:
    """Poll the integration's stores now (what beat does), then check drift and legal deadlines."""
    from kapta_vendus.reconcile.deadline import watch_deadlines
    from kapta_vendus.reconcile.drift import detect_drift
    from kapta_vendus.reconcile.poller import poll_store

    settings = load_settings()
    db = database(settings)
    tenant = _tenant(db, ref)
    summary: dict[str, Any] = {"integration": tenant.id, "polls": [], "drift": None, "deadlines": None}
    for store_id in _stores(tenant, stores):
        result = poll_store(db, settings, tenant.id, store_id, enqueue=_enqueue_event)
        summary["polls"].append(result.as_dict())
    if drift:
        found = detect_drift(db, settings, tenant.id, store_id=stores[0] if len(stores) == 1 else None)
        summary["drift"] = {"found": found.found, "counts": found.counts,
                            "findings": [f.as_dict() for f in found.findings]}
        summary["deadlines"] = watch_deadlines(db, tenant.id, default_language=settings.language).as_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    table = Table("store", "listed", "new", "changed", "events emitted", "already known", "requests", "note")
    for poll in summary["polls"]:
        c = poll["counts"]
        table.add_row(str(poll["store_id"]), str(c.get("listed", 0)), str(c.get("new", 0)), str(c.get("changed", 0)),
                      str(c.get("events", 0)), str(c.get("duplicates", 0)),
                      str(c.get("pages", 0) + c.get("details", 0) + c.get("lookups", 0)),
                      "skipped: a poll of this store is running" if poll["skipped"] else "")
    console.print(table)
    if summary["drift"] is not None:
        counts = summary["drift"]["counts"]
        console.print(f"drift found: [bold]{summary['drift']['found']}[/] "
                      f"(no document {counts.get('no_document', 0)}, missing in Vendus {counts.get('missing', 0)}, "
                      f"status {counts.get('status', 0)}, receipts {counts.get('receipt_mismatch', 0)}); "
                      f"{counts.get('alerted', 0)} newly notified")
        for finding in summary["drift"]["findings"][:20]:
            console.print(f"  - {finding}")
        d = summary["deadlines"]
        console.print(f"legal deadlines: {d['watched']} sale(s) without a document, {d['approaching']} approaching, "
                      f"{d['overdue']} overdue, {d['alerted']} newly notified")


class _Rate(ProgressColumn):
    def render(self, task) -> Text:
        return Text(f"{task.speed or 0:,.0f} docs/s")


def _date(value: datetime | None) -> date | None:
    return value.date() if value else None


@click.command("import")
@click.option("--integration", "ref", required=True, help="Integration id or name.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First document date (inclusive).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Last document date (inclusive; default: open).")
@click.option("--store", "stores", type=int, multiple=True, help="Only this store (repeatable).")
@click.option("--resources", default="documents", show_default=True,
              help="Comma list of documents, clients, products.")
@click.option("--replay-rules", is_flag=True, help="Afterwards, run the rules on the imported events.")
@click.option("--dry-run", is_flag=True, help="With --replay-rules: only say what the rules would do.")
@click.option("--restart", is_flag=True, help="Ignore the checkpoint of an earlier run of this window.")
@click.option("--celery", "use_celery", is_flag=True, help="Enqueue one job per date window instead.")
@click.option("--window-days", type=click.IntRange(1), default=31, show_default=True, help="With --celery.")
@click.option("--per-page", type=click.IntRange(1, 1000), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary (no progress bar).")
def import_(ref: str, since: datetime, until: datetime | None, stores: tuple[int, ...], resources: str,
            replay_rules: bool, dry_run: bool, restart: bool, use_celery: bool, window_days: int, per_page: int,
            as_json: bool) -> None:
    """Import an account's history into the mirror: no billing, resumable, in constant memory."""
    wanted = [r.strip() for r in resources.split(",") if r.strip()]
    if not wanted or any(r not in RESOURCES for r in wanted):
        raise click.BadParameter(f"give a comma list of {', '.join(RESOURCES)}", param_hint="--resources")
    if dry_run and not replay_rules:
        raise click.BadParameter("--dry-run goes with --replay-rules", param_hint="--dry-run")
    settings = load_settings()
    db = database(settings)
    tenant = _tenant(db, ref)
    store_ids = _stores(tenant, stores)
    first, last = since.date(), _date(until)
    if use_celery:
        _enqueue_windows(tenant, store_ids, first, last, window_days, restart)
        return
    summary: dict[str, Any] = {"integration": tenant.id, "documents": [], "catalog": [], "replay": None}
    if "documents" in wanted:
        summary["documents"] = [r.as_dict() for r in _import_stores(db, settings, tenant, store_ids, first, last,
                                                                    per_page, restart, progress=not as_json)]
    if {"clients", "products"} & set(wanted):
        from kapta_vendus.reconcile.catalog import scan_clients, scan_products
        from kapta_vendus.reconcile.tenant import vendus_client

        with db.unit_of_work() as session:
            client = vendus_client(session, settings, tenant.id)
        if "clients" in wanted:
            summary["catalog"].append(scan_clients(client).as_dict())
        if "products" in wanted:
            summary["catalog"].append(scan_products(client, tenant).as_dict())
    if replay_rules:
        from kapta_vendus.reconcile.replay import replay_imported

        summary["replay"] = replay_imported(db, tenant.id, dry_run=dry_run, since=first, until=last,
                                            enqueue=None if dry_run else _enqueue_event).as_dict()
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


def _import_stores(db, settings, tenant: Tenant, store_ids: list[int], first: date, last: date | None,
                   per_page: int, restart: bool, *, progress: bool) -> list:
    from kapta_vendus.reconcile.importer import import_documents

    reports = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _Rate(), TextColumn("ETA"),
               TimeRemainingColumn())
    with Progress(*columns, console=console, disable=not progress) as bar:
        for store_id in store_ids:
            task = bar.add_task(f"store {store_id}", total=None)

            def show(done: int, total: int | None, task=task) -> None:
                bar.update(task, completed=done, total=total)

            reports.append(import_documents(db, settings, tenant.id, store_id, since=first, until=last,
                                            per_page=per_page, restart=restart, progress=show))
    return reports


def _enqueue_windows(tenant: Tenant, store_ids: list[int], first: date, last: date | None, days: int,
                     restart: bool) -> None:
    from kapta_vendus.reconcile.importer import date_windows
    from kapta_vendus.tasks.app import app

    end = last or date.today()  # no document is dated after today
    count = 0
    for store_id in store_ids:
        for start, stop in date_windows(first, end, days):
            app.signature("kapta.reconcile.import_window",
                          args=(tenant.id, store_id, start.isoformat(), stop.isoformat(), restart)).apply_async()
            count += 1
    console.print(f"enqueued {count} import job(s) of up to {days} day(s) on the reconcile queue; "
                  "run the command again without --celery to see the totals")


def _print_summary(summary: dict[str, Any]) -> None:
    totals: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    for report in summary["documents"]:
        totals.update(report["by_type_status"])
        unmapped.update(report["unmapped"])
        state = "complete" if report["complete"] else "stopped early (run again to continue)"
        if report["complete"] and not report["pages"] and report["resumed_from_page"]:
            state = "already complete (--restart reads it again)"
        resumed = f", resumed after page {report['resumed_from_page']}" if report["resumed_from_page"] else ""
        console.print(f"store {report['store_id']}: {report['documents']} document(s) in {report['seconds']}s "
                      f"({report['documents_per_second']} docs/s), {report['events_created']} new event(s) "
                      f"recorded as imported{resumed}; {state}")
    if totals:
        table = Table("type", "status", "documents")
        for key, n in sorted(totals.items()):
            doc_type, _, status = key.partition(" ")
            table.add_row(doc_type, status, str(n))
        console.print(table)
    for catalog in summary["catalog"]:
        console.print(f"{catalog['resource']}: {catalog['seen']} seen; {catalog['counts']}")
        unmapped.update(catalog["unmapped"])
    for reason, n in sorted(unmapped.items()):
        console.print(f"[yellow]not mapped[/]: {reason}: {n}")
    if summary["replay"] is not None:
        replay = summary["replay"]
        verb = "would take" if replay["dry_run"] else "enqueued for"
        console.print(f"rules over {replay['events']} imported event(s): actions {verb}: {replay['actions']}; "
                      f"rules matched: {replay['rules']}; invalid: {replay['invalid'] or 'none'}")

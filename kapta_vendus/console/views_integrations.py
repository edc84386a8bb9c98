"""Console pages about integrations: the overview, one integration (with a rules dry run), the charts."""

from __future__ import annotations

import json

from flask import abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from kapta_vendus.admin.overview import overview as health_overview
from kapta_vendus.console import charts
from kapta_vendus.console.auth import bp, db, may_see, visible_ids
from kapta_vendus.console.present import age
from kapta_vendus.db.models import Integration, utcnow
from kapta_vendus.destinations.registry import describe_destination, list_destinations
from kapta_vendus.integrations.dryrun import dry_run
from kapta_vendus.integrations.lifecycle import describe

SAMPLE = {"id": "evt_console_try", "type": "sale.completed", "occurred_at": "2026-01-05T10:00:00+00:00",
          "store_id": 1, "data": {"sale_id": "TRY-1", "closed_at": "2026-01-05T10:00:00+00:00", "customer": None,
                                  "lines": [{"reference": "CAFE", "title": "Café", "qty": "1", "unit_price": "0.80",
                                             "tax": "RED"}],
                                  "payments": [{"method": "cash", "amount": "0.80", "status": "paid"}],
                                  "payment_status": "paid"}}


def settings():
    return current_app.config["KAPTA_SETTINGS"]


@bp.app_template_filter("age")
def _age_filter(seconds):
    return age(seconds)


@bp.get("/")
def overview():
    with db().unit_of_work() as session:
        rows = health_overview(session, settings(), integration_ids=visible_ids())
    return render_template("overview.html", rows=rows, now=utcnow())


def _integration_or_404(session, integration_id: str) -> Integration:
    row = session.get(Integration, integration_id[:36]) if integration_id else None
    if row is None or not may_see(row.id):
        abort(404)
    return row


@bp.route("/integrations/<integration_id>", methods=["GET", "POST"])
def integration(integration_id: str):
    """Its configuration (secrets masked) and a form that tries a sample event against its rules."""
    with db().unit_of_work() as session:
        row = _integration_or_404(session, integration_id)
        detail = describe(session, row, settings())
        sample = json.dumps({**SAMPLE, "store_id": row.store_ids[0] if row.store_ids else 1}, indent=2,
                            ensure_ascii=False)
        report, problem = None, None
        if request.method == "POST":
            sample = request.form.get("event", "")
            try:
                envelope = json.loads(sample)
                if not isinstance(envelope, dict):
                    raise ValueError("the event must be a JSON object")
                report = dry_run(session, row, envelope)
            except ValueError as exc:
                problem = f"not a JSON event: {exc}"
        destinations = [describe_destination(session, d) for d in list_destinations(session, row.id)]
        return render_template("integration.html", detail=detail, sample=sample, report=report, problem=problem,
                               destinations=destinations,
                               config_json=json.dumps(detail["config"], indent=2, ensure_ascii=False, default=str),
                               report_json=json.dumps(report, indent=2, ensure_ascii=False, default=str)
                               if report is not None else None)


@bp.get("/charts")
def charts_page():
    now = utcnow()
    with db().unit_of_work() as session:
        ids = visible_ids()
        events_chart = charts.stacked_status_bars(charts.events_per_hour(session, ids, now))
        vendus = [(s.integration, charts.latency_and_errors(s))
                  for s in charts.vendus_by_integration(session, ids, now)]
    return render_template("charts.html", events_chart=events_chart, vendus=vendus,
                           statuses=charts.STATUS_ORDER)


@bp.get("/integrations")
def integrations():
    with db().unit_of_work() as session:
        query = select(Integration.id).order_by(Integration.name).limit(1)
        ids = visible_ids()
        if ids is not None:
            query = query.where(Integration.id.in_(ids))
        first = session.scalar(query)
    return redirect(url_for("console.integration", integration_id=first) if first else url_for("console.overview"))

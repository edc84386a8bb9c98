"""Console pages about destinations: one destination's delivery log, and replay of a dead delivery."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from kapta_vendus.console.auth import bp, db, may_see, requires
from kapta_vendus.db.models import Integration
from kapta_vendus.destinations.log import STATUSES, list_deliveries, replay_dead
from kapta_vendus.destinations.registry import DestinationNotFound, describe_destination, get_destination

LOG_LIMIT = 200
EXCERPT = 120  # characters of the last response shown in the table (the whole stored excerpt on hover)


def _enqueue_delivery(delivery_id: int) -> None:
    from kapta_vendus.tasks import dispatch

    dispatch.enqueue_delivery(delivery_id)  # looked up at call time (tests replace it)


def _destination_or_404(session, integration_id: str, destination_id: int):
    integration = session.get(Integration, integration_id[:36]) if integration_id else None
    if integration is None or not may_see(integration.id):
        abort(404)
    try:
        return integration, get_destination(session, integration.id, destination_id)
    except DestinationNotFound:
        abort(404)


@bp.get("/integrations/<integration_id>/destinations/<int:destination_id>")
def destination(integration_id: str, destination_id: int):
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    with db().unit_of_work() as session:
        integration, found = _destination_or_404(session, integration_id, destination_id)
        detail = describe_destination(session, found)
    rows = list_deliveries(db(), integration.id, destination_id=destination_id, status=status or None,
                           limit=LOG_LIMIT)
    return render_template("destination.html", integration=integration, detail=detail, deliveries=rows,
                           statuses=STATUSES, status=status, excerpt=EXCERPT, limit=LOG_LIMIT)


@bp.post("/integrations/<integration_id>/destinations/<int:destination_id>/deliveries/<int:delivery_id>/replay")
@requires("operate")
def replay_delivery(integration_id: str, destination_id: int, delivery_id: int):
    """Send a dead delivery again, with the same webhook-id and body (the receiver can deduplicate)."""
    with db().unit_of_work() as session:
        integration, _found = _destination_or_404(session, integration_id, destination_id)
    replayed = replay_dead(db(), integration.id, delivery_ids=[delivery_id], destination_id=destination_id,
                           enqueue=_enqueue_delivery)
    if replayed:
        flash(f"Delivery {delivery_id} sent again.", "ok")
    else:
        flash(f"Delivery {delivery_id} is not dead: nothing to replay.", "error")
    return redirect(url_for("console.destination", integration_id=integration.id, destination_id=destination_id))

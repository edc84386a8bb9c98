"""The admin API's endpoints: thin views over ``queries``, ``replay`` and ``integrations.lifecycle``."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint, abort
from flask_smorest.error_handler import ErrorSchema
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kapta_vendus.admin import queries, schemas
from kapta_vendus.admin.auth import SECURITY, principal, requires
from kapta_vendus.admin.replay import NotReplayable, replay_batch, replay_event
from kapta_vendus.db.models import Integration
from kapta_vendus.integrations.lifecycle import describe
from kapta_vendus.tasks import dispatch

bp = Blueprint("admin", __name__, url_prefix="/admin/v1",
               description="Integrations, their events, documents and reconciliation runs; replay.")
PREFIX = "/integrations/<string:integration_id>"
EVENT = "/events/<int(max=9223372036854775807):event_id>"  # a BIGINT: larger is no route (404)


def _db():
    return current_app.config["KAPTA_DB"]


def _enqueue(event_id: int, *, start_at: str | None = None) -> None:
    dispatch.enqueue_event(event_id, start_at=start_at)  # looked up at call time (tests replace it)


def _secured(fn):
    # Authentication wraps argument parsing (``requires`` sits above ``arguments``): a caller
    # without a valid token learns nothing, not even which parameters were wrong.
    return bp.doc(security=SECURITY)(fn)


@bp.get("/integrations")
@_secured
@requires("read")
@bp.arguments(schemas.IntegrationListArgs, location="query")
@bp.response(200, schemas.IntegrationList)
def list_integrations(args):
    """Integrations this token may see (every one for an admin token). Never includes secrets."""
    query = select(Integration).options(selectinload(Integration.stores)).order_by(Integration.name)
    if not principal().is_admin:
        query = query.where(Integration.id == principal().integration_id)
    if args.get("status"):
        query = query.where(Integration.status == args["status"])
    with _db().unit_of_work() as session:
        rows = list(session.scalars(query))
        # Named fields only: the row also holds the encrypted key, which has no business leaving here.
        return {"items": [{"id": r.id, "name": r.name, "status": r.status, "mode": r.mode,
                           "vendus_base_url": r.vendus_base_url, "stores": r.store_ids, "created_at": r.created_at,
                           "updated_at": r.updated_at, "deleted_at": r.deleted_at} for r in rows]}


@bp.get(PREFIX)
@_secured
@requires("read")
@bp.response(200, schemas.IntegrationDetail)
def get_integration(integration_id: str):
    """One integration: configuration (credential URLs masked), limits, secret states, counts."""
    with _db().unit_of_work() as session:
        row = session.scalar(select(Integration).where(Integration.id == integration_id).options(
            selectinload(Integration.stores), selectinload(Integration.secrets)))
        return describe(session, row, current_app.config["KAPTA_SETTINGS"])


@bp.get(f"{PREFIX}/events")
@_secured
@requires("read")
@bp.arguments(schemas.EventSearchArgs, location="query")
@bp.response(200, schemas.EventPage)
def search_events(args, integration_id: str):
    """Search the integration's events (newest first)."""
    with _db().unit_of_work() as session:
        return queries.search_events(session, integration_id, args)


@bp.get(f"{PREFIX}{EVENT}")
@_secured
@requires("read")
@bp.response(200, schemas.EventDetail)
def get_event(integration_id: str, event_id: int):
    """An event with its step runs, the documents and links it produced, and its issuances."""
    with _db().unit_of_work() as session:
        event = queries.get_event(session, integration_id, event_id)
        if event is None:
            abort(404, message="no such event")
        return queries.event_detail(session, event)


@bp.post(f"{PREFIX}{EVENT}/replay")
@_secured
@requires("operate")
@bp.response(202, schemas.ReplayResult)
@bp.alt_response(409, schema=ErrorSchema, description="the event is not dead or rejected")
def replay_one(integration_id: str, event_id: int):
    """Replay a dead or rejected event from the step that failed. Never issues a document twice."""
    with _db().unit_of_work() as session:
        event = queries.get_event(session, integration_id, event_id)
        if event is None:
            abort(404, message="no such event")
        try:
            replayed = replay_event(session, event, _enqueue)
        except NotReplayable as exc:
            abort(409, message=str(exc))
    return {"replayed": [replayed], "dry_run": False}


@bp.post(f"{PREFIX}/replay")
@_secured
@requires("operate")
@bp.arguments(schemas.ReplayFilter)
@bp.response(200, schemas.ReplayResult)
def replay_many(filters, integration_id: str):
    """Replay the dead or rejected events that match the filter (oldest first, at most ``limit``)."""
    with _db().unit_of_work() as session:
        replayed = replay_batch(session, integration_id, filters, _enqueue)
    return {"replayed": replayed, "dry_run": filters["dry_run"]}


@bp.get(f"{PREFIX}/reconciliation-runs")
@_secured
@requires("read")
@bp.arguments(schemas.RunSearchArgs, location="query")
@bp.response(200, schemas.RunPage)
def reconciliation_runs(args, integration_id: str):
    """Polls, imports and drift checks of the integration (newest first)."""
    with _db().unit_of_work() as session:
        return queries.reconciliation_runs(session, integration_id, args)

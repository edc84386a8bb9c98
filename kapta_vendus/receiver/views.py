"""``POST /v1/integrations/<id>/events``: verify → inbox → enqueue after commit → answer.

No business logic here: payload validation belongs to the pipeline's validate step. But whatever
is stored or feeds a key is checked at the door (``receiver.door``), so bad input is a 4xx, never
a 5xx. A refused request stores nothing; 202 is answered only once the raw event is committed.

Lean on purpose (it is the hot path): the integration's secrets, stores and cap come from a cache
of a few seconds (``receiver.tenants``), the insert is one plain SQL statement in the request's one
transaction, and the event is admitted to its integration's fair share with the cap in hand.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from kapta_vendus.events.envelope import envelope_errors
from kapta_vendus.integrations.crypto import SecretUnreadable
from kapta_vendus.integrations.service import IntegrationNotFound
from kapta_vendus.pipeline.inbox import store_pushed
from kapta_vendus.receiver import door
from kapta_vendus.receiver.signature import SignatureInvalid, verify
from kapta_vendus.receiver.tenants import TenantCache
from kapta_vendus.tasks.dispatch import enqueue_event

log = logging.getLogger(__name__)
bp = Blueprint("receiver", __name__)


def _problem(status: int, message: str, **extra):
    return jsonify({"error": message, **extra}), status


def _tenants() -> TenantCache:
    config = current_app.config
    if "KAPTA_TENANTS" not in config:
        config["KAPTA_TENANTS"] = TenantCache(config["KAPTA_DB"], config["KAPTA_SETTINGS"])
    return config["KAPTA_TENANTS"]


@bp.post("/v1/integrations/<integration_id>/events")
def receive(integration_id: str):
    settings, db = current_app.config["KAPTA_SETTINGS"], current_app.config["KAPTA_DB"]
    if request.mimetype != "application/json":
        return _problem(415, "Content-Type must be application/json")
    if (request.content_length or 0) > settings.receiver_max_body:
        return _problem(413, f"body larger than {settings.receiver_max_body} bytes")
    body = request.get_data(cache=False)  # MAX_CONTENT_LENGTH turns a lying length into 413
    try:
        tenant = _tenants().get(integration_id)
    except IntegrationNotFound:
        return _problem(404, "unknown integration")
    except (SQLAlchemyError, SecretUnreadable):
        # SecretUnreadable: this process's KAPTA_SECRET_KEYS lacks the key of the stored secrets (a key
        # rotation done before every process got the new key). The sender must retry, not give up.
        log.exception("receiver: cannot read integration")
        return _problem(503, "temporarily unable to process events; retry later")

    try:
        verify(body, request.headers, tenant.active_secrets(), tolerance=settings.webhook_tolerance)
    except SignatureInvalid as exc:
        return _problem(401, str(exc))

    try:
        text = body.decode("utf-8")
        envelope = door.parse(text)
    except UnicodeDecodeError as exc:
        return _problem(400, "invalid envelope", errors=[f"body is not valid JSON: {exc}"])
    except door.BadBody as exc:
        return _problem(400, "invalid envelope", errors=[str(exc)])
    errors = door.content_errors(envelope) or envelope_errors(
        envelope, store_ids=tenant.stores, webhook_id=request.headers.get("webhook-id")) or door.key_errors(envelope)
    if errors:
        return _problem(400, "invalid envelope", errors=errors)

    try:
        # One statement that commits on its own: no ORM unit of work, no BEGIN/COMMIT round trips.
        with db.autocommit.connect() as connection:
            stored = store_pushed(connection, integration_id, envelope, text)
    except SQLAlchemyError:
        log.exception("receiver: cannot persist event")
        return _problem(503, "could not persist the event; retry later")
    if stored.created:
        try:
            enqueue_event(stored.event_id, integration_id=tenant.id, cap=tenant.cap)
        except Exception:  # committed is accepted: the sweeper enqueues what the broker missed
            log.exception("receiver: event %s committed but not enqueued (the sweeper will)", stored.event_id)
        return jsonify({"status": "accepted", "event_id": stored.event_id, "id": envelope["id"]}), 202
    return jsonify({"status": "duplicate", "event_id": stored.event_id, "id": envelope["id"]}), 200

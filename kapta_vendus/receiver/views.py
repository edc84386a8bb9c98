"""``POST /v1/integrations/<id>/events``: verify → inbox → enqueue after commit → answer.

No business logic here: payload validation belongs to the pipeline's validate step. A refused
request stores nothing; 202 is answered only once the raw event is committed.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from kapta_vendus.db.session import on_commit
from kapta_vendus.events.envelope import envelope_errors
from kapta_vendus.integrations.crypto import SecretUnreadable
from kapta_vendus.integrations.service import IntegrationNotFound, active_secrets, get_integration
from kapta_vendus.pipeline.inbox import store_event
from kapta_vendus.receiver.signature import SignatureInvalid, verify
from kapta_vendus.tasks.dispatch import enqueue_event

log = logging.getLogger(__name__)
bp = Blueprint("receiver", __name__)


def _problem(status: int, message: str, **extra):
    return jsonify({"error": message, **extra}), status


@bp.post("/v1/integrations/<integration_id>/events")
def receive(integration_id: str):
    settings, db = current_app.config["KAPTA_SETTINGS"], current_app.config["KAPTA_DB"]
    if request.mimetype != "application/json":
        return _problem(415, "Content-Type must be application/json")
    if (request.content_length or 0) > settings.receiver_max_body:
        return _problem(413, f"body larger than {settings.receiver_max_body} bytes")
    body = request.get_data(cache=False)  # MAX_CONTENT_LENGTH turns a lying length into 413
    try:
        with db.unit_of_work() as session:
            integration = get_integration(session, integration_id, active_only=True)
            secrets = active_secrets(settings, integration)
            stores = set(integration.store_ids)
    except IntegrationNotFound:
        return _problem(404, "unknown integration")
    except (SQLAlchemyError, SecretUnreadable):
        # SecretUnreadable: this process's KAPTA_SECRET_KEYS lacks the key of the stored secrets (a key
        # rotation done before every process got the new key). The sender must retry, not give up.
        log.exception("receiver: cannot read integration")
        return _problem(503, "temporarily unable to process events; retry later")

    try:
        verify(body, request.headers, secrets, tolerance=settings.webhook_tolerance)
    except SignatureInvalid as exc:
        return _problem(401, str(exc))

    try:
        text = body.decode("utf-8")
        envelope = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _problem(400, "invalid envelope", errors=[f"body is not valid JSON: {exc}"])
    errors = envelope_errors(envelope, store_ids=stores, webhook_id=request.headers.get("webhook-id"))
    if errors:
        return _problem(400, "invalid envelope", errors=errors)

    try:
        with db.unit_of_work() as session:
            stored = store_event(session, integration_id, source="push", envelope=envelope, raw=text)
            if stored.created:
                # If the broker is down the event stays in the inbox and the sweeper enqueues it.
                on_commit(session, lambda: enqueue_event(stored.event_id))
    except SQLAlchemyError:
        log.exception("receiver: cannot persist event")
        return _problem(503, "could not persist the event; retry later")
    if stored.created:
        return jsonify({"status": "accepted", "event_id": stored.event_id, "id": envelope["id"]}), 202
    return jsonify({"status": "duplicate", "event_id": stored.event_id, "id": envelope["id"]}), 200

"""Admin API over destinations: declare, rotate the secret, enable/disable, the delivery log, replay.

A destination's secret is returned once, by the call that creates it (or rotates it); reads show only
how many secrets are active. Everything is scoped to the integration in the URL.
"""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from kapta_vendus.admin.auth import SECURITY, requires
from kapta_vendus.destinations.log import STATUSES, list_deliveries, replay_dead
from kapta_vendus.destinations.messages import OUTBOUND_TYPES
from kapta_vendus.destinations.registry import (
    DestinationError,
    DestinationNotFound,
    DestinationSpec,
    describe_destination,
    get_destination,
    list_destinations,
    rotate_destination_secret,
    set_destination_enabled,
    upsert_destination,
)
from kapta_vendus.integrations.spec import parse_duration
from kapta_vendus.tasks import dispatch

bp = Blueprint("admin-destinations", __name__, url_prefix="/admin/v1",
               description="Destinations of outbound events and their delivery log.")
PREFIX = "/integrations/<string:integration_id>"
DEST = "/destinations/<int(max=9223372036854775807):destination_id>"


class DestinationIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    events = fields.List(fields.String(validate=validate.OneOf(OUTBOUND_TYPES)), required=True,
                         validate=validate.Length(min=1))
    stores = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**63 - 1)), load_default=list)
    rate_limit_per_minute = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))


class DestinationOut(Schema):
    id = fields.Integer()
    name = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    stores = fields.List(fields.Integer())
    rate_limit_per_minute = fields.Integer(allow_none=True)
    status = fields.String()
    disabled_reason = fields.String(allow_none=True)
    declared_in = fields.String()
    active_secrets = fields.Integer()
    circuit_open_until = fields.DateTime(allow_none=True)
    deliveries = fields.Dict(keys=fields.String(), values=fields.Integer())
    secret = fields.String(metadata={"description": "Only when just created or rotated: shown once."})


class DestinationList(Schema):
    items = fields.List(fields.Nested(DestinationOut))


class RotateIn(Schema):
    overlap = fields.String(load_default="24h", metadata={"description": "30m, 24h, 7d…"})


class SecretOut(Schema):
    secret = fields.String()


class DeliveryArgs(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))


class DeliveryOut(Schema):
    id = fields.Integer()
    webhook_id = fields.String()
    destination = fields.String()
    event_type = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_response_excerpt = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)


class DeliveryList(Schema):
    items = fields.List(fields.Nested(DeliveryOut))


class ReplayIn(Schema):
    delivery_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**63 - 1)), load_default=list)
    destination_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**63 - 1))


class ReplayOut(Schema):
    replayed = fields.List(fields.Integer())


def _db():
    return current_app.config["KAPTA_DB"]


def _settings():
    return current_app.config["KAPTA_SETTINGS"]


def _find(session, integration_id: str, destination_id: int):
    try:
        return get_destination(session, integration_id, destination_id)
    except DestinationNotFound:
        abort(404, message="no such destination")


@bp.get(f"{PREFIX}/destinations")
@bp.doc(security=SECURITY)
@requires("read")
@bp.response(200, DestinationList)
def list_(integration_id: str):
    """The integration's destinations and their delivery counts (never their secrets)."""
    with _db().unit_of_work() as session:
        return {"items": [describe_destination(session, d) for d in list_destinations(session, integration_id)]}


@bp.post(f"{PREFIX}/destinations")
@bp.doc(security=SECURITY)
@requires("admin")
@bp.arguments(DestinationIn)
@bp.response(200, DestinationOut)
def save(data, integration_id: str):
    """Create or change a destination by name; a new one's ``whsec_`` secret is in the reply, once."""
    try:
        spec = DestinationSpec.from_dict(data)
    except DestinationError as exc:
        abort(422, message=str(exc))
    with _db().unit_of_work() as session:
        destination, secret = upsert_destination(session, _settings(), integration_id, spec)
        out = describe_destination(session, destination)
    return {**out, **({"secret": secret} if secret else {})}


@bp.post(f"{PREFIX}{DEST}/rotate-secret")
@bp.doc(security=SECURITY)
@requires("admin")
@bp.arguments(RotateIn)
@bp.response(200, SecretOut)
def rotate(data, integration_id: str, destination_id: int):
    """A new signing secret (shown once); the old ones keep signing for ``overlap``."""
    try:
        overlap = parse_duration(data["overlap"])
    except ValueError as exc:
        abort(422, message=f"overlap: {exc}")
    with _db().unit_of_work() as session:
        return {"secret": rotate_destination_secret(session, _settings(), _find(session, integration_id,
                                                                                destination_id), overlap)}


@bp.post(f"{PREFIX}{DEST}/<any(enable, disable):action>")
@bp.doc(security=SECURITY)
@requires("operate")
@bp.response(200, DestinationOut)
def switch(integration_id: str, destination_id: int, action: str):
    """Enable (closing its circuit) or disable a destination."""
    with _db().unit_of_work() as session:
        destination = _find(session, integration_id, destination_id)
        set_destination_enabled(destination, action == "enable")
        return describe_destination(session, destination)


@bp.get(f"{PREFIX}{DEST}/deliveries")
@bp.doc(security=SECURITY)
@requires("read")
@bp.arguments(DeliveryArgs, location="query")
@bp.response(200, DeliveryList)
def deliveries(args, integration_id: str, destination_id: int):
    """The delivery log of a destination (newest first): status, attempts, last code and excerpt."""
    with _db().unit_of_work() as session:
        _find(session, integration_id, destination_id)
    rows = list_deliveries(_db(), integration_id, destination_id=destination_id, status=args.get("status"),
                           limit=args["limit"])
    return {"items": [r.as_dict() for r in rows]}


@bp.post(f"{PREFIX}/deliveries/replay")
@bp.doc(security=SECURITY)
@requires("operate")
@bp.arguments(ReplayIn)
@bp.response(200, ReplayOut)
def replay(data, integration_id: str):
    """Send dead deliveries again with the same ``webhook-id``: by ids, by destination, or all."""
    replayed = replay_dead(_db(), integration_id, delivery_ids=data["delivery_ids"] or None,
                           destination_id=data["destination_id"], enqueue=lambda i: dispatch.enqueue_delivery(i))
    return {"replayed": replayed}

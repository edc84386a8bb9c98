"""The receiver's endpoint in the OpenAPI document (it is a plain Flask view, not a smorest one).

Kept next to the admin API so that one document describes every HTTP endpoint; the answers are
those of ``receiver/views.py`` and the README ("Sending events").
"""

from __future__ import annotations

from apispec import APISpec
from flask import Flask

from kapta_vendus.events.catalogue import EVENT_TYPES

ENDPOINT = "receiver.receive"

ENVELOPE = {
    "type": "object",
    "required": ["id", "type", "occurred_at", "store_id", "data"],
    "properties": {
        "id": {"type": "string", "description": "unique per integration; equals the webhook-id header"},
        "type": {"type": "string", "enum": list(EVENT_TYPES)},
        "occurred_at": {"type": "string", "format": "date-time"},
        "store_id": {"type": "integer", "description": "a Vendus store of the integration"},
        "data": {"type": "object", "description": "the payload of the event type (reference/events.md)"},
    },
}
ANSWER = {
    "type": "object",
    "required": ["status", "event_id", "id"],
    "properties": {"status": {"type": "string", "enum": ["accepted", "duplicate"]},
                   "event_id": {"type": "integer", "description": "the inbox id"},
                   "id": {"type": "string", "description": "the envelope id"}},
}
REFUSAL = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "string"},
                              "description": "each problem of an invalid envelope, naming its field"}},
}


def _header(name: str, description: str) -> dict:
    return {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}


def _refusal(description: str) -> dict:
    schema = {"$ref": "#/components/schemas/ReceiverRefusal"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document_receiver(spec: APISpec, app: Flask) -> None:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == ENDPOINT)
    spec.components.schema("ReceiverEnvelope", ENVELOPE)
    spec.components.schema("ReceiverAnswer", ANSWER)
    spec.components.schema("ReceiverRefusal", REFUSAL)
    answer = {"application/json": {"schema": {"$ref": "#/components/schemas/ReceiverAnswer"}}}
    spec.tag({"name": "receiver", "description": "Signed events from POS systems and bridges (Standard Webhooks)."})
    # The Flask rule gives the path and its integration_id parameter, as for the admin views.
    spec.path(rule=rule, operations={"post": {
        "tags": ["receiver"],
        "summary": "Receive a signed event",
        "description": ("Verifies the Standard Webhooks signature against every active secret of the integration, "
                        "commits the raw event to the inbox, then answers. 202 means durably stored."),
        "security": [],
        "parameters": [
            _header("webhook-id", "equals the envelope id"),
            _header("webhook-timestamp", "unix seconds; at most 5 minutes from now"),
            _header("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body>; several allowed"),
        ],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ReceiverEnvelope"}}}},
        "responses": {
            "202": {"description": "accepted: committed to the inbox", "content": answer},
            "200": {"description": "duplicate: this event id was already accepted", "content": answer},
            "400": _refusal("invalid envelope"),
            "401": _refusal("missing or bad signature, or a stale timestamp"),
            "404": _refusal("unknown or inactive integration"),
            "413": _refusal("body too large"),
            "415": _refusal("not application/json"),
            "503": _refusal("could not persist; retry later"),
        },
    }})

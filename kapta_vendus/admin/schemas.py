"""marshmallow schemas of the admin API; flask-smorest turns them into the OpenAPI document.

Nothing secret has a field here: API keys and webhook secrets appear only as their state.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from kapta_vendus.events.catalogue import EVENT_TYPES


class Text(fields.String):
    """A query string value. PostgreSQL cannot store or compare a NUL byte, so it is refused here (422)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("must not contain a NUL character")
        return text


EVENT_STATUSES = ("received", "in_flight", "waiting", "done", "rejected", "dead", "imported")
REPLAYABLE = ("dead", "rejected")
MAX_PAGE_SIZE = 200
MAX_ID = 2**63 - 1  # ids are PostgreSQL BIGINTs: a larger number is refused (422), not sent to the database


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class IntegrationListArgs(Schema):
    status = fields.String(validate=validate.OneOf(("active", "disabled", "deleted")))


class EventSearchArgs(PageArgs):
    store_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    status = fields.String(validate=validate.OneOf(EVENT_STATUSES))
    received_from = fields.AwareDateTime(metadata={"description": "received at or after (ISO 8601 with offset)"})
    received_to = fields.AwareDateTime(metadata={"description": "received before (ISO 8601 with offset)"})
    external_reference = Text(validate=validate.Length(min=1, max=255), metadata={
        "description": "the envelope id, the sale id, or a document's external reference"})
    document_number = Text(validate=validate.Length(min=1, max=64), metadata={
        "description": "a Vendus document number, e.g. FR 01P2026/7"})


class RunSearchArgs(PageArgs):
    kind = fields.String(validate=validate.OneOf(("poll", "import", "drift")))
    status = fields.String(validate=validate.OneOf(("running", "ok", "failed")))


class ReplayFilter(Schema):
    statuses = fields.List(fields.String(validate=validate.OneOf(REPLAYABLE)), load_default=list(REPLAYABLE),
                           validate=validate.Length(min=1))
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    store_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    received_from = fields.AwareDateTime()
    received_to = fields.AwareDateTime()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    dry_run = fields.Boolean(load_default=False, metadata={"description": "list what would be replayed"})


class Limits(Schema):
    vendus_requests_per_second = fields.Float()
    vendus_burst = fields.Integer()
    max_events_in_flight = fields.Integer()


class SecretState(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    state = fields.String(metadata={"description": "active, expiring (rotation overlap) or expired"})


class IntegrationSummary(Schema):
    id = fields.String()
    name = fields.String()
    status = fields.String()
    mode = fields.String()
    vendus_base_url = fields.String()
    stores = fields.List(fields.Integer())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    deleted_at = fields.DateTime(allow_none=True)


class IntegrationDetail(IntegrationSummary):
    api_key = fields.String(metadata={"description": "only whether it is set; the key is never returned"})
    config = fields.Dict(metadata={"description": "mapping, rules, notifications, events, limits; "
                                                  "URLs that may carry credentials are masked"})
    limits = fields.Nested(Limits)
    webhook_secrets = fields.List(fields.Nested(SecretState))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class IntegrationList(Schema):
    items = fields.List(fields.Nested(IntegrationSummary))


class EventSummary(Schema):
    id = fields.Integer()
    integration_id = fields.String()
    type = fields.String()
    status = fields.String()
    source = fields.String()
    external_id = fields.String()
    business_key = fields.String(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    current_step = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    occurred_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class EventPage(Schema):
    items = fields.List(fields.Nested(EventSummary))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()


class StepRunOut(Schema):
    id = fields.Integer()
    step = fields.String()
    attempt = fields.Integer()
    status = fields.String()
    summary = fields.String()
    output = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)
    started_at = fields.DateTime()
    duration_ms = fields.Integer()


class DocumentOut(Schema):
    id = fields.Integer()
    vendus_id = fields.Integer()
    mode = fields.String()
    type = fields.String()
    number = fields.String()
    status = fields.String()
    date = fields.Date(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    amount_gross = fields.String(metadata={"description": "euros, as a decimal string"})
    external_reference = fields.String(allow_none=True)
    issued_here = fields.Boolean()


class LinkOut(Schema):
    from_kind = fields.String()
    from_key = fields.String()
    relation = fields.String()
    to_kind = fields.String()
    to_key = fields.String()


class IssuanceOut(Schema):
    idempotency_key = fields.String()
    kind = fields.String()
    state = fields.String()
    document_type = fields.String(allow_none=True)
    document_number = fields.String(allow_none=True)
    attempts = fields.Integer()


class EventDetail(EventSummary):
    envelope = fields.Raw(allow_none=True, metadata={"description": "the event as received"})
    step_runs = fields.List(fields.Nested(StepRunOut))
    documents = fields.List(fields.Nested(DocumentOut))
    links = fields.List(fields.Nested(LinkOut))
    issuances = fields.List(fields.Nested(IssuanceOut))


class RunOut(Schema):
    id = fields.Integer()
    store_id = fields.Integer(allow_none=True)
    kind = fields.String()
    status = fields.String()
    counts = fields.Dict()
    details = fields.List(fields.Raw())
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class RunPage(Schema):
    items = fields.List(fields.Nested(RunOut))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()


class Replayed(Schema):
    event_id = fields.Integer()
    from_step = fields.String()


class ReplayResult(Schema):
    replayed = fields.List(fields.Nested(Replayed))
    dry_run = fields.Boolean()

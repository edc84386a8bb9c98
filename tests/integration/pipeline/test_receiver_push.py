"""The receiver against real PostgreSQL: verify → inbox → enqueue after commit → answer.

Guarantee 1 ("accepted means durable"): a 202 is answered only once the raw event is committed,
every refusal stores nothing, and the enqueue happens after the commit (never for a duplicate).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from pipeline_testkit import new_event_id, signed_post
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from kapta_vendus.db.models import Event
from kapta_vendus.db.session import Database
from kapta_vendus.integrations.service import get_integration, rotate_secret
from kapta_vendus.receiver import views
from kapta_vendus.receiver.sender import signed_headers
from kapta_vendus.web import create_app

pytestmark = pytest.mark.integration


def _rows(db: Database) -> list[tuple[str, str, str]]:
    with db.unit_of_work() as session:
        return [tuple(r) for r in session.execute(select(Event.external_id, Event.status, Event.raw))]


def test_accepted_event_is_stored_and_answered_202(pipeline, envelopes, enqueued):
    envelope = envelopes.sale_completed()
    response = pipeline.push(envelope)

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "accepted" and body["id"] == envelope["id"]
    event = pipeline.event(body["event_id"])
    assert event.integration_id == pipeline.tenant.id
    assert (event.type, event.status, event.source) == ("sale.completed", "received", "push")
    assert event.dedup_key == envelope["id"]
    assert event.business_key == f"sale:{envelope['store_id']}:{envelope['data']['sale_id']}"  # per store
    assert json.loads(event.raw) == envelope  # the body exactly as received
    assert enqueued.events == [event.id]


def test_duplicate_is_200_one_row_and_not_enqueued_again(pipeline, envelopes, enqueued):
    envelope = envelopes.sale_completed()
    first = pipeline.push(envelope)
    second = pipeline.push(envelope)

    assert first.status_code == 202
    assert second.status_code == 200
    assert second.get_json()["status"] == "duplicate"
    assert second.get_json()["event_id"] == first.get_json()["event_id"]
    assert pipeline.event_count() == 1
    assert enqueued.events == [first.get_json()["event_id"]]


def test_enqueue_happens_only_after_the_commit(pipeline, envelopes, enqueued, pipeline_settings):
    seen: list[str | None] = []

    def check_committed(event_id: int) -> None:
        # A separate engine (its own connection) sees only committed rows.
        other = Database(pipeline_settings.database_url)
        try:
            with other.unit_of_work() as session:
                seen.append(session.scalar(select(Event.status).where(Event.id == event_id)))
        finally:
            other.dispose()

    enqueued.on_event = check_committed
    response = pipeline.push(envelopes.sale_completed())

    assert response.status_code == 202
    assert seen == ["received"]


def test_bad_signature_is_401_and_stores_nothing(pipeline, envelopes, enqueued):
    envelope = envelopes.sale_completed()
    body = json.dumps(envelope)
    response = signed_post(pipeline.receiver, pipeline.tenant.id, pipeline.tenant.secret, body,
                           event_id=envelope["id"], **{"webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl"})

    assert response.status_code == 401
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_body_changed_after_signing_is_401(pipeline, envelopes):
    envelope = envelopes.sale_completed()
    signed = json.dumps(envelope)
    headers = signed_headers(pipeline.tenant.secret, envelope["id"], signed)
    tampered = signed.replace('"2.90"', '"0.01"')
    response = pipeline.receiver.post(f"/v1/integrations/{pipeline.tenant.id}/events",
                                      data=tampered.encode(), headers=headers)

    assert response.status_code == 401
    assert _rows(pipeline.db) == []


def test_body_that_is_not_utf8_is_refused_not_a_server_error(pipeline, enqueued):
    headers = signed_headers(pipeline.tenant.secret, "evt_binary", "{}")
    response = pipeline.receiver.post(f"/v1/integrations/{pipeline.tenant.id}/events",
                                      data=b"\xff\xfe{}", headers=headers)

    assert response.status_code == 401
    assert "UTF-8" in response.get_json()["error"]
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_stale_timestamp_is_401_and_stores_nothing(pipeline, envelopes, enqueued):
    response = pipeline.push(envelopes.sale_completed(), timestamp=time.time() - 301)

    assert response.status_code == 401
    assert "tolerance" in response.get_json()["error"]
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_future_timestamp_beyond_tolerance_is_401(pipeline, envelopes):
    response = pipeline.push(envelopes.sale_completed(), timestamp=time.time() + 360)

    assert response.status_code == 401
    assert _rows(pipeline.db) == []


def test_secret_of_another_integration_is_401(pipeline, envelopes, make_tenant):
    other = make_tenant(name="another-shop")
    response = pipeline.push(envelopes.sale_completed(), secret=other.secret)

    assert response.status_code == 401
    assert _rows(pipeline.db) == []


def test_malformed_json_is_400_with_errors(pipeline, enqueued):
    event_id = new_event_id()
    response = signed_post(pipeline.receiver, pipeline.tenant.id, pipeline.tenant.secret,
                           '{"id": "' + event_id + '", "type": ', event_id=event_id)

    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert isinstance(errors, list) and errors and "not valid JSON" in errors[0]
    assert _rows(pipeline.db) == [] and enqueued.events == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda env, store: env.update(type="sale.exploded"), "type: must be one of"),
        (lambda env, store: env.pop("id"), "id: is required"),
        (lambda env, store: env.update(store_id=store + 999), "does not belong to this integration"),
        (lambda env, store: env.update(data=["not", "an", "object"]), "data: must be a JSON object"),
    ],
    ids=["unknown-type", "missing-id", "foreign-store", "data-not-object"],
)
def test_bad_envelope_is_400_and_stores_nothing(pipeline, envelopes, enqueued, change, expected):
    envelope = envelopes.sale_completed()
    webhook_id = envelope["id"]
    change(envelope, pipeline.tenant.store_id)
    response = signed_post(pipeline.receiver, pipeline.tenant.id, pipeline.tenant.secret,
                           json.dumps(envelope), event_id=webhook_id)

    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert any(expected in e for e in errors), errors
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_envelope_id_must_match_webhook_id(pipeline, envelopes):
    envelope = envelopes.sale_completed()
    response = signed_post(pipeline.receiver, pipeline.tenant.id, pipeline.tenant.secret,
                           json.dumps(envelope), event_id="evt_something_else")

    assert response.status_code == 400
    assert "id: must equal the webhook-id header" in response.get_json()["errors"]
    assert _rows(pipeline.db) == []


def test_payload_errors_are_accepted_and_left_to_the_pipeline(pipeline, envelopes):
    # A well-formed envelope with a bad payload is recorded, then rejected with reasons (validate).
    envelope = envelopes.sale_completed()
    del envelope["data"]["lines"]
    response = pipeline.push(envelope)

    assert response.status_code == 202
    assert len(_rows(pipeline.db)) == 1


def test_wrong_content_type_is_415(pipeline, envelopes):
    response = pipeline.push(envelopes.sale_completed(), **{"content-type": "text/plain"})

    assert response.status_code == 415
    assert _rows(pipeline.db) == []


def test_body_over_the_limit_is_413(pipeline_settings, tenant, envelopes, db):
    small = pipeline_settings.replace(receiver_max_body=1024)
    client = create_app(small).test_client()
    envelope = envelopes.sale_completed(notes="x" * 1000)
    response = signed_post(client, tenant.id, tenant.secret, json.dumps(envelope), event_id=envelope["id"])

    assert response.status_code == 413
    assert _rows(db) == []


def test_unknown_integration_is_404(pipeline, envelopes):
    envelope = envelopes.sale_completed()
    response = signed_post(pipeline.receiver, "00000000-0000-4000-8000-000000000000", pipeline.tenant.secret,
                           json.dumps(envelope), event_id=envelope["id"])

    assert response.status_code == 404
    assert _rows(pipeline.db) == []


def test_disabled_integration_is_404(pipeline, envelopes):
    with pipeline.db.unit_of_work() as session:
        get_integration(session, pipeline.tenant.id).status = "disabled"
    response = pipeline.push(envelopes.sale_completed())

    assert response.status_code == 404
    assert _rows(pipeline.db) == []


def test_unreachable_database_is_503(pipeline_settings, tenant, envelopes, enqueued):
    down = pipeline_settings.replace(database_url="postgresql+psycopg://postgres@127.0.0.1:1/kapta_down")
    client = create_app(down).test_client()
    envelope = envelopes.sale_completed()
    response = signed_post(client, tenant.id, tenant.secret, json.dumps(envelope), event_id=envelope["id"])

    assert response.status_code == 503
    assert "retry" in response.get_json()["error"]
    assert enqueued.events == []


def test_failure_to_persist_is_503_and_nothing_is_stored(pipeline, envelopes, enqueued, monkeypatch):
    def database_gone(*_args, **_kwargs):
        raise OperationalError("INSERT INTO events", {}, Exception("server closed the connection"))

    monkeypatch.setattr(views, "store_pushed", database_gone)
    response = pipeline.push(envelopes.sale_completed())

    assert response.status_code == 503
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_both_secrets_verify_during_rotation(pipeline, envelopes):
    with pipeline.db.unit_of_work() as session:
        integration = get_integration(session, pipeline.tenant.id)
        new_secret = rotate_secret(session, pipeline.settings, integration, timedelta(hours=1))

    old = pipeline.push(envelopes.sale_completed(), secret=pipeline.tenant.secret)
    new = pipeline.push(envelopes.sale_completed(), secret=new_secret)

    assert (old.status_code, new.status_code) == (202, 202)
    assert pipeline.event_count() == 2


def test_a_sender_may_sign_with_both_secrets(pipeline, envelopes):
    with pipeline.db.unit_of_work() as session:
        integration = get_integration(session, pipeline.tenant.id)
        new_secret = rotate_secret(session, pipeline.settings, integration, timedelta(hours=1))
    envelope = envelopes.sale_completed()
    body = json.dumps(envelope)
    moment = time.time()
    old_sig = signed_headers(pipeline.tenant.secret, envelope["id"], body, timestamp=moment)["webhook-signature"]
    headers = signed_headers(new_secret, envelope["id"], body, timestamp=moment)
    headers["webhook-signature"] = f"{headers['webhook-signature']} {old_sig}"
    response = pipeline.receiver.post(f"/v1/integrations/{pipeline.tenant.id}/events",
                                      data=body.encode(), headers=headers)

    assert response.status_code == 202


def test_expired_secret_no_longer_verifies(pipeline, envelopes):
    with pipeline.db.unit_of_work() as session:
        integration = get_integration(session, pipeline.tenant.id)
        new_secret = rotate_secret(session, pipeline.settings, integration, timedelta(0))

    assert pipeline.push(envelopes.sale_completed(), secret=pipeline.tenant.secret).status_code == 401
    assert pipeline.push(envelopes.sale_completed(), secret=new_secret).status_code == 202


# --- bad input is a 4xx at the door, never a 5xx or a 503 a sender would retry forever -----------


def _raw_post(pipeline, body: str, event_id: str):
    return signed_post(pipeline.receiver, pipeline.tenant.id, pipeline.tenant.secret, body, event_id=event_id)


def test_json_nested_100000_deep_is_400(pipeline, enqueued):
    event_id = new_event_id()
    body = '{"id": "' + event_id + '", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = _raw_post(pipeline, body, event_id)

    assert response.status_code == 400, response.get_data(as_text=True)[:200]
    assert "deeper" in response.get_json()["errors"][0]
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_a_5000_digit_number_is_400(pipeline, envelopes, enqueued):
    envelope = envelopes.sale_completed()
    body = json.dumps(envelope).replace('"store_id": ', '"store_id": ' + "9" * 5000 + ", \"x\": ", 1)
    response = _raw_post(pipeline, body, envelope["id"])

    assert response.status_code == 400
    assert "number literal" in response.get_json()["errors"][0]
    assert _rows(pipeline.db) == []


@pytest.mark.parametrize(
    ("kind", "change", "expected"),
    [
        ("sale", lambda data: data.update(sale_id="S" * 300), "data.sale_id: must be at most 100"),
        ("sale", lambda data: data.update(sale_id="S-1\x00"), "data.sale_id: must not contain control"),
        ("sale", lambda data: data["lines"][0].update(title="Café\x00"), "data.lines[0].title: must not contain"),
        ("document", lambda data: data.update(id="7" * 300), "data.id: must be at most"),
        ("document", lambda data: data.update(status="N" * 300), "data.status: must be at most 10"),
    ],
    ids=["long-sale-id", "nul-in-sale-id", "nul-in-line-title", "long-document-id", "long-document-status"],
)
def test_fields_that_feed_keys_or_are_stored_are_checked_at_the_door(pipeline, envelopes, enqueued, kind,
                                                                       change, expected):
    if kind == "sale":
        envelope = envelopes.sale_completed()
    else:
        envelope = envelopes.document_event("invoice.created", {
            "id": 77, "type": "FT", "number": "FT 01P2026/1", "status": "N", "date": "2026-11-25",
            "amount_gross": "2.90", "amount_net": "2.50", "store_id": pipeline.tenant.store_id,
            "register_id": None})
    change(envelope["data"])
    response = pipeline.push(envelope)

    assert response.status_code == 400, response.get_json()
    assert any(expected in e for e in response.get_json()["errors"]), response.get_json()
    assert _rows(pipeline.db) == [] and enqueued.events == []


def test_the_receiver_caches_an_integration_for_its_ttl(pipeline_settings, tenant, envelopes, db):
    """A disable applies to the receiver within KAPTA_RECEIVER_CACHE_TTL (documented in the README)."""
    app = create_app(pipeline_settings.replace(receiver_cache_ttl=5))
    client = app.test_client()
    now = [1000.0]

    def push():
        envelope = envelopes.sale_completed()
        return signed_post(client, tenant.id, tenant.secret, json.dumps(envelope), event_id=envelope["id"])

    assert push().status_code == 202
    app.config["KAPTA_TENANTS"].clock = lambda: now[0]
    app.config["KAPTA_TENANTS"]._entries.clear()
    assert push().status_code == 202  # cached now, at t=1000
    with db.unit_of_work() as session:
        get_integration(session, tenant.id).status = "disabled"

    now[0] += 4.9
    assert push().status_code == 202  # within the delay: still accepted (and kept in the inbox)
    now[0] += 0.2
    assert push().status_code == 404  # the delay passed: the disable applies

"""The receiver over real HTTP: refused pushes store nothing, and the probes tell the truth.

Scenarios 3 and 8 of the end-to-end plan; one stack (simulator, receiver, worker) for the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import e2e_events as ev
import pytest
import requests
from e2e_stack import Stack, running_stack

from kapta_vendus.receiver.sender import send_event, signed_headers

pytestmark = pytest.mark.e2e

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e-receiver"), pg_admin_url, e2e_redis_url,
                       e2e_fernet_key, name="e2e-receiver") as running:
        yield running


# -- 3. refused requests store nothing ----------------------------------------------------------------
def _signed(stack: Stack, envelope: dict, **kwargs) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(envelope)
    return body.encode(), signed_headers(stack.secret, envelope["id"], body, **kwargs)


def _bad_signature(stack, envelope):
    body = json.dumps(envelope)
    return body.encode(), signed_headers("whsec_" + "QUJD" * 8, envelope["id"], body), None


def _stale_timestamp(stack, envelope):
    return (*_signed(stack, envelope, timestamp=time.time() - 600), None)


def _tampered_body(stack, envelope):
    body, headers = _signed(stack, envelope)
    return body.replace(b"2.90", b"0.01"), headers, None


def _malformed_json(stack, envelope):
    body = json.dumps(envelope)[:-25]  # cut short, but signed as it is
    return body.encode(), signed_headers(stack.secret, envelope["id"], body), None


def _not_utf8(stack, envelope):
    body, headers = _signed(stack, envelope)
    return b"\xff\xfe" + body, headers, None


def _invalid_envelope(stack, envelope):
    return (*_signed(stack, {k: v for k, v in envelope.items() if k != "type"}), None)


def _foreign_store(stack, envelope):
    return (*_signed(stack, {**envelope, "store_id": stack.store_id + 987654}), None)


def _id_mismatch(stack, envelope):
    # Validly signed under webhook-id X, but the envelope says it is event Y.
    body = json.dumps({**envelope, "id": envelope["id"] + "-other"})
    return body.encode(), signed_headers(stack.secret, envelope["id"], body), None


def _not_json_content_type(stack, envelope):
    body, headers = _signed(stack, envelope)
    return body, {**headers, "content-type": "text/plain"}, None


def _unknown_integration(stack, envelope):
    return (*_signed(stack, envelope), "00000000-0000-0000-0000-000000000000")


@pytest.mark.parametrize(("make", "status"), [
    (_bad_signature, 401), (_stale_timestamp, 401), (_tampered_body, 401), (_not_utf8, 401), (_malformed_json, 400),
    (_invalid_envelope, 400), (_foreign_store, 400), (_id_mismatch, 400), (_not_json_content_type, 415),
    (_unknown_integration, 404),
], ids=lambda v: v.__name__.strip("_") if callable(v) else str(v))
def test_refused_push_stores_nothing(stack, make, status):
    envelope = ev.sale(stack.store_id)
    before = stack.events_count()
    body, headers, integration_id = make(stack, envelope)

    reply = stack.post_raw(body, headers, integration_id=integration_id)

    assert reply.status_code == status, reply.text
    assert reply.json().get("error")
    assert stack.events_count() == before
    assert stack.event(envelope["id"]) is None


# -- 8. probes ---------------------------------------------------------------------------------------
def test_health_and_readiness_probes(stack):
    health = stack.http.get(f"{stack.receiver_url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = stack.http.get(f"{stack.receiver_url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}


def test_readiness_fails_when_the_broker_is_down_but_events_are_still_accepted(stack):
    receiver, url = stack.start_receiver(KAPTA_BROKER_URL=DEAD_BROKER)
    try:
        # Plain requests, no kept-alive connection: gunicorn then stops at once instead of waiting on it.
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200  # alive, but not ready
        ready = requests.get(f"{url}/readyz", timeout=15)
        assert ready.status_code == 503, ready.text
        checks = ready.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["broker"].startswith("unavailable")
        assert ready.json()["status"] == "not ready"

        # Accepted means durable: the inbox has the event even though it could not be enqueued
        # (the sweeper enqueues it later; see the chaos tests).
        envelope = ev.sale(stack.store_id)
        reply = send_event(url, stack.integration_id, stack.secret, envelope)
        assert reply.status_code == 202, reply.text
        event = stack.event(envelope["id"])
        assert event is not None and event.status == "received"
    finally:
        receiver.stop()


# -- metrics across processes ------------------------------------------------------------------------
def test_metrics_sum_the_worker_and_receiver_processes(stack):
    """The receiver's gunicorn workers and the Celery worker's children write to one multiprocess
    directory (both default to $KAPTA_DATA_DIR/prometheus); /metrics adds them up."""
    from prometheus_client.parser import text_string_to_metric_families

    envelope = ev.sale(stack.store_id)
    assert stack.push(envelope).status_code == 202
    stack.wait_done(envelope["id"])

    text = requests.get(f"{stack.receiver_url}/metrics", timeout=10).text

    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    mine = {"integration": stack.integration_id}

    def total(name: str, **labels: str) -> float:
        return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())

    assert total("kapta_events_accepted_total", **mine, source="push") >= 1  # written by a web worker
    assert total("kapta_events_finished_total", **mine, status="done") >= 1  # written by a worker child
    assert total("kapta_vendus_request_duration_seconds_count", **mine, method="POST") >= 1
    assert total("kapta_step_duration_seconds_count", step="actions") >= 1
    assert total("kapta_queue_depth", queue="billing") == 0
    assert total("kapta_state_up") == 1

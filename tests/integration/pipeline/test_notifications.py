"""Lifecycle notifications through apprise, to a real (local) HTTP endpoint.

A ``json://`` apprise URL posts ``{"title", "message", ...}`` to a tiny server started here. A
notification never blocks billing: a failing channel records a failed ``notify`` step run and
raises nothing.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pipeline_testkit import NIF_BAD_CHECK_DIGIT, Envelopes, Pipeline

from kapta_vendus.pipeline import runner
from kapta_vendus.pipeline.notify import notify_event

pytestmark = pytest.mark.integration


@dataclass
class Hook:
    port: int
    bodies: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def url(self, path: str = "hooks/vendus") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    @property
    def messages(self) -> list[str]:
        return [b["message"] for b in self.bodies]


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A local HTTP endpoint that records every JSON body posted to it."""
    captured = Hook(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length") or 0)
            captured.bodies.append(json.loads(self.rfile.read(length) or b"{}"))
            captured.paths.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    captured.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield captured
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once it is closed


@pytest.fixture
def notified(pipeline, make_tenant, hook) -> Pipeline:
    """The pipeline with a tenant that notifies every outcome to ``hook`` (in Portuguese)."""
    tenant = make_tenant(name="notified-shop", notifications={"language": "pt", "channels": [
        {"url": hook.url(), "events": ["*"], "on": ["done", "rejected", "dead"]}]})
    return Pipeline(pipeline.db, pipeline.settings, pipeline.sim, tenant, pipeline.receiver, pipeline.enqueued)


def _notify_runs(pipeline, event_id: int) -> list[tuple[str, str]]:
    return [(r.status, r.summary) for r in pipeline.step_runs(event_id) if r.step == "notify"]


def test_issued_document_is_notified_in_portuguese(notified, hook, enqueued):
    sale = Envelopes(notified.tenant.store_id).sale_completed()
    event_id = notified.process(sale)
    assert enqueued.notifications == [event_id]  # the sync step asked for it, after its commit
    [fs] = notified.documents(type="FS")

    assert notify_event(notified.db, event_id) == 1

    [body] = hook.bodies
    assert hook.paths == ["/hooks/vendus"]
    assert body["title"] == "Fatura simplificada emitida"
    assert body["message"] == (f"Fatura simplificada {fs['number']} emitida para a venda "
                               f"{sale['data']['sale_id']} (2,90 €)")
    assert _notify_runs(notified, event_id) == [("ok", "1/1 notification(s) delivered")]


def test_receipt_and_credit_note_messages_name_their_documents(notified, hook):
    envelopes = Envelopes(notified.tenant.store_id)
    sale = envelopes.sale_completed(payment_status="pending")
    sale_id = sale["data"]["sale_id"]
    notified.process(sale)
    [ft] = notified.documents(type="FT")
    payment = notified.process(envelopes.payment_confirmed(sale_id=sale_id, amount="1.30"))
    refund = notified.process(envelopes.sale_refunded(sale_id=sale_id, reason="Café frio",
                                                      lines=[{"reference": "CAFE", "qty": "1"}]))
    [rg], [nc] = notified.documents(type="RG"), notified.documents(type="NC")

    notify_event(notified.db, payment)
    notify_event(notified.db, refund)

    assert hook.messages == [f"Recibo {rg['number']} emitido para {ft['number']} (1,30 €)",
                             f"Nota de crédito {nc['number']} emitida sobre {ft['number']}: Café frio"]


def test_rejected_event_is_notified_with_its_reason(notified, hook):
    customer = {"name": "Cliente", "fiscal_id": NIF_BAD_CHECK_DIGIT}
    envelope = Envelopes(notified.tenant.store_id).sale_completed(customer=customer)
    event_id = notified.process(envelope)
    assert notified.event(event_id).status == "rejected"

    assert notify_event(notified.db, event_id) == 1

    [body] = hook.bodies
    assert body["title"] == "Evento rejeitado"
    assert body["message"].startswith(f"Evento sale.completed {envelope['id']} rejeitado: ")
    assert "NIF" in body["message"]


def test_failing_channel_records_a_failed_step_and_raises_nothing(pipeline, make_tenant):
    tenant = make_tenant(name="broken-hook", notifications={"channels": [
        {"url": f"json://127.0.0.1:{_closed_port()}/hooks/vendus"}]})
    event_id = pipeline.process(Envelopes(tenant.store_id).sale_completed(), tenant=tenant)
    assert pipeline.event(event_id).status == "done"

    assert notify_event(pipeline.db, event_id) == 0

    assert _notify_runs(pipeline, event_id) == [("failed", "0/1 notification(s) delivered")]
    assert pipeline.event(event_id).status == "done"  # billing is not affected
    assert len(pipeline.documents(type="FS")) == 1


def test_one_failing_channel_does_not_stop_the_others(pipeline, make_tenant, hook):
    tenant = make_tenant(name="two-hooks", notifications={"channels": [
        {"url": f"json://127.0.0.1:{_closed_port()}/down"}, {"url": hook.url()}]})
    event_id = pipeline.process(Envelopes(tenant.store_id).sale_completed(), tenant=tenant)

    assert notify_event(pipeline.db, event_id) == 1

    assert len(hook.bodies) == 1
    assert _notify_runs(pipeline, event_id) == [("failed", "1/2 notification(s) delivered")]


def test_channels_only_hear_their_events_and_outcomes(pipeline, make_tenant, hook, enqueued):
    tenant = make_tenant(name="picky-hook", notifications={"channels": [
        {"url": hook.url("payments"), "events": ["payment.confirmed"]},
        {"url": hook.url("problems"), "on": ["rejected", "dead"]}]})
    event_id = pipeline.process(Envelopes(tenant.store_id).sale_completed(), tenant=tenant)

    assert notify_event(pipeline.db, event_id) == 0

    assert hook.bodies == []
    assert enqueued.notifications == [event_id]


def test_no_channels_no_notification_enqueued(pipeline, envelopes, enqueued):
    pipeline.process(envelopes.sale_completed())

    assert enqueued.notifications == []


def test_rejected_and_dead_events_are_enqueued_for_notification(notified, hook, enqueued):
    envelopes = Envelopes(notified.tenant.store_id)
    rejected = notified.process(envelopes.sale_completed(customer={"fiscal_id": NIF_BAD_CHECK_DIGIT}))
    dying = notified.accept(envelopes.sale_completed())
    runner.mark_dead(notified.db, dying, RuntimeError("retries exhausted"))  # what the task does at the end

    assert enqueued.notifications == [rejected, dying]
    notify_event(notified.db, dying)
    assert hook.bodies[0]["title"] == "Evento falhou"
    assert "retries exhausted" in hook.bodies[0]["message"]


def test_rejection_of_a_tenant_without_channels_enqueues_nothing(pipeline, envelopes, enqueued):
    pipeline.process(envelopes.sale_completed(customer={"fiscal_id": NIF_BAD_CHECK_DIGIT}))

    assert enqueued.notifications == []


def test_document_seen_in_vendus_is_notified_once(notified, hook, vendus):
    tenant = notified.tenant
    register_id = tenant.mapping["stores"][tenant.store_id]["register_id"]
    made = notified.sim.state.create_document(tenant.api_key, {
        "type": "FT", "register_id": register_id, "mode": "normal",
        "items": [{"reference": "BOLO", "title": "Bolo de aniversário", "gross_price": "25.00", "qty": "1",
                   "tax_id": "RED"}]})
    envelope = Envelopes(tenant.store_id).document_event("invoice.created", vendus.get_document(made["id"]))
    event_id = notified.process(envelope)

    assert notify_event(notified.db, event_id) == 1

    assert hook.messages == [f"Fatura {made['number']} registada no Vendus (25,00 €)"]

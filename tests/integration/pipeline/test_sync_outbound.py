"""Keeping other systems in sync, on PostgreSQL with the simulator over HTTP (reference/events.md,
"Outbound events to destinations" and "customer.upserted and product.upserted").

Deliveries are recorded with the event's final state and sent by ``destinations.sender.deliver``,
here called directly (the outbound queue's task is a thin adapter over it). The destination is a
local server that verifies every signature with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from destination_server import DestinationServer
from sqlalchemy import select

from kapta_vendus.db.models import Integration
from kapta_vendus.db.sync_models import Delivery, Destination, MasterDataLink
from kapta_vendus.destinations import log, sender
from kapta_vendus.destinations.registry import (
    DestinationSpec,
    rotate_destination_secret,
    set_destination_enabled,
    upsert_destination,
)
from kapta_vendus.tasks import dispatch


@pytest.fixture
def deliveries_enqueued(monkeypatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(dispatch, "enqueue_delivery", sent.append)
    monkeypatch.setattr(dispatch, "enqueue_email", lambda _id: None)
    return sent


def add_destination(pipeline, url: str, *, name: str = "pos", events=("document.issued", "sale.rejected"),
                    **fields) -> tuple[int, str]:
    with pipeline.db.unit_of_work() as session:
        dest, secret = upsert_destination(session, pipeline.settings, pipeline.tenant.id,
                                          DestinationSpec(name, url, tuple(events), **fields))
        return dest.id, secret


def run(pipeline, envelope) -> int:
    event_id = pipeline.accept(envelope)
    pipeline.run_chain(event_id)
    return event_id


def test_document_issued_is_signed_carries_the_invoice_and_keeps_its_webhook_id_across_retries(
        pipeline, envelopes, deliveries_enqueued):
    with DestinationServer(fail_times=2, fail_status=503) as server:
        _, secret = add_destination(pipeline, server.url)
        server.secret = secret
        settings = pipeline.settings.replace(delivery_backoff=0.01, delivery_timeout=2.0)
        run(pipeline, envelopes.sale_completed(sale_id="S-1"))

        (delivery_id,) = deliveries_enqueued
        outcomes = []
        for _ in range(3):
            outcomes.append(sender.deliver(pipeline.db, settings, delivery_id, force=True))
        assert outcomes == ["retry", "retry", "delivered"]
        assert len(set(server.ids())) == 1 and all(r.verified for r in server.received)
        body = server.received[-1].body
        assert body["type"] == "document.issued" and body["integration"] == pipeline.tenant.name
        doc = body["data"]["document"]
        assert body["data"]["sale_id"] == "S-1" and doc["number"].startswith("FS ")
        assert doc["atcud"] and doc["qrcode_data"] and doc["amount_gross"] == "2.90"
        with pipeline.db.unit_of_work() as session:
            row = session.get(Delivery, delivery_id)
            assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 204)


def test_the_same_document_is_delivered_once_even_when_its_event_is_replayed(pipeline, envelopes,
                                                                            deliveries_enqueued):
    add_destination(pipeline, "http://127.0.0.1:9/unused")
    envelope = envelopes.sale_completed(sale_id="S-2")
    run(pipeline, envelope)
    run(pipeline, {**envelope, "id": envelope["id"] + "-again"})  # the POS re-sends the sale
    assert len(deliveries_enqueued) == 1


def test_workers_see_a_destination_added_narrowed_or_disabled_at_the_next_event(pipeline, envelopes,
                                                                                deliveries_enqueued):
    """The active destinations are cached with the integration's updated_at (destinations.active):
    each change of whom a destination is told must move it, or a worker would keep its old answer."""
    def stamp():
        with pipeline.db.unit_of_work() as session:
            return session.get(Integration, pipeline.tenant.id).updated_at

    run(pipeline, envelopes.sale_completed(sale_id="C-1"))  # cached: no destination
    assert deliveries_enqueued == []
    before = stamp()
    dest_id, _ = add_destination(pipeline, "http://127.0.0.1:9/unused")
    assert stamp() > before
    run(pipeline, envelopes.sale_completed(sale_id="C-2"))
    assert len(deliveries_enqueued) == 1

    before = stamp()
    add_destination(pipeline, "http://127.0.0.1:9/unused", events=("sale.rejected",))  # narrowed
    assert stamp() > before
    run(pipeline, envelopes.sale_completed(sale_id="C-3"))
    assert len(deliveries_enqueued) == 1

    add_destination(pipeline, "http://127.0.0.1:9/unused")  # widened again, then disabled
    before = stamp()
    with pipeline.db.unit_of_work() as session:
        set_destination_enabled(session.get(Destination, dest_id), False)
    assert stamp() > before
    run(pipeline, envelopes.sale_completed(sale_id="C-4"))
    assert len(deliveries_enqueued) == 1

    before = stamp()  # what the sender writes on every attempt does not invalidate the caches
    with pipeline.db.unit_of_work() as session:
        session.get(Destination, dest_id).consecutive_failures = 3
    assert stamp() == before


def test_a_rejected_sale_is_reported_and_410_disables_the_destination(pipeline, envelopes, deliveries_enqueued):
    with DestinationServer(fail_times=1, fail_status=410) as server:
        dest_id, server.secret = add_destination(pipeline, server.url)
        bad = envelopes.sale_completed(sale_id="S-3", customer={"name": "X", "fiscal_id": "123456780"})
        run(pipeline, bad)
        (delivery_id,) = deliveries_enqueued
        assert sender.deliver(pipeline.db, pipeline.settings, delivery_id) == "gone"
        assert server.received[0].body["type"] == "sale.rejected"
        assert server.received[0].body["data"]["reasons"]
        with pipeline.db.unit_of_work() as session:
            assert session.get(Destination, dest_id).status == "disabled"
            assert session.get(Delivery, delivery_id).status == "dead"


def test_after_the_horizon_a_delivery_is_dead_and_replay_sends_it_again_with_the_same_id(
        pipeline, envelopes, deliveries_enqueued):
    with DestinationServer(fail_times=1) as server:
        _, server.secret = add_destination(pipeline, server.url)
        run(pipeline, envelopes.sale_completed(sale_id="S-4"))
        (delivery_id,) = deliveries_enqueued
        short = pipeline.settings.replace(delivery_horizon_hours=0.0001, delivery_backoff=60)
        assert sender.deliver(pipeline.db, short, delivery_id) == "dead"
        with pipeline.db.unit_of_work() as session:  # someone is told: an alert, once
            from kapta_vendus.db.models import Alert

            assert session.scalars(select(Alert.kind)).all() == ["delivery_dead"]
        replayed = log.replay_dead(pipeline.db, pipeline.tenant.id, delivery_ids=[delivery_id],
                                   enqueue=deliveries_enqueued.append)
        assert replayed == [delivery_id]
        assert sender.deliver(pipeline.db, pipeline.settings, delivery_id) == "delivered"
        assert server.ids()[0] == server.ids()[1]
        rows = log.list_deliveries(pipeline.db, pipeline.tenant.id)
        assert rows[0].status == "delivered" and rows[0].attempts == 2


def test_a_hanging_destination_costs_one_timeout_and_delays_no_other(pipeline, envelopes, deliveries_enqueued):
    with DestinationServer(hang_seconds=3) as slow, DestinationServer() as fast:
        _, slow.secret = add_destination(pipeline, slow.url, name="slow")
        _, fast.secret = add_destination(pipeline, fast.url, name="fast")
        settings = pipeline.settings.replace(delivery_timeout=0.5)
        started = time.monotonic()
        run(pipeline, envelopes.sale_completed(sale_id="S-5"))
        billing_took = time.monotonic() - started
        slow_id, fast_id = deliveries_enqueued
        assert sender.deliver(pipeline.db, settings, fast_id) == "delivered"
        t0 = time.monotonic()
        assert sender.deliver(pipeline.db, settings, slow_id) == "retry"
        assert time.monotonic() - t0 < 2.5  # the read timeout, not the destination's 3 s
        assert billing_took < 3  # billing never waited for either destination


def test_rotation_signs_with_both_secrets_during_the_overlap(pipeline, envelopes, deliveries_enqueued):
    with DestinationServer() as server:
        dest_id, old = add_destination(pipeline, server.url)
        with pipeline.db.unit_of_work() as session:
            new = rotate_destination_secret(session, pipeline.settings, session.get(Destination, dest_id),
                                            timedelta(hours=1))
        server.secret = old
        run(pipeline, envelopes.sale_completed(sale_id="S-6"))
        assert sender.deliver(pipeline.db, pipeline.settings, deliveries_enqueued[0]) == "delivered"
        server.secret = new
        run(pipeline, envelopes.sale_completed(sale_id="S-7"))
        assert sender.deliver(pipeline.db, pipeline.settings, deliveries_enqueued[1]) == "delivered"
        assert all(r.verified for r in server.received)


def test_customer_upserted_twice_and_an_older_version_make_one_vendus_client(pipeline, envelopes, simulator):
    data = {"customer_id": "C-9", "name": "Maria Silva", "fiscal_id": "PT 501964843", "email": "m@example.pt"}
    first = envelopes.envelope("customer.upserted", data)
    run(pipeline, first)
    # The same version under another id is the same inbox event (dedup by record and version).
    assert pipeline.push({**first, "id": first["id"] + "-dup"}).get_json()["status"] == "duplicate"
    newer = {**envelopes.envelope("customer.upserted", {**data, "city": "Porto"}),
             "occurred_at": "2030-01-01T00:00:00+00:00"}
    older = {**envelopes.envelope("customer.upserted", {**data, "city": "Faro"}),
             "occurred_at": "2020-01-01T00:00:00+00:00"}
    run(pipeline, newer)
    run(pipeline, older)  # arrives late: must not overwrite Porto
    clients = [c for c in simulator.state.accounts[pipeline.tenant.api_key].clients.values()
               if c["fiscal_id"] == "501964843"]
    assert len(clients) == 1 and clients[0]["city"] == "Porto"
    with pipeline.db.unit_of_work() as session:
        link = session.scalar(select(MasterDataLink).where(MasterDataLink.source_key == "C-9"))
        assert link.vendus_id == clients[0]["id"]
    # A sale of that customer names the mapped client instead of repeating its data.
    run(pipeline, envelopes.sale_completed(sale_id="S-8", customer={"name": "M. Silva", "fiscal_id": "501964843",
                                                                     "customer_id": "C-9"}))
    docs = list(simulator.state.accounts[pipeline.tenant.api_key].docs.values())
    assert docs[-1]["client"]["id"] == clients[0]["id"]


def test_product_upserted_creates_then_patches_by_reference_and_the_mapping_points_at_it(
        pipeline, envelopes, simulator):
    data = {"reference": "BOLO", "title": "Bolo de arroz", "gross_price": "1.50", "tax": "INT",
            "kind": "goods", "barcode": "5601234567890", "unit": "Unidade"}
    run(pipeline, envelopes.envelope("product.upserted", data))
    same = run(pipeline, {**envelopes.envelope("product.upserted", data), "occurred_at": "2029-01-01T00:00:00+00:00"})
    with pipeline.db.unit_of_work() as session:  # a newer version with the same content writes nothing
        from kapta_vendus.db.models import StepRun

        written = session.scalar(select(StepRun.output).where(StepRun.event_id == same, StepRun.step == "actions"))
        assert (written["action"], written["result"]["action"]) == ("upsert_masterdata", "unchanged")
    run(pipeline, {**envelopes.envelope("product.upserted", {**data, "gross_price": "1.70", "kind": "service"}),
                   "occurred_at": "2030-01-01T00:00:00+00:00"})
    account = simulator.state.accounts[pipeline.tenant.api_key]
    products = [p for p in account.products.values() if p["reference"] == "BOLO"]
    assert len(products) == 1
    assert (products[0]["gross_price"], products[0]["type_id"], products[0]["barcode"]) == (
        "1.70", "S", "5601234567890")
    with pipeline.db.unit_of_work() as session:
        from kapta_vendus.db.models import Integration

        config = session.get(Integration, pipeline.tenant.id).config
        assert config["mapping"]["products"]["BOLO"] == products[0]["id"]
    from dataclasses import fields

    from kapta_vendus.pipeline.mapping import IntegrationMapping

    if "product_kinds" in {f.name for f in fields(IntegrationMapping)}:  # where the mapping has kinds
        assert config["mapping"]["product_kinds"]["BOLO"] == "service"


def test_rate_limit_and_circuit_breaker_defer_without_a_request(pipeline, envelopes, deliveries_enqueued):
    with DestinationServer(fail_times=100) as server:
        dest_id, server.secret = add_destination(pipeline, server.url, rate_limit_per_minute=1)
        run(pipeline, envelopes.sale_completed(sale_id="S-9"))
        run(pipeline, envelopes.sale_completed(sale_id="S-10"))
        first, second = deliveries_enqueued
        assert sender.deliver(pipeline.db, pipeline.settings, first) == "retry"
        assert sender.deliver(pipeline.db, pipeline.settings, second, force=True) == "rate limited"
        assert len(server.received) == 1

        with pipeline.db.unit_of_work() as session:
            destination = session.get(Destination, dest_id)
            destination.rate_limit_per_minute = None
        settings = pipeline.settings.replace(delivery_cooldown=60)
        for _ in range(4):  # failures 2..5: the fifth in a row opens the circuit
            assert sender.deliver(pipeline.db, settings, first, force=True) == "retry"
        assert sender.deliver(pipeline.db, settings, second, force=True) == "circuit open"
        assert len(server.received) == 5  # the open circuit sent nothing
        with pipeline.db.unit_of_work() as session:
            delivery = session.get(Delivery, second)
            assert delivery.attempts == 0 and delivery.next_attempt_at >= session.get(
                Destination, dest_id).circuit_open_until


def test_a_dead_event_is_reported_as_event_dead(pipeline, envelopes, deliveries_enqueued):
    from kapta_vendus.pipeline import runner

    with DestinationServer() as server:
        _, server.secret = add_destination(pipeline, server.url, events=("event.dead",))
        event_id = pipeline.accept(envelopes.sale_completed(sale_id="S-11"))
        runner.mark_dead(pipeline.db, event_id, TimeoutError("Vendus did not answer"))
        (delivery_id,) = deliveries_enqueued
        assert sender.deliver(pipeline.db, pipeline.settings, delivery_id) == "delivered"
        body = server.received[0].body
        assert body["type"] == "event.dead" and body["data"]["event_type"] == "sale.completed"
        assert "TimeoutError" in body["data"]["last_error"]


def test_an_upsert_is_written_by_bill_inside_the_integrations_breaker(pipeline, envelopes, simulator):
    """``prepare`` only decides; the Vendus calls run in ``bill``, under the guard the billing task
    wraps around it (the circuit breaker), so an open breaker stops them before any request."""
    from contextlib import contextmanager

    from kapta_vendus.pipeline import runner, steps
    from kapta_vendus.vendus import VendusUnavailable

    account = simulator.state.accounts[pipeline.tenant.api_key]
    event_id = pipeline.accept(envelopes.envelope("customer.upserted", {"customer_id": "C-77", "name": "Rui Costa",
                                                                        "email": "rui@example.pt"}))
    prepared = runner.run_stage(pipeline.db, pipeline.settings, "prepare", steps.STEPS, event_id)
    assert not prepared.stop and pipeline.event(event_id).current_step == "actions"
    ours = lambda: [c for c in account.clients.values() if c["external_reference"] == "C-77"]  # noqa: E731
    assert not ours()  # prepare wrote nothing

    guarded: list[str] = []

    @contextmanager
    def breaker(integration_id: str, *, open_: bool):
        guarded.append(integration_id)
        if open_:
            raise VendusUnavailable("circuit open")
        yield

    with pytest.raises(VendusUnavailable):
        runner.run_stage(pipeline.db, pipeline.settings, "bill", steps.STEPS, event_id,
                         guard=lambda i: breaker(i, open_=True))
    assert not ours()
    billed = runner.run_stage(pipeline.db, pipeline.settings, "bill", steps.STEPS, event_id,
                              guard=lambda i: breaker(i, open_=False))
    assert not billed.stop and guarded == [pipeline.tenant.id, pipeline.tenant.id]
    assert len(ours()) == 1
    runner.run_stage(pipeline.db, pipeline.settings, "sync", steps.STEPS, event_id)
    assert pipeline.event(event_id).status == "done"


def test_rules_cannot_name_the_masterdata_action():
    from kapta_vendus.pipeline.errors import RuleConfigError
    from kapta_vendus.pipeline.rules import compile_rules

    with pytest.raises(RuleConfigError) as refused:
        compile_rules([{"name": "sneaky", "events": ["*"],
                        "actions": [{"kind": "upsert_masterdata", "params": {"record": "customer", "key": "X"}}]}])
    assert "decided by the service, not by rules" in str(refused.value.reasons)

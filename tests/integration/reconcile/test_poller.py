"""The poller against the simulator: Vendus changes become inbox events once, an idle store costs one request."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from reconcile_testkit import API_KEY, SIM_TIMEOUT, World

from kapta_vendus.db.models import Event, Issuance
from kapta_vendus.pipeline.inbox import store_event
from kapta_vendus.pipeline.mirror import upsert_document
from kapta_vendus.reconcile.idle import idle_polls
from kapta_vendus.reconcile.locks import lock_name, store_lock
from kapta_vendus.reconcile.policy import ReconcilePolicy
from kapta_vendus.vendus import VendusClient, VendusUnavailable

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def test_a_document_made_in_vendus_becomes_one_event_within_one_poll(world: World):
    ft = world.create(type="FT", external_reference="POS-1")

    result = world.poll()

    (event,) = world.events()
    assert (event.type, event.source, event.status) == ("invoice.created", "poll", "received")
    assert event.dedup_key == f"vendus:{ft['id']}:N"
    data = world.event_data(event)
    # The detail shape: status as an object, lines and debt present.
    assert data["number"] == ft["number"] and data["status"]["id"] == "N" and data["items"]
    assert world.enqueued == [event.id]
    assert result.counts["new"] == 1 and result.counts["events"] == 1
    mirrored = world.mirror(ft["id"])
    assert (mirrored.type, mirrored.number, mirrored.status) == ("FT", ft["number"], "N")
    assert not mirrored.issued_here
    (run,) = world.runs("poll")
    assert run.status == "ok" and run.counts["events"] == 1 and run.finished_at is not None


def test_the_event_goes_through_the_chain_as_a_link_and_is_never_reissued(world: World):
    world.create(type="FT", external_reference="POS-2")
    world.poll()
    (event,) = world.events()
    posts = world.requests("documents", "POST")

    world.run_chain(event.id)

    assert world.events()[0].status == "done"
    assert world.requests("documents", "POST") == posts


def test_each_new_document_type_maps_to_its_event(world: World):
    cash = world.method_id("NU")
    ft = world.create(type="FT")
    fr = world.create(type="FR", payments=[{"id": cash}])
    nc = world.create(type="NC", notes="Devolução", items=[
        {"reference_document": {"document_number": ft["number"], "document_row": 1}, "reference": "CAFE", "qty": 1}])
    rg = world.create(type="RG", payments=[{"id": cash, "amount": "0.50"}],
                      invoices=[{"document_number": ft["number"]}])
    world.create(type="OT")  # a quote: mirrored, no event

    world.poll()

    by_doc = {json.loads(e.raw)["data"]["id"]: e.type for e in world.events()}
    assert by_doc[ft["id"]] == "invoice.created"
    assert by_doc[fr["id"]] == "invoice.created"
    assert by_doc[nc["id"]] == "credit_note.issued"
    assert by_doc[rg["id"]] == "receipt.issued"
    # An FR is its own receipt (no automatic RG, vendus-api §7.2); the quote made no event.
    assert sorted(by_doc.values()).count("receipt.issued") == 1
    assert len(by_doc) == 4


def test_a_cancelled_receipt_becomes_document_cancelled(world: World):
    ft = world.create(type="FT")
    rg = world.create(type="RG", payments=[{"id": world.method_id(), "amount": "1.00"}],
                      invoices=[{"document_number": ft["number"]}])
    world.poll()
    before = {e.dedup_key for e in world.events()}

    world.patch(rg["id"], "A")
    result = world.poll()

    (cancelled,) = [e for e in world.events() if e.dedup_key not in before]
    assert cancelled.type == "document.cancelled" and cancelled.dedup_key == f"vendus:{rg['id']}:A"
    assert world.event_data(cancelled)["status"]["id"] == "A"
    assert world.mirror(rg["id"]).status == "A"
    # The invoice's debt went back up: mirrored, but no event (its status did not change).
    assert result.counts["changed"] == 2 and result.counts["events"] == 1


def test_push_then_poll_of_the_same_document_is_one_event(world: World):
    ft = world.create(type="FT", external_reference="POS-3")
    detail = world.sim.state.get_document(API_KEY, ft["id"])
    envelope = {"id": "evt-pushed-1", "type": "invoice.created", "occurred_at": "2026-01-01T00:00:00+00:00",
                "store_id": world.store_id, "data": detail}
    from kapta_vendus.events.catalogue import dedup_key

    with world.db.unit_of_work() as session:
        pushed = store_event(session, world.integration_id, source="push", envelope=envelope,
                             dedup_key=dedup_key(envelope))

    result = world.poll()

    (event,) = world.events()
    assert event.id == pushed.event_id and event.source == "push"
    assert world.enqueued == []
    assert result.counts["duplicates"] == 1 and result.counts["events"] == 0


def test_poll_then_push_of_the_same_document_is_one_event(world: World):
    ft = world.create(type="FT")
    world.poll()
    detail = world.sim.state.get_document(API_KEY, ft["id"])
    envelope = {"id": "evt-pushed-2", "type": "invoice.created", "occurred_at": "2026-01-01T00:00:00+00:00",
                "store_id": world.store_id, "data": detail}
    from kapta_vendus.events.catalogue import dedup_key

    with world.db.unit_of_work() as session:
        again = store_event(session, world.integration_id, source="push", envelope=envelope,
                            dedup_key=dedup_key(envelope))

    assert not again.created and len(world.events()) == 1


def test_an_idle_store_costs_exactly_one_request_per_poll_whatever_its_history(world: World):
    today = date.fromisoformat(world.sim.state.today(API_KEY))
    world.sim.state.bulk_create_documents(API_KEY, 3000, start_date=(today - timedelta(days=400)).isoformat(),
                                          end_date=today.isoformat())
    first = world.poll()
    assert first.counts["new"] > 0  # the last days of that history were new to this store's poller

    for _ in range(3):
        before_list, before_detail = world.requests("documents"), world.requests("documents/{id}")
        result = world.poll()
        assert world.requests("documents") - before_list == 1
        assert world.requests("documents/{id}") == before_detail
        assert result.counts["events"] == 0 and result.counts["new"] == 0 and result.counts["changed"] == 0
        assert result.counts["unchanged"] == result.counts["listed"] > 0


def test_an_idle_poll_writes_nothing_and_is_counted(world: World):
    world.create(type="FT")
    world.poll()
    runs, cursor = len(world.runs("poll")), world.cursor()
    idle_before = idle_polls(world.settings).get(world.integration_id, 0)

    result = world.poll()

    assert result.counts["unchanged"] == result.counts["listed"] == 1 and result.run_id is None
    assert len(world.runs("poll")) == runs  # no run row
    after = world.cursor()
    assert (after.updated_at, after.position, after.cursor_date) == (cursor.updated_at, cursor.position,
                                                                     cursor.cursor_date)  # no cursor write
    assert idle_polls(world.settings)[world.integration_id] == idle_before + 1


def test_an_empty_store_is_one_request_and_no_error(world: World):
    before = world.requests("documents")
    result = world.poll()
    assert world.requests("documents") - before == 1
    assert result.counts["listed"] == 0 and not result.skipped
    assert world.cursor() is None and world.runs("poll") == []  # an idle poll writes nothing


def test_the_cursor_follows_committed_pages_only(world: World):
    docs = [world.create(type="FT") for _ in range(5)]
    small = ReconcilePolicy(per_page=2)
    failing = {docs[4]["id"]}  # on the third page

    class BrokenDetail(VendusClient):
        def get_document(self, doc_id, **kwargs):
            if int(doc_id) in failing:
                raise VendusUnavailable("503 from Vendus")
            return super().get_document(doc_id, **kwargs)

    client = BrokenDetail(world.sim.base_url, API_KEY, timeout=SIM_TIMEOUT)
    with client, pytest.raises(VendusUnavailable):
        world.poll(small, client=client)
    assert len(world.events()) == 4
    assert world.cursor().position["page"] == 2
    (failed,) = world.runs("poll")
    assert failed.status == "failed" and failed.counts["events"] == 4

    failing.clear()
    world.poll(small)
    keys = [e.dedup_key for e in world.events()]
    assert sorted(keys) == sorted(f"vendus:{d['id']}:N" for d in docs)


def test_documents_issued_here_are_linked_not_announced(world: World):
    ft = world.create(type="FT", external_reference="SALE-9")
    with world.db.unit_of_work() as session:
        session.add(Issuance(integration_id=world.integration_id, idempotency_key="k" * 32, kind="issue_document",
                             business_key=f"sale:{world.store_id}:SALE-9", state="issued",
                             vendus_id=ft["id"], document_number=ft["number"]))

    result = world.poll()

    assert world.events() == []
    assert result.counts["own_documents"] == 1
    assert world.mirror(ft["id"]).issued_here


def test_a_document_already_mirrored_by_us_costs_no_event(world: World):
    ft = world.create(type="FT", external_reference="SALE-10")
    with world.db.unit_of_work() as session:  # what the billing action records after issuing
        upsert_document(session, world.integration_id, {**ft, "status": "N", "external_reference": "SALE-10"},
                        mode="normal", issued_here=True, store_id=world.store_id)

    first = world.poll()
    second = world.poll()

    assert world.events() == []
    assert first.counts["changed"] == 1 and second.counts["unchanged"] == 1


def test_a_poll_of_a_store_being_polled_is_skipped(world: World):
    before = world.requests("documents")
    with store_lock(world.settings, world.db, lock_name(world.integration_id, world.store_id)) as held:
        assert held
        result = world.poll()
    assert result.skipped and world.requests("documents") == before
    assert not world.poll().skipped


def test_the_redis_lock_is_used_when_the_broker_is_redis(world: World, redis_url):
    world.settings = world.settings.replace(broker_url=redis_url)
    import redis

    client = redis.Redis.from_url(redis_url)
    name = lock_name(world.integration_id, world.store_id)
    lock = client.lock(name, timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert world.poll().skipped
    finally:
        lock.release()
    assert not world.poll().skipped
    assert client.get(name) is None  # released after the poll
    client.close()


def test_finalized_quote_becomes_invoice_finalized_with_its_invoice(world: World):
    pf = world.create(type="PF", external_reference="ORDER-7")
    world.poll()
    ft = world.create(type="FT", external_reference="ORDER-7")
    world.patch(pf["id"], "F")

    world.poll()

    finalized = [e for e in world.events() if e.type == "invoice.finalized"]
    assert len(finalized) == 1 and finalized[0].dedup_key == f"vendus:{pf['id']}:F"
    data = world.event_data(finalized[0])
    assert data["status"]["id"] == "F" and data["invoice"]["number"] == ft["number"]
    world.run_chain(finalized[0].id)
    assert world.events(id=finalized[0].id)[0].status == "done"


def test_finalized_without_a_known_invoice_waits_for_it(world: World):
    pf = world.create(type="PF")
    world.poll()
    world.patch(pf["id"], "F")

    waiting = world.poll()
    again = world.poll()

    assert [e.type for e in world.events()] == []
    assert waiting.counts["waiting"] == 1 and again.counts["waiting"] == 1


def test_a_table_check_is_a_sale_only_where_the_mapping_says_so(world_factory):
    plain = world_factory(name="plain")
    dc = plain.create(type="DC", items=[{"reference": "CAFE", "qty": 2}])
    plain.poll()
    assert plain.events() == []

    sales = world_factory(name="with-dc", mapping={"sale_document_sources": ["DC"]})
    sales.poll()

    (event,) = sales.events()
    assert event.type == "sale.completed" and event.dedup_key == f"vendus:{dc['id']}:N"
    sale = sales.event_data(event)
    assert sale["sale_id"] == dc["number"] and sale["payment_status"] == "pending"
    assert sale["lines"] == [{"reference": "CAFE", "title": "Café", "qty": "2.000", "unit_price": "0.80",
                              "tax": "RED"}]
    from kapta_vendus.events.validation import validate_event

    validate_event(json.loads(event.raw))  # a valid sale.completed for the chain


def test_the_first_poll_looks_back_only_a_little(world: World):
    today = date.fromisoformat(world.sim.state.today(API_KEY))
    world.sim.state.bulk_create_documents(API_KEY, 10, start_date=(today - timedelta(days=30)).isoformat(),
                                          end_date=(today - timedelta(days=20)).isoformat())
    result = world.poll()
    assert result.counts["listed"] == 0
    assert world.count(Event) == 0

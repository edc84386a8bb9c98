"""The default workflows over the real stack: signed HTTP → receiver → Postgres → Redis → worker → Vendus.

One stack (simulator, receiver, worker) serves the whole module; every test uses its own sale
and event ids, and asserts on both sides: what the simulator holds, and what the state database
says (event outcome, documents mirror).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import e2e_events as ev
import pytest
from e2e_stack import Stack, running_stack
from processes import wait_until
from sqlalchemy import select
from sqlalchemy.orm import Session

from kapta_vendus.db.models import Document, Link
from kapta_vendus.receiver.sender import send_event

pytestmark = pytest.mark.e2e

STEPS = ["validate", "normalise", "map", "rules", "actions", "sync"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_admin_url, e2e_redis_url, e2e_fernet_key) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("e2e-workflows"), pg_admin_url, e2e_redis_url,
                       e2e_fernet_key, name="e2e-workflows") as running:
        yield running


def _accepted(stack: Stack, envelope: dict) -> None:
    reply = stack.push(envelope)
    assert reply.status_code == 202, reply.text
    assert reply.json()["status"] == "accepted"


def _one_sim_document(stack: Stack, reference: str, doc_type: str) -> dict:
    docs = stack.sim_documents(reference)
    assert [d["type"] for d in docs] == [doc_type], f"documents with reference {reference!r}: {docs}"
    return docs[0]


def _mirrored(stack: Stack, sim_doc: dict) -> Document:
    rows = stack.documents(vendus_id=int(sim_doc["id"]))
    assert len(rows) == 1, f"mirror rows for Vendus document {sim_doc['id']}: {rows}"
    row = rows[0]
    assert (row.type, row.number, row.amount_gross) == (
        sim_doc["type"], sim_doc["number"], Decimal(sim_doc["amount_gross"]))
    return row


def _sale_docs(stack: Stack, envelope: dict, doc_type: str) -> tuple[dict, Document]:
    """Push a sale, wait for it to finish ``done``, return its one simulator document and mirror row."""
    _accepted(stack, envelope)
    stack.wait_done(envelope["id"])
    sim_doc = _one_sim_document(stack, envelope["data"]["sale_id"], doc_type)
    return sim_doc, _mirrored(stack, sim_doc)


# -- 1. every default workflow ------------------------------------------------------------------------
def test_paid_anonymous_cafe_sale_is_invoiced_with_one_fs(stack):
    envelope = ev.sale(stack.store_id)
    posts_before = stack.sim_count()

    sim_doc, row = _sale_docs(stack, envelope, "FS")

    assert sim_doc["amount_gross"] == "2.90" and sim_doc["status"] == "N"
    assert row.issued_here and row.status == "N"
    assert stack.sim_count() - posts_before == 1
    event_id = stack.event(envelope["id"]).id
    listed = json.loads(stack.cli("events", "list", "--integration", stack.integration_id, "--json").stdout)
    assert [(e["type"], e["status"], e["external_id"]) for e in listed if e["id"] == event_id] == [
        ("sale.completed", "done", envelope["id"])]
    shown = stack.show_event(event_id)
    assert shown["status"] == "done" and shown["last_error"] is None
    assert [(s["step"], s["status"]) for s in shown["steps"]] == [(s, "ok") for s in STEPS]
    assert [(d["type"], d["number"], d["amount_gross"]) for d in shown["documents"]] == [
        ("FS", sim_doc["number"], "2.90")]
    detail = stack.sim_get(f"documents/{sim_doc['id']}")
    assert detail["client"] is None  # anonymous: the client is omitted, never 999999990


def test_sale_with_a_nif_is_invoiced_with_one_fr_to_that_customer(stack):
    envelope = ev.sale(stack.store_id, customer={"name": "Maria Silva", "fiscal_id": "123456789"})

    sim_doc, _row = _sale_docs(stack, envelope, "FR")

    detail = stack.sim_get(f"documents/{sim_doc['id']}")
    assert detail["client"]["fiscal_id"] == "123456789"
    assert detail["debt"]["unpaid"] == "0.00"


def test_pending_sale_gets_an_ft_and_its_payment_an_rg(stack):
    envelope = ev.sale(stack.store_id, payment_status="pending")
    sale_id = envelope["data"]["sale_id"]
    invoice, _row = _sale_docs(stack, envelope, "FT")
    assert stack.sim_get(f"documents/{invoice['id']}")["debt"]["unpaid"] == "2.90"

    payment = ev.payment_confirmed(stack.store_id, sale_id, "2.90", method="card")
    _accepted(stack, payment)
    stack.wait_done(payment["id"])

    receipt = _one_sim_document(stack, f"{sale_id}#RG:{payment['data']['payment_id']}", "RG")
    assert receipt["amount_gross"] == "2.90"
    _mirrored(stack, receipt)
    assert stack.sim_get(f"documents/{invoice['id']}")["debt"]["unpaid"] == "0.00"
    assert stack.documents(vendus_id=int(invoice["id"]))[0].total_unpaid == Decimal("0.00")
    assert _one_sim_document(stack, sale_id, "FT")["id"] == invoice["id"]  # no second invoice


def test_payment_confirmed_before_its_sale_waits_for_the_ft(stack):
    sale = ev.sale(stack.store_id, payment_status="pending")
    sale_id = sale["data"]["sale_id"]
    payment = ev.payment_confirmed(stack.store_id, sale_id, "2.90")
    stack.ensure(worker=True, beat=True)  # beat's resumer puts the waiting payment back

    _accepted(stack, payment)  # the payment provider is faster than the POS
    waiting = wait_until(lambda: (e := stack.event(payment["id"])) is not None and e.retry_at is not None and e,
                         timeout=30, what="the payment to wait for its invoice",
                         describe=lambda: stack.explain(payment["id"]))
    # Parked, not retried in place: waiting for the invoice counts no attempt.
    assert (waiting.status, waiting.attempts) == ("waiting", 0), stack.explain(payment["id"])
    assert "no open FT" in waiting.last_error, stack.explain(payment["id"])
    _accepted(stack, sale)
    stack.wait_done(sale["id"])
    stack.wait_done(payment["id"], timeout=60)  # retried until the FT exists

    invoice = _one_sim_document(stack, sale_id, "FT")
    _one_sim_document(stack, f"{sale_id}#RG:{payment['data']['payment_id']}", "RG")
    assert stack.sim_get(f"documents/{invoice['id']}")["debt"]["unpaid"] == "0.00"


def test_partly_paid_sale_gets_an_ft_and_an_rg_for_the_paid_part(stack):
    envelope = ev.sale(stack.store_id, payment_status="partial", payments=[
        {"method": "cash", "amount": "1.00", "status": "paid"},
        {"method": "card", "amount": "1.90", "status": "pending"}])
    sale_id = envelope["data"]["sale_id"]

    invoice, _row = _sale_docs(stack, envelope, "FT")

    receipt = _one_sim_document(stack, f"{sale_id}#RG:sale", "RG")
    assert receipt["amount_gross"] == "1.00"
    _mirrored(stack, receipt)
    assert stack.sim_get(f"documents/{invoice['id']}")["debt"]["unpaid"] == "1.90"


def test_partial_refund_gets_one_nc_against_the_invoice(stack):
    envelope = ev.sale(stack.store_id)
    sale_id = envelope["data"]["sale_id"]
    invoice, _row = _sale_docs(stack, envelope, "FS")

    refund = ev.sale_refunded(stack.store_id, sale_id, [{"reference": "CAFE", "qty": "1"}], "Café frio")
    _accepted(stack, refund)
    stack.wait_done(refund["id"])

    credit = _one_sim_document(stack, f"{sale_id}#NC:{refund['data']['refund_id']}", "NC")
    assert abs(Decimal(credit["amount_gross"])) == Decimal("0.80")
    _mirrored(stack, credit)
    detail = stack.sim_get(f"documents/{credit['id']}")
    assert detail["observations"] == "Café frio"
    assert [i["reference_document"] for i in detail["items"]] == [invoice["number"]]


def test_invoice_created_push_of_an_existing_document_is_linked_not_reissued(stack):
    sale_id = ev.unique("POS")
    register = stack.sim_get("registers/", store_id=stack.store_id, type="api")[0]
    cash = next(m for m in stack.sim_get("documents/paymentmethods/") if m["type"] == "NU")
    created = stack.sim_post("documents/", {
        "type": "FS", "register_id": register["id"], "external_reference": sale_id,
        "items": [{"reference": "AGUA", "title": "Água 50cl", "qty": "1", "gross_price": "1.00", "tax_id": "RED"}],
        "payments": [{"id": cash["id"], "amount": "1.00"}]})
    posts_before = stack.sim_count()

    envelope = ev.document_event("invoice.created", stack.store_id, stack.sim_get(f"documents/{created['id']}"))
    _accepted(stack, envelope)
    event = stack.wait_done(envelope["id"])

    assert stack.sim_count() == posts_before  # nothing issued
    assert [d["id"] for d in stack.sim_documents(sale_id)] == [created["id"]]
    row = _mirrored(stack, stack.sim_documents(sale_id)[0])
    assert not row.issued_here
    with Session(stack.engine) as session:
        links = session.scalars(select(Link).where(
            Link.integration_id == stack.integration_id, Link.from_kind == "sale",
            Link.from_key == f"{stack.store_id}:{sale_id}")).all()  # sale ids are unique per store only
    assert [(link.relation, link.to_key) for link in links] == [("invoiced_by", str(row.id))]
    shown = stack.show_event(event.id)
    assert [d["vendus_id"] for d in shown["documents"]] == [created["id"]]


# -- 2. duplicates -----------------------------------------------------------------------------------
def test_duplicate_push_is_one_event_and_one_document(stack):
    envelope = ev.sale(stack.store_id)
    posts_before, events_before = stack.sim_count(), stack.events_count()

    first = stack.push(envelope)
    second = stack.push(envelope)
    assert (first.status_code, second.status_code) == (202, 200), (first.text, second.text)
    assert second.json()["status"] == "duplicate"
    assert second.json()["event_id"] == first.json()["event_id"]
    stack.wait_done(envelope["id"])
    late = stack.push(envelope)  # again, after it was processed
    assert late.status_code == 200 and late.json()["event_id"] == first.json()["event_id"]

    assert stack.events_count() - events_before == 1
    _one_sim_document(stack, envelope["data"]["sale_id"], "FS")
    assert stack.sim_count() - posts_before == 1


def test_concurrent_duplicate_pushes_are_accepted_once(stack):
    envelope = ev.sale(stack.store_id)
    events_before = stack.events_count()

    with ThreadPoolExecutor(max_workers=6) as pool:  # one session per thread: Session is not thread-safe
        replies = list(pool.map(lambda _: send_event(stack.receiver_url, stack.integration_id, stack.secret,
                                                     envelope), range(6)))

    assert sorted(r.status_code for r in replies) == [200] * 5 + [202], [r.text for r in replies]
    assert len({r.json()["event_id"] for r in replies}) == 1
    stack.wait_done(envelope["id"])
    assert stack.events_count() - events_before == 1
    _one_sim_document(stack, envelope["data"]["sale_id"], "FS")


def test_same_sale_resent_under_a_new_event_id_issues_nothing_more(stack):
    envelope = ev.sale(stack.store_id)
    _sale_docs(stack, envelope, "FS")
    posts_before = stack.sim_count()

    again = ev.sale(stack.store_id, sale_id=envelope["data"]["sale_id"])
    _accepted(stack, again)
    stack.wait_done(again["id"])

    _one_sim_document(stack, envelope["data"]["sale_id"], "FS")
    assert stack.sim_count() == posts_before


# -- 4. fiscal rejection before the call -------------------------------------------------------------
def test_invalid_nif_is_rejected_with_a_reason_and_never_sent(stack):
    envelope = ev.sale(stack.store_id, customer={"name": "Maria Silva", "fiscal_id": "123456780"})
    posts_before = stack.sim_count()

    _accepted(stack, envelope)
    event = stack.wait_finished(envelope["id"])

    assert event.status == "rejected", stack.explain(envelope["id"])
    assert "NIF" in (event.last_error or ""), event.last_error
    assert "123456780" not in event.last_error  # reasons never quote the NIF itself
    assert event.finished_at is not None
    assert stack.sim_count() == posts_before
    assert stack.sim_documents(envelope["data"]["sale_id"]) == []
    assert stack.issuances(event.id) == []


# -- 5. the response to a committed POST is lost -----------------------------------------------------
def test_commit_then_dropped_response_still_gives_exactly_one_document(stack):
    envelope = ev.sale(stack.store_id)
    sale_id = envelope["data"]["sale_id"]
    drops_before = stack.sim_stats()["faults"].get("commit_then_drop", 0)
    posts_before = stack.sim_count()
    stack.set_faults({"rules": [{"methods": ["POST"], "paths": ["documents"], "commit_then_drop_rate": 1.0,
                                 "max_hits": 1}]})
    try:
        _accepted(stack, envelope)
        event = stack.wait_done(envelope["id"], timeout=60)
    finally:
        stack.clear_faults()

    assert stack.sim_stats()["faults"].get("commit_then_drop", 0) - drops_before == 1
    sim_doc = _one_sim_document(stack, sale_id, "FS")
    _mirrored(stack, sim_doc)
    assert stack.sim_count() - posts_before == 1  # the retry looked the document up: no second POST
    [issuance] = stack.issuances(event.id)
    assert (issuance.state, issuance.vendus_id) == ("issued", sim_doc["id"])
    shown = stack.show_event(event.id)
    assert [s["status"] for s in shown["steps"] if s["step"] == "actions"] == ["failed", "ok"]
